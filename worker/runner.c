#include "worker/runner.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/pg_uv.h"
#include "common/queue.h"
#include "common/redis_uv.h"
#include "common/stats.h"
#include "common/xalloc.h"
#include "worker/cpu_pool.h"
#include "worker/curl_uv.h"
#include "worker/membudget.h"
#include "worker/polite.h"
#include "worker/runner_int.h"
#include "worker/store_batch.h"
#include "worker/task.h"
#include "worker/upkeep.h"

#define PG_QUERY_TIMEOUT_MS 15000
/* Rows of TASK_BIG_ROW and more (a page of a million words: 30 MB of
 * JSON) take Postgres seconds to check and store, tens of seconds on a
 * busy host (a minute and more was seen on this 2-core machine under
 * load): they have a connection of their own, with ten minutes. */
#define PG_BIG_QUERY_TIMEOUT_MS 600000
#define PROMOTE_INTERVAL_MS 500
/* With several shards, a take that finds nothing on one goes on to the
 * next at once; only after a whole round found nothing does one block,
 * for TAKE_BLOCK_MS shared among the shards (at least this long). */
#define TAKE_BLOCK_MIN_MS 100

static void maybe_free(struct runner *r);
static void on_heartbeat_reply(redis_uv_t *redis, redisReply *reply, const char *errstr, void *arg);

/* --- task bookkeeping --- */

static void
on_task_end(struct task *t, enum task_outcome outcome, void *arg) {
    struct runner *r = arg;
    assert(t->prev || r->tasks == t); /* only linked tasks end */
    if (t->prev) t->prev->next = t->next;
    else r->tasks = t->next;
    if (t->next) t->next->prev = t->prev;
    t->prev = t->next = NULL;
    switch (outcome) {
    case TASK_OUTCOME_FINISHED:
        r->processed++;
        /* Fetch time and page size of what was counted, for /metrics. */
        if (t->have_row && t->row.value[RESULTS_BYTES] && t->row.value[RESULTS_FETCH_MS]) {
            stats_observe(t->queue->redis, &t->queue->keys, "fetch", stats_ms_bounds, STATS_MS_NB,
                          strtoll(t->row.value[RESULTS_FETCH_MS], NULL, 10));
            stats_observe(t->queue->redis, &t->queue->keys, "bytes", stats_bytes_bounds,
                          STATS_BYTES_NB, strtoll(t->row.value[RESULTS_BYTES], NULL, 10));
        }
        break;
    case TASK_OUTCOME_FAILED:
        r->failed++;
        break;
    case TASK_OUTCOME_RETRYING:
        r->retried++;
        break;
    case TASK_OUTCOME_RELEASED:
    case TASK_OUTCOME_SKIPPED:
    case TASK_OUTCOME_LOST:
    case TASK_OUTCOME_NOT_STARTED:
    case TASK_OUTCOME_ABANDONED:
    case TASK_OUTCOME_DEFERRED:
        break; /* the job goes on elsewhere, later, or has nothing left to do */
    }
}

/* check_drained calls drained_cb once nothing is in flight: no task, and
 * no take or rescue whose deliveries could still arrive (they would sit
 * unacknowledged until a rescue if the connection closed under them); or
 * at once after stop_now, which has given up on all that. */
void
runner_check_drained(struct runner *r) {
    if (!r->draining || r->drained) return;
    if (!r->stopping_now && (r->inflight > 0 || r->taking || r->rescuing)) return;
    r->drained = true;
    uv_timer_stop(&r->grace);
    /* Nothing left to renew: leave the workers registry (best effort; an
     * entry left behind goes stale and is pruned by the stats read). */
    uv_timer_stop(&r->heartbeat);
    struct keybuf kw;
    const char *argv[] = {"HDEL", keys_workers(&r->shards[0].keys, &kw), r->consumer};
    size_t argvlen[] = {4, strlen(argv[1]), strlen(r->consumer)};
    if (redis_uv_command(r->shards[0].redis, on_heartbeat_reply, r, 3, argv, argvlen) < 0)
        log_debug("msg=\"registry entry not removed\" error=\"redis not connected\"");
    if (r->drained_cb) r->drained_cb(r, r->drained_arg);
}

static void
on_task_freed(void *arg) {
    struct runner *r = arg;
    r->inflight--;
    if (r->closing) {
        maybe_free(r);
        return;
    }
    runner_check_drained(r);
    runner_take_more(r);
}

void
runner_begin(struct rshard *s, const struct queue_entry *e) {
    struct runner *r = s->r;
    struct task *t;
    int rc = task_start_on(&r->env, &s->queue, e, &t);
    if (rc < 0) {
        /* No task was made (the command connection is down while the
         * blocking one delivered): the delivery stays pending under this
         * consumer and a rescue runs it after JOB_RESCUE_AFTER. */
        log_warn("msg=\"cannot start job\" job=%s error=%s", e->job_id, log_q(uv_strerror(rc)));
        return;
    }
    r->inflight++;
    t->next = r->tasks;
    if (r->tasks) r->tasks->prev = t;
    r->tasks = t;
    /* A delivery that arrives while draining (a take or rescue sent
     * before the drain) is handed straight back, so another worker runs
     * it now rather than after this one's lease lapses. */
    if (r->draining) task_stop(t, true);
}

/* --- taking new deliveries --- */

void
runner_on_take_timer(uv_timer_t *timer) {
    runner_take_more(timer->data);
}

static void
on_take(int status, const struct queue_entry *entries, size_t n, const char *errstr, void *arg) {
    struct rshard *s = arg;
    struct runner *r = s->r;
    r->taking = false;
    if (r->closing) return; /* nothing is delivered on a closing connection */
    if (status < 0) {
        if (errstr && strncmp(errstr, "NOGROUP", 7) == 0) s->group_ready = false;
        else log_warn("msg=\"cannot take jobs\" shard=%d error=%s", s->index, log_q(errstr));
        uv_timer_start(&r->take_timer, runner_on_take_timer, 500, 0);
        runner_check_drained(r);
        return;
    }
    r->idle_takes = n > 0 ? 0 : r->idle_takes + 1;
    r->take_shallow = n > 0 && (int)n < r->take_room;
    r->took_at = uv_now(r->loop);
    for (size_t i = 0; i < n; i++) runner_begin(s, &entries[i]);
    runner_take_more(r);
    runner_check_drained(r);
}

/* take_block_ms: one shard blocks as before; several are read in turn
 * without waiting, and only a whole round that found nothing blocks, on
 * one shard for its share of TAKE_BLOCK_MS, so that a deep shard never
 * waits behind an empty one and an idle process still sleeps. */
static int
take_block_ms(const struct runner *r) {
    if (r->nshards == 1) return TAKE_BLOCK_MS;
    if (r->idle_takes < r->nshards) return 0;
    int ms = TAKE_BLOCK_MS / r->nshards;
    return ms < TAKE_BLOCK_MIN_MS ? TAKE_BLOCK_MIN_MS : ms;
}

void
runner_take_more(struct runner *r) {
    if (r->closing || r->draining || r->taking) return;
    int room = r->cfg->worker_concurrency - r->inflight;
    /* Jobs are admitted against the memory budget too: while big pages
     * hold it, fewer jobs start (membudget.h). */
    int mem_room = membudget_room(&r->mem);
    if (mem_room < room) room = mem_room;
    if (room <= 0 || r->rescuing) return;
    uint64_t since = uv_now(r->loop) - r->took_at;
    if (r->take_shallow && r->inflight > 0 && since < TAKE_PACE_MS) {
        if (!uv_is_active((uv_handle_t *)&r->take_timer))
            uv_timer_start(&r->take_timer, runner_on_take_timer, TAKE_PACE_MS - since, 0);
        return;
    }
    /* Jobs of a lost worker have waited JOB_RESCUE_AFTER already: they
     * get the free slots before new deliveries, however long the queue. */
    for (int i = 0; i < r->nshards; i++) {
        struct rshard *s = &r->shards[i];
        if (rshard_usable(s) && rshard_rescue_allowed(s) && s->rescue_due) {
            rshard_rescue(s, room);
            return;
        }
    }
    /* Shards take turns: each take reads the next usable one. */
    for (int k = 0; k < r->nshards; k++) {
        struct rshard *s = &r->shards[(r->next_take + k) % r->nshards];
        if (!rshard_usable(s)) continue;
        r->next_take = (s->index + 1) % r->nshards;
        if (queue_take(&s->queue, s->redis_block, r->consumer, room, take_block_ms(r), on_take,
                       s) == 0) {
            r->taking = true;
            r->take_room = room;
            return;
        }
    }
    /* No shard can be read now: a connection coming up calls again. */
    uv_timer_start(&r->take_timer, runner_on_take_timer, 500, 0);
}

/* on_memory_back: a job gave its memory back; maybe room for more. */
static void
on_memory_back(void *arg) {
    struct runner *r = arg;
    if (!r->closing && !r->taking) runner_take_more(r);
}

static void
on_heartbeat_reply(redis_uv_t *redis, redisReply *reply, const char *errstr, void *arg) {
    (void)redis;
    (void)arg;
    if (!reply) log_debug("msg=\"heartbeat not sent\" error=%s", log_q(errstr));
}

void
runner_on_heartbeat(uv_timer_t *timer) {
    struct runner *r = timer->data;
    rshard_renew_all(r);
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    json_t *hb =
        json_pack("{s:s, s:i, s:i, s:I, s:I, s:I, s:I, s:I}", "host", host, "pid", (int)getpid(),
                  "inflight", r->inflight, "processed", (json_int_t)r->processed, "failed",
                  (json_int_t)r->failed, "retried", (json_int_t)r->retried, "rescued",
                  (json_int_t)r->rescued, "at", (json_int_t)clock_now_ms());
    struct buf b;
    buf_init(&b);
    json_dump_append(hb, &b);
    json_decref(hb);
    struct keybuf kw;
    const char *argv[] = {"HSET", keys_workers(&r->shards[0].keys, &kw), r->consumer, b.data};
    size_t argvlen[] = {4, strlen(argv[1]), strlen(r->consumer), b.len};
    if (redis_uv_command(r->shards[0].redis, on_heartbeat_reply, r, 4, argv, argvlen) < 0)
        log_debug("msg=\"heartbeat not sent\" error=\"redis not connected\"");
    buf_free(&b);
}

/* --- construction --- */

runner_t *
runner_new(uv_loop_t *loop, const struct config *cfg, const struct stopwords *sw,
           const char *consumer, char *err, size_t errlen) {
    struct runner *r = xcalloc(1, sizeof *r);
    r->loop = loop;
    r->cfg = cfg;
    snprintf(r->consumer, sizeof r->consumer, "%s", consumer);
    if (rshard_open_all(r, err, errlen) < 0) {
        free(r);
        return NULL;
    }
    /* The result rows' connections (RUNNER_PG_CONNS, by job id): the
     * rows that queue behind a statement go together in the next. */
    r->npg = cfg->worker_concurrency < RUNNER_PG_CONNS ? cfg->worker_concurrency : RUNNER_PG_CONNS;
    for (int i = 0; i < r->npg; i++) {
        r->pg[i] = pg_uv_new(loop, cfg->database_url, "postgres", PG_QUERY_TIMEOUT_MS,
                             (size_t)cfg->worker_concurrency * 4 + 16);
        pg_uv_set_prepare(r->pg[i], cfg->database_prepare);
        r->batch[i] = store_batch_new(loop, r->pg[i]);
    }
    r->pg_big = pg_uv_new(loop, cfg->database_url, "postgres-big", PG_BIG_QUERY_TIMEOUT_MS,
                          (size_t)cfg->worker_concurrency * 4 + 16);
    pg_uv_set_prepare(r->pg_big, cfg->database_prepare);
    r->upkeep = upkeep_start(loop, r->pg_big, cfg->result_retention_days);
    /* Every slot's connection stays open for the next page of its host:
     * with curl's default cache, sized by the transfers running at the
     * moment, a third of the fetches of a drain opened a new connection
     * (the slots between fetches are parsing, counting or storing). */
    r->curl = curl_uv_new(loop, 2L * cfg->worker_concurrency);
    /* Pages are counted on threads of the process's own; without them (a
     * thread that cannot start), on the loop as before. */
    r->pool = cpu_pool_new(loop, 0);
    if (!r->pool) log_warn("msg=\"cannot start counting threads, counting on the loop\"");
    membudget_init(&r->mem,
                   (size_t)cfg->worker_memory_mb * 1024 * 1024 / (size_t)cfg->worker_processes,
                   on_memory_back, r);
    struct polite_shard *ps = xcalloc((size_t)r->nshards, sizeof *ps);
    for (int i = 0; i < r->nshards; i++)
        ps[i] = (struct polite_shard){
            .redis = r->shards[i].redis, .keys = &r->shards[i].keys, .queue = &r->shards[i].queue};
    r->polite = polite_new(loop, cfg, ps, r->nshards, r->curl, r->consumer);
    free(ps);

    /* The rescue scan runs every tenth of JOB_RESCUE_AFTER, and takes over
     * deliveries idle for the rest of it, so a job whose holder died is
     * taken within JOB_RESCUE_AFTER. A lease is safe to act on for one
     * heartbeat less than that. */
    r->rescue_interval_ms =
        cfg->job_rescue_after_ms / 10 > 250 ? cfg->job_rescue_after_ms / 10 : 250;
    r->rescue_idle_ms = cfg->job_rescue_after_ms - r->rescue_interval_ms;
    r->env = (struct task_env){.loop = loop,
                               .cfg = cfg,
                               .sw = sw,
                               .queue = &r->shards[0].queue,
                               .nshards = r->nshards,
                               .pgs = r->pg,
                               .npg = r->npg,
                               .pg_big = r->pg_big,
                               .curl = r->curl,
                               .pool = r->pool,
                               .polite = r->polite,
                               .mem = &r->mem,
                               .consumer = r->consumer,
                               .lease_safe_ms = (int)r->rescue_idle_ms - cfg->heartbeat_interval_ms,
                               .on_end = on_task_end,
                               .on_freed = on_task_freed,
                               .arg = r};
    for (int i = 0; i < r->nshards; i++) {
        redis_uv_on_state(r->shards[i].redis, rshard_on_state, &r->shards[i]);
        redis_uv_on_state(r->shards[i].redis_block, rshard_on_state, &r->shards[i]);
    }
    uv_timer_t *timers[] = {&r->take_timer, &r->heartbeat, &r->rescue_timer, &r->promote_timer,
                            &r->grace};
    for (size_t i = 0; i < sizeof timers / sizeof *timers; i++) {
        uv_timer_init(loop, timers[i]);
        timers[i]->data = r;
    }
    uv_timer_start(&r->heartbeat, runner_on_heartbeat, (uint64_t)cfg->heartbeat_interval_ms,
                   (uint64_t)cfg->heartbeat_interval_ms);
    uv_timer_start(&r->rescue_timer, rshard_on_rescue_timer, (uint64_t)r->rescue_interval_ms,
                   (uint64_t)r->rescue_interval_ms);
    uv_timer_start(&r->promote_timer, rshard_on_promote_timer, PROMOTE_INTERVAL_MS,
                   PROMOTE_INTERVAL_MS);
    return r;
}

int
runner_inflight(const runner_t *r) {
    return r->inflight;
}

/* --- drain and close --- */

/* stop_now abandons what is still in flight and reports the runner
 * drained without waiting for answers: runner_close then cancels the
 * steps still waiting on Redis or Postgres, and a take's deliveries not
 * yet read stay pending until a rescue. */
static void
stop_now(struct runner *r) {
    if (r->drained) return;
    r->stopping_now = true;
    for (struct task *t = r->tasks, *next; t; t = next) {
        next = t->next;
        task_stop(t, false);
    }
    runner_check_drained(r);
}

/* on_handback_over: handing back needs Redis, and when Redis (or
 * Postgres, for a store in flight) is down or hangs nothing would end the
 * drain. So RUNNER_HANDBACK_MS after handing back began, the jobs still
 * held are abandoned and rescued by lease, as after a kill -9: a worker
 * stops within its grace + RUNNER_HANDBACK_MS (and closing), before the
 * supervisor's kill at WORKER_GRACE + 5 s, whatever its servers do. */
static void
on_handback_over(uv_timer_t *timer) {
    struct runner *r = timer->data;
    log_warn("msg=\"jobs not handed back in time, abandoning them\" jobs=%d waited_ms=%d",
             r->inflight, RUNNER_HANDBACK_MS);
    stop_now(r);
}

static void
on_grace(uv_timer_t *timer) {
    struct runner *r = timer->data;
    r->handing_back = true;
    log_warn("msg=\"grace period over, handing jobs back\" jobs=%d", r->inflight);
    uv_timer_start(&r->grace, on_handback_over, RUNNER_HANDBACK_MS, 0);
    /* Hand unfinished jobs back to the queue so they run again at once;
     * the drained callback runs when the last task is gone. */
    for (struct task *t = r->tasks, *next; t; t = next) {
        next = t->next;
        task_stop(t, true);
    }
}

void
runner_drain(runner_t *r, int grace_ms, runner_cb drained_cb, void *arg) {
    if (r->draining) {
        /* A second request (a second signal): hand back now; when that is
         * already under way (and stuck, say on a Redis outage), stop now:
         * the jobs are rescued elsewhere. */
        if (!r->handing_back) {
            uv_timer_stop(&r->grace);
            on_grace(&r->grace);
            return;
        }
        log_warn("msg=\"stopping now, abandoning jobs\" jobs=%d", r->inflight);
        stop_now(r);
        return;
    }
    r->draining = true;
    r->drained_cb = drained_cb;
    r->drained_arg = arg;
    uv_timer_stop(&r->take_timer);
    uv_timer_stop(&r->rescue_timer);
    log_info("msg=\"draining\" inflight=%d grace_ms=%d", r->inflight, grace_ms);
    /* Armed even with nothing in flight: a take or rescue may still be
     * waiting on a Redis that does not answer. */
    uv_timer_start(&r->grace, on_grace, (uint64_t)grace_ms, 0);
    runner_check_drained(r);
}

/* maybe_free frees the runner once every part has closed and the last
 * task is gone (a task's free callback still touches the runner). */
static void
maybe_free(struct runner *r) {
    if (r->pending_closes > 0 || r->inflight > 0) return;
    runner_cb cb = r->close_cb;
    void *cb_arg = r->close_arg;
    free(r->shards);
    free(r);
    if (cb) cb(NULL, cb_arg);
}

static void
on_part_closed(void *arg) {
    struct runner *r = arg;
    r->pending_closes--;
    maybe_free(r);
}

static void
on_handle_closed(uv_handle_t *h) {
    on_part_closed(h->data);
}

static void
on_curl_closed(void *arg) {
    struct runner *r = arg;
    /* Postgres and Redis close after curl, so no transfer can call back
     * into a task whose connections are gone; pending commands fail and
     * end their tasks. */
    for (int i = 0; i < r->npg; i++) {
        store_batch_close(r->batch[i], on_part_closed, r); /* before its connection */
        pg_uv_close(r->pg[i], on_part_closed, r);
    }
    pg_uv_close(r->pg_big, on_part_closed, r);
    for (int i = 0; i < r->nshards; i++) {
        redis_uv_close(r->shards[i].redis, on_part_closed, r);
        redis_uv_close(r->shards[i].redis_block, on_part_closed, r);
    }
    on_part_closed(r);
}

void
runner_close(runner_t *r, runner_cb close_cb, void *arg) {
    r->closing = true;
    r->close_cb = close_cb;
    r->close_arg = arg;
    for (struct task *t = r->tasks, *next; t; t = next) {
        next = t->next;
        task_stop(t, false);
    }
    uv_timer_t *timers[] = {&r->take_timer, &r->heartbeat, &r->rescue_timer, &r->promote_timer,
                            &r->grace};
    r->pending_closes = (int)(sizeof timers / sizeof *timers) + 1 /* curl */ +
                        2 * r->nshards /* redis */ + 2 * r->npg /* connections and batches */ +
                        1 /* big rows' pg */ + 1 /* polite */ + 1 /* upkeep */ + (r->pool ? 1 : 0);
    for (size_t i = 0; i < sizeof timers / sizeof *timers; i++) {
        uv_timer_stop(timers[i]);
        uv_close((uv_handle_t *)timers[i], on_handle_closed);
    }
    /* Before curl: polite cancels its robots.txt fetches; it is gone once
     * its last check (waiting on Redis, perhaps) has answered. */
    polite_close(r->polite, on_part_closed, r);
    upkeep_close(r->upkeep, on_part_closed, r); /* its query fails when pg_big closes */
    /* The pages being counted come back first (their tasks then end). */
    if (r->pool) cpu_pool_close(r->pool, on_part_closed, r);
    curl_uv_close(r->curl, on_curl_closed, r);
}
