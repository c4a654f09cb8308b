/* runner_shard.c — one Redis shard as a worker process reads it: its
 * connections and consumer group, outages and the rescue embargo, rescue
 * scans, retry promotion and lease renewals. See runner_int.h and
 * runner.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "worker/runner_int.h"

#define PROMOTE_BATCH 200
#define RENEW_BATCH 1000

/* --- connections and the consumer group --- */

static void
on_group(int status, long long value, const char *errstr, void *arg) {
    struct rshard *s = arg;
    struct runner *r = s->r;
    (void)value;
    s->ensuring_group = false;
    if (r->closing) return;
    if (status < 0) {
        log_warn("msg=\"cannot create consumer group\" shard=%d error=%s", s->index, log_q(errstr));
        uv_timer_start(&r->take_timer, runner_on_take_timer, 1000, 0);
        return;
    }
    s->group_ready = true;
    runner_take_more(r);
}

bool
rshard_usable(struct rshard *s) {
    if (!redis_uv_connected(s->redis) || !redis_uv_connected(s->redis_block)) return false;
    if (!s->group_ready && !s->ensuring_group && queue_ensure_group(&s->queue, on_group, s) == 0)
        s->ensuring_group = true;
    return s->group_ready;
}

/* --- outages: the rescue embargo --- */

/* A Redis outage stops every worker's renewals at once, so when it ends
 * every lease looks lapsed. A worker that reconnects renews its own
 * leases at once and rescues nothing for JOB_RESCUE_AFTER plus the
 * longest reconnect backoff (redis_uv: 5 s): by then every live worker
 * has reconnected and renewed, and only the dead ones' jobs are taken. */
#define RECONNECT_BACKOFF_MAX_MS 5000

static uint64_t
embargo_ms(const struct runner *r) {
    return (uint64_t)r->cfg->job_rescue_after_ms + RECONNECT_BACKOFF_MAX_MS;
}

/* A process that connects for the first time has seen no outage, but
 * Redis may have just restarted, its siblings still reconnecting: it
 * keeps the same embargo, counted from Redis's start (INFO's
 * uptime_in_seconds, less one: Redis takes it as the difference of two
 * whole-second clocks, which can be up to a second more than the time
 * since its start; so the pause is never shorter). */
static void
on_uptime(redis_uv_t *redis, redisReply *reply, const char *errstr, void *arg) {
    (void)redis;
    struct rshard *s = arg;
    struct runner *r = s->r;
    if (r->closing) return;
    const char *at = reply && reply->type == REDIS_REPLY_STRING
                         ? strstr(reply->str, "uptime_in_seconds:")
                         : NULL;
    uint64_t now = uv_now(r->loop);
    if (!at) {
        /* No answer, or a Redis that hides INFO: pause as after an outage. */
        log_warn("msg=\"cannot read redis uptime, pausing rescues\" shard=%d error=%s", s->index,
                 log_q(errstr ? errstr : "no uptime_in_seconds"));
        if (s->rescue_not_before < now + embargo_ms(r)) s->rescue_not_before = now + embargo_ms(r);
    } else {
        uint64_t up_s = strtoull(at + strlen("uptime_in_seconds:"), NULL, 10);
        uint64_t up_ms = up_s > 0 ? (up_s - 1) * 1000 : 0;
        if (up_ms < embargo_ms(r)) {
            uint64_t until = now + embargo_ms(r) - up_ms;
            if (s->rescue_not_before < until) s->rescue_not_before = until;
            log_info("msg=\"redis restarted recently, pausing rescues\" shard=%d uptime_ms=%llu "
                     "pause_ms=%llu",
                     s->index, (unsigned long long)up_ms, (unsigned long long)(until - now));
        }
    }
    s->uptime_known = true;
    runner_take_more(r);
}

static void
read_uptime(struct rshard *s) {
    const char *argv[] = {"INFO", "server"};
    size_t argvlen[] = {4, 6};
    if (redis_uv_command(s->redis, on_uptime, s, 2, argv, argvlen) < 0)
        log_debug("msg=\"uptime not asked\" error=\"redis not connected\"");
}

/* Each shard has its own outages: its rescues pause on their own. */
void
rshard_on_state(redis_uv_t *redis, bool connected, void *arg) {
    struct rshard *s = arg;
    struct runner *r = s->r;
    if (redis == s->redis) {
        if (!connected) {
            s->redis_lost = true;
            s->uptime_known = false;
        } else {
            if (s->redis_lost) {
                s->redis_lost = false;
                s->rescue_not_before = uv_now(r->loop) + embargo_ms(r);
            }
            read_uptime(s);
            /* Register (or renew, after an outage) at once: the registry
             * shows this process from the moment it can take jobs, not
             * one HEARTBEAT_INTERVAL later. */
            if (s->index == 0 && !r->drained && !r->closing) runner_on_heartbeat(&r->heartbeat);
        }
    }
    if (connected) runner_take_more(r);
}

/* --- rescue and retries: every worker scans, Redis keeps it atomic --- */

/* running tells whether a live task of this process holds delivery e of
 * shard s. */
static bool
running(const struct rshard *s, const struct queue_entry *e) {
    for (const struct task *t = s->r->tasks; t; t = t->next)
        if (t->queue == &s->queue && !strcmp(t->entry.stream_id, e->stream_id)) return true;
    return false;
}

bool
rshard_rescue_allowed(const struct rshard *s) {
    const struct runner *r = s->r;
    return !r->closing && !r->draining && s->group_ready && s->uptime_known &&
           uv_now(r->loop) >= s->rescue_not_before;
}

static void
on_rescued(int status, const struct queue_entry *entries, size_t n, const char *errstr, void *arg) {
    struct rshard *s = arg;
    struct runner *r = s->r;
    r->rescuing = false;
    if (r->closing) return;
    if (status < 0) {
        log_debug("msg=\"rescue scan failed\" shard=%d error=%s", s->index, log_q(errstr));
        s->rescue_due = false; /* the next tick tries again; take meanwhile */
        runner_check_drained(r);
        runner_take_more(r);
        return;
    }
    /* The scan is over when it has gone round the pending list without
     * filling the room it was given; otherwise it goes on as soon as a
     * slot is free, before any new delivery. */
    if (n < (size_t)s->rescue_asked && !strcmp(s->rescue_cursor, "0-0")) s->rescue_due = false;
    for (size_t i = 0; i < n; i++) {
        /* Our own task whose renewals failed for a while (Redis was down):
         * the claim renewed its lease; it must not run twice here. */
        if (running(s, &entries[i])) continue;
        log_warn("msg=\"rescuing job from a lost worker\" job=%s entry=%s", entries[i].job_id,
                 entries[i].stream_id);
        r->rescued++;
        runner_begin(s, &entries[i]);
    }
    runner_check_drained(r);
    runner_take_more(r);
}

/* rshard_rescue scans for up to room deliveries whose lease lapsed. It shares
 * the slots with taking, one at a time (runner_take_more), so together they
 * never hold more than WORKER_CONCURRENCY. */
void
rshard_rescue(struct rshard *s, int room) {
    struct runner *r = s->r;
    s->rescue_asked = room;
    if (queue_rescue(&s->queue, r->consumer, r->rescue_idle_ms, room, s->rescue_cursor, on_rescued,
                     s) == 0)
        r->rescuing = true;
    else s->rescue_due = false;
}

/* Every tick a scan falls due on each shard; it runs at the next free
 * slot, ahead of new deliveries (a take in flight finishes first: at
 * most TAKE_BLOCK_MS). */
void
rshard_on_rescue_timer(uv_timer_t *timer) {
    struct runner *r = timer->data;
    bool due = false;
    for (int i = 0; i < r->nshards; i++) {
        struct rshard *s = &r->shards[i];
        if (!rshard_rescue_allowed(s)) continue;
        s->rescue_due = due = true;
    }
    if (due) runner_take_more(r);
}

static void
on_promoted(int status, long long moved, const char *errstr, void *arg) {
    struct rshard *s = arg;
    s->promoting = false;
    if (status < 0)
        log_debug("msg=\"retry promotion failed\" shard=%d error=%s", s->index, log_q(errstr));
    else if (moved > 0) log_debug("msg=\"retries due\" shard=%d moved=%lld", s->index, moved);
}

void
rshard_on_promote_timer(uv_timer_t *timer) {
    struct runner *r = timer->data;
    for (int i = 0; i < r->nshards && !r->closing; i++) {
        struct rshard *s = &r->shards[i];
        if (!s->promoting && queue_promote(&s->queue, PROMOTE_BATCH, on_promoted, s) == 0)
            s->promoting = true;
    }
}

/* --- lease renewals (at each heartbeat) --- */

struct renewal {
    struct rshard *s;
    uint64_t sent_at;
    size_t n;
    struct queue_entry *entries;
};

static void
on_renewed(int status, const char *const *lost, size_t nlost, const char *errstr, void *arg) {
    struct renewal *rn = arg;
    struct rshard *s = rn->s;
    struct runner *r = s->r;
    s->renewing = false;
    if (status < 0) {
        log_warn("msg=\"cannot renew leases\" shard=%d jobs=%zu error=%s", s->index, rn->n,
                 log_q(errstr));
    } else if (!r->closing) {
        for (struct task *t = r->tasks, *next; t; t = next) {
            next = t->next;
            if (t->queue != &s->queue) continue;
            bool was_sent = false, is_lost = false;
            for (size_t i = 0; i < rn->n && !was_sent; i++)
                was_sent = !strcmp(rn->entries[i].stream_id, t->entry.stream_id);
            if (!was_sent) continue;
            for (size_t i = 0; i < nlost && !is_lost; i++)
                is_lost = !strcmp(lost[i], t->entry.stream_id);
            if (is_lost) task_lease_lost(t);
            else task_lease_renewed(t, rn->sent_at);
        }
    }
    free(rn->entries);
    free(rn);
}

static void
renew_shard(struct rshard *s) {
    struct runner *r = s->r;
    /* One renewal at a time per shard: while Redis does not answer,
     * heartbeats would pile up renewals that all fail together. */
    if (s->renewing) return;
    size_t n = 0;
    for (struct task *t = r->tasks; t; t = t->next) n += t->queue == &s->queue;
    if (n == 0) return;
    struct renewal *rn = xcalloc(1, sizeof *rn);
    rn->s = s;
    rn->sent_at = uv_now(r->loop);
    rn->entries = xcalloc(n, sizeof *rn->entries);
    for (struct task *t = r->tasks; t && rn->n < RENEW_BATCH; t = t->next)
        if (t->queue == &s->queue) rn->entries[rn->n++] = t->entry;
    if (queue_renew(&s->queue, r->consumer, rn->entries, rn->n, on_renewed, rn) < 0) {
        free(rn->entries);
        free(rn);
        return;
    }
    s->renewing = true;
}

void
rshard_renew_all(struct runner *r) {
    for (int i = 0; i < r->nshards; i++) renew_shard(&r->shards[i]);
}

int
rshard_open_all(struct runner *r, char *err, size_t errlen) {
    const struct config *cfg = r->cfg;
    r->nshards = cfg->redis_shards > 0 ? cfg->redis_shards : 1;
    r->shards = xcalloc((size_t)r->nshards, sizeof *r->shards);
    for (int i = 0; i < r->nshards; i++) {
        struct rshard *s = &r->shards[i];
        const char *url = cfg->redis_urls ? cfg->redis_urls[i] : cfg->redis_url;
        char name[32], name_block[32];
        snprintf(name, sizeof name, i ? "redis-%d" : "redis", i);
        snprintf(name_block, sizeof name_block, i ? "redis-take-%d" : "redis-take", i);
        s->r = r;
        s->index = i;
        snprintf(s->rescue_cursor, sizeof s->rescue_cursor, "0-0");
        if (keys_init_shard(&s->keys, cfg->key_prefix, i) < 0) {
            snprintf(err, errlen, "invalid REDIS_KEY_PREFIX");
            goto fail;
        }
        s->redis =
            redis_uv_new(r->loop, url, &cfg->redis_tls, name, REDIS_CMD_TIMEOUT_MS, err, errlen);
        if (!s->redis) goto fail;
        s->redis_block = redis_uv_new(r->loop, url, &cfg->redis_tls, name_block,
                                      TAKE_BLOCK_MS + REDIS_CMD_TIMEOUT_MS, err, errlen);
        if (!s->redis_block) goto fail;
        queue_init(&s->queue, s->redis, &s->keys, cfg->result_ttl_s);
    }
    return 0;
fail:
    for (int i = 0; i < r->nshards; i++) {
        if (r->shards[i].redis) redis_uv_close(r->shards[i].redis, NULL, NULL);
        if (r->shards[i].redis_block) redis_uv_close(r->shards[i].redis_block, NULL, NULL);
    }
    free(r->shards);
    return -1;
}
