/* job_events.c — the subscription and the watches; see job_events.h. */
#include "web/job_events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"

/* The subscriber has no command in flight for long (one SUBSCRIBE), so
 * its timeout only bounds connecting and that answer. */
#define SUB_TIMEOUT_MS 5000

static size_t
bucket_of(const char *id) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) h = (h ^ *p) * 16777619u;
    return h & (JOB_EVENTS_BUCKETS - 1);
}

void
job_events_watch(struct job_events *h, struct job_watch *w, const char *id, job_watch_cb cb,
                 void *arg) {
    snprintf(w->id, sizeof w->id, "%s", id);
    w->cb = cb;
    w->arg = arg;
    struct job_watch **head = &h->buckets[bucket_of(w->id)];
    w->prev = NULL;
    w->next = *head;
    if (*head) (*head)->prev = w;
    *head = w;
    w->linked = true;
    h->nwatches++;
}

void
job_events_unwatch(struct job_events *h, struct job_watch *w) {
    if (!w->linked) return;
    if (w->prev) w->prev->next = w->next;
    else h->buckets[bucket_of(w->id)] = w->next;
    if (w->next) w->next->prev = w->prev;
    w->prev = w->next = NULL;
    w->linked = false;
    h->nwatches--;
}

bool
job_events_live(const struct job_events *h) {
    for (int i = 0; i < h->nsubs; i++)
        if (!h->subs[i].subscribed) return false;
    return true;
}

void
job_events_dispatch(struct job_events *h, const char *id, const char *state, const char *event_id) {
    /* next is saved before each call: a callback may unwatch (and free)
     * its own watch, and a watch it adds goes to the head, never after. */
    for (struct job_watch *w = h->buckets[bucket_of(id)], *next; w; w = next) {
        next = w->next;
        if (!strcmp(w->id, id)) w->cb(w, state, event_id, w->arg);
    }
}

/* resync tells every watch that events may have been missed. */
static void
resync(struct job_events *h) {
    if (h->nwatches)
        log_info("msg=\"job events resubscribed, checking waiters\" n=%zu", h->nwatches);
    for (size_t i = 0; i < JOB_EVENTS_BUCKETS && !h->closing; i++)
        for (struct job_watch *w = h->buckets[i], *next; w; w = next) {
            next = w->next;
            w->cb(w, NULL, NULL, w->arg);
        }
}

/* on_message parses "<id> <state> <event id>". */
static void
on_message(redis_uv_t *r, const char *channel, const char *payload, size_t len, void *arg) {
    struct job_events *h = ((struct job_events_sub *)arg)->h;
    (void)r;
    (void)channel;
    char msg[256], *state, *eid;
    if (len >= sizeof msg) return;
    memcpy(msg, payload, len);
    msg[len] = '\0';
    if (!(state = strchr(msg, ' '))) return;
    *state++ = '\0';
    if ((eid = strchr(state, ' '))) *eid++ = '\0';
    job_events_dispatch(h, msg, state, eid);
}

static void
on_subscribed(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    struct job_events_sub *sub = arg;
    struct job_events *h = sub->h;
    (void)r;
    if (h->closing) return;
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        log_warn("msg=\"job events subscribe failed\" error=%s",
                 log_q(reply ? reply->str : errstr));
        return; /* the connection is dropped or retried; on_state subscribes again */
    }
    sub->subscribed = true;
    bool again = sub->ever_subscribed;
    sub->ever_subscribed = true;
    /* Every watch is told, whatever its shard: a resubscription is rare. */
    if (again) resync(h);
}

static void
on_state(redis_uv_t *r, bool connected, void *arg) {
    struct job_events_sub *sub = arg;
    struct job_events *h = sub->h;
    sub->subscribed = false;
    if (!connected || h->closing) return;
    const char *argv[] = {"SUBSCRIBE", h->channel.s};
    size_t lens[] = {9, strlen(h->channel.s)};
    if (redis_uv_command(r, on_subscribed, sub, 2, argv, lens) < 0)
        log_warn("msg=\"job events subscribe not sent\"");
}

int
job_events_open(struct job_events *h, uv_loop_t *loop, const struct config *cfg,
                const struct keys *keys, char *err, size_t errlen) {
    memset(h, 0, sizeof *h);
    keys_events_channel(keys, &h->channel);
    h->nsubs = cfg->redis_shards > 0 ? cfg->redis_shards : 1;
    h->subs = xcalloc((size_t)h->nsubs, sizeof *h->subs);
    for (int i = 0; i < h->nsubs; i++) {
        struct job_events_sub *sub = &h->subs[i];
        char name[32];
        snprintf(name, sizeof name, i ? "redis-events-%d" : "redis-events", i);
        sub->h = h;
        sub->conn = redis_uv_new(loop, cfg->redis_urls ? cfg->redis_urls[i] : cfg->redis_url,
                                 &cfg->redis_tls, name, SUB_TIMEOUT_MS, err, errlen);
        if (!sub->conn) {
            for (int j = 0; j < i; j++) redis_uv_close(h->subs[j].conn, NULL, NULL);
            free(h->subs);
            h->subs = NULL;
            return -1;
        }
        redis_uv_on_message(sub->conn, on_message, sub);
        redis_uv_on_state(sub->conn, on_state, sub);
    }
    return 0;
}

static void
on_closed(void *arg) {
    struct job_events *h = arg;
    if (--h->closing_left > 0) return;
    free(h->subs);
    h->subs = NULL;
    h->nsubs = 0;
    if (h->closed_cb) h->closed_cb(h->closed_arg);
}

void
job_events_close(struct job_events *h, job_events_closed_cb cb, void *arg) {
    h->closing = true;
    h->closed_cb = cb;
    h->closed_arg = arg;
    h->closing_left = h->nsubs;
    int n = h->nsubs;
    for (int i = 0; i < n; i++) {
        h->subs[i].subscribed = false;
        redis_uv_close(h->subs[i].conn, on_closed, h);
    }
}
