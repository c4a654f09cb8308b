/* app.c — open and close the per-process connections handlers use. */
#include "web/app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/keys.h"
#include "common/shards.h"
#include "common/xalloc.h"

int
app_open(struct app *a, uv_loop_t *loop, const struct config *cfg, char *err, size_t errlen) {
    memset(a, 0, sizeof *a);
    a->loop = loop;
    a->cfg = cfg;
    struct keys keys;
    if (keys_init(&keys, cfg->key_prefix) < 0) {
        snprintf(err, errlen, "key prefix is too long");
        return -1;
    }
    a->nshards = cfg->redis_shards > 0 ? cfg->redis_shards : 1;
    a->redis_of = xcalloc((size_t)a->nshards, sizeof *a->redis_of);
    a->queues = xcalloc((size_t)a->nshards, sizeof *a->queues);
    for (int i = 0; i < a->nshards; i++) {
        struct keys ks;
        const char *url = cfg->redis_urls ? cfg->redis_urls[i] : cfg->redis_url;
        char name[32];
        snprintf(name, sizeof name, i ? "redis-web-%d" : "redis-web", i);
        a->redis_of[i] =
            redis_uv_new(loop, url, &cfg->redis_tls, name, APP_REDIS_TIMEOUT_MS, err, errlen);
        if (!a->redis_of[i] || keys_init_shard(&ks, cfg->key_prefix, i) < 0) goto fail;
        queue_init(&a->queues[i], a->redis_of[i], &ks, cfg->result_ttl_s);
    }
    a->redis = a->redis_of[0];
    if (job_events_open(&a->events, loop, cfg, &keys, err, errlen) < 0) goto fail;
    longpoll_init(&a->longpoll, loop, &a->events);
    sse_init(&a->sse, loop, &a->events);
    a->pg = pg_uv_new(loop, cfg->database_url, "pg-web", APP_PG_TIMEOUT_MS, APP_PG_MAX_QUEUE);
    pg_uv_set_prepare(a->pg, cfg->database_prepare);
    if (cfg->database_read_url) {
        a->pg_read = pg_uv_new(loop, cfg->database_read_url, "pg-web-read", APP_PG_TIMEOUT_MS,
                               APP_PG_MAX_QUEUE);
        pg_uv_set_prepare(a->pg_read, cfg->database_prepare);
    }
    stream_pool_init(&a->streams, loop, cfg->database_url, cfg->database_read_url);
    http_metrics_init(&a->http_metrics, loop, a->redis, &keys);
    ratelimit_init(&a->submit_limit, cfg->submit_rate, cfg->submit_burst);
    uv_timer_init(loop, &a->start_timer);
    a->start_timer.data = a;
    return 0;
fail:
    for (int i = 0; i < a->nshards; i++)
        if (a->redis_of[i]) redis_uv_close(a->redis_of[i], NULL, NULL);
    free(a->redis_of);
    free(a->queues);
    a->redis_of = NULL;
    a->queues = NULL;
    a->redis = NULL;
    return -1;
}

/* all_connected tells whether every shard's connection is up. */
static bool
all_connected(const struct app *a) {
    for (int i = 0; i < a->nshards; i++)
        if (!redis_uv_connected(a->redis_of[i])) return false;
    return true;
}

/* started runs the app_when_started callback once, and forgets it. */
static void
started(struct app *a, bool redis_up) {
    app_ready_cb cb = a->ready_cb;
    if (!cb) return;
    a->ready_cb = NULL;
    uv_timer_stop(&a->start_timer);
    for (int i = 0; i < a->nshards; i++) redis_uv_on_state(a->redis_of[i], NULL, NULL);
    cb(redis_up, a->ready_arg);
}

static void
on_start_state(redis_uv_t *r, bool connected, void *arg) {
    (void)r;
    if (connected && all_connected(arg)) started(arg, true);
}

static void
on_start_timeout(uv_timer_t *t) {
    started(t->data, false);
}

void
app_when_started(struct app *a, app_ready_cb cb, void *arg) {
    a->ready_cb = cb;
    a->ready_arg = arg;
    if (all_connected(a)) {
        started(a, true);
        return;
    }
    for (int i = 0; i < a->nshards; i++) redis_uv_on_state(a->redis_of[i], on_start_state, a);
    uv_timer_start(&a->start_timer, on_start_timeout, APP_START_WAIT_MS, 0);
}

static void
on_closed(void *arg) {
    struct app *a = arg;
    if (--a->closing > 0) return;
    free(a->redis_of);
    free(a->queues);
    a->redis_of = NULL;
    a->queues = NULL;
    if (a->closed_cb) a->closed_cb(a->closed_arg);
}

static void
on_timer_closed(uv_handle_t *h) {
    on_closed(h->data);
}

void
app_close(struct app *a, app_closed_cb cb, void *arg) {
    a->closed_cb = cb;
    a->closed_arg = arg;
    a->closing = 7 + a->nshards + (a->pg_read ? 1 : 0);
    a->ready_cb = NULL;
    for (int i = 0; i < a->nshards; i++) redis_uv_on_state(a->redis_of[i], NULL, NULL);
    uv_close((uv_handle_t *)&a->start_timer, on_timer_closed);
    ratelimit_free(&a->submit_limit);
    app_drain(a);
    longpoll_close(&a->longpoll, on_closed, a);
    sse_close(&a->sse, on_closed, a);
    job_events_close(&a->events, on_closed, a);
    http_metrics_close(&a->http_metrics, on_closed, a); /* flushes while Redis is open */
    pg_uv_t *pg = a->pg, *pg_read = a->pg_read;
    a->redis = NULL;
    a->pg = a->pg_read = NULL;
    stream_pool_close(&a->streams, on_closed, a);
    for (int i = 0; i < a->nshards; i++) redis_uv_close(a->redis_of[i], on_closed, a);
    pg_uv_close(pg, on_closed, a);
    if (pg_read) pg_uv_close(pg_read, on_closed, a);
}

void
app_drain(struct app *a) {
    longpoll_stop(&a->longpoll);
    sse_stop(&a->sse);
}

struct queue *
app_queue(struct app *a) {
    return app_queue_at(a, 0);
}

struct queue *
app_queue_at(struct app *a, int shard) {
    return a->redis && shard >= 0 && shard < a->nshards ? &a->queues[shard] : NULL;
}

struct queue *
app_queue_of_id(struct app *a, const char *id) {
    int s = shards_of_id(id, a->nshards);
    return app_queue_at(a, s < 0 ? 0 : s);
}

struct queue *
app_queue_of_url(struct app *a, const char *url_key) {
    return app_queue_at(a, shards_of_url(url_key, a->nshards));
}

int
app_shards(const struct app *a) {
    return a->nshards;
}

int
app_pg_query(struct app *a, enum app_db db, const char *sql, int nparams, const char *const *params,
             pg_uv_cb cb, void *arg) {
    if (!a->pg) return UV_ECANCELED;
    pg_uv_t *pg = db == APP_DB_READ && a->pg_read ? a->pg_read : a->pg;
    return pg_uv_query(pg, sql, nparams, params, cb, arg);
}

enum app_db
app_db_of(const struct app *a, const pg_uv_t *pg) {
    return pg && pg == a->pg_read ? APP_DB_READ : APP_DB_PRIMARY;
}

bool
app_has_replica(const struct app *a) {
    return a->pg_read != NULL;
}
