/* app.c — open and close the per-process connections handlers use. */
#include "web/app.h"

#include <stdio.h>
#include <string.h>

#include "common/keys.h"

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
    a->redis = redis_uv_new(loop, cfg->redis_url, &cfg->redis_tls, "redis-web",
                            APP_REDIS_TIMEOUT_MS, err, errlen);
    if (!a->redis) return -1;
    if (job_events_open(&a->events, loop, cfg, &keys, err, errlen) < 0) {
        redis_uv_close(a->redis, NULL, NULL);
        return -1;
    }
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
    queue_init(&a->queue, a->redis, &keys, cfg->result_ttl_s);
    http_metrics_init(&a->http_metrics, loop, a->redis, &keys);
    ratelimit_init(&a->submit_limit, cfg->submit_rate, cfg->submit_burst);
    uv_timer_init(loop, &a->start_timer);
    a->start_timer.data = a;
    return 0;
}

/* started runs the app_when_started callback once, and forgets it. */
static void
started(struct app *a, bool redis_up) {
    app_ready_cb cb = a->ready_cb;
    if (!cb) return;
    a->ready_cb = NULL;
    uv_timer_stop(&a->start_timer);
    redis_uv_on_state(a->redis, NULL, NULL);
    cb(redis_up, a->ready_arg);
}

static void
on_start_state(redis_uv_t *r, bool connected, void *arg) {
    (void)r;
    if (connected) started(arg, true);
}

static void
on_start_timeout(uv_timer_t *t) {
    started(t->data, false);
}

void
app_when_started(struct app *a, app_ready_cb cb, void *arg) {
    a->ready_cb = cb;
    a->ready_arg = arg;
    if (redis_uv_connected(a->redis)) {
        started(a, true);
        return;
    }
    redis_uv_on_state(a->redis, on_start_state, a);
    uv_timer_start(&a->start_timer, on_start_timeout, APP_START_WAIT_MS, 0);
}

static void
on_closed(void *arg) {
    struct app *a = arg;
    if (--a->closing == 0 && a->closed_cb) a->closed_cb(a->closed_arg);
}

static void
on_timer_closed(uv_handle_t *h) {
    on_closed(h->data);
}

void
app_close(struct app *a, app_closed_cb cb, void *arg) {
    a->closed_cb = cb;
    a->closed_arg = arg;
    a->closing = a->pg_read ? 9 : 8;
    a->ready_cb = NULL;
    redis_uv_on_state(a->redis, NULL, NULL);
    uv_close((uv_handle_t *)&a->start_timer, on_timer_closed);
    ratelimit_free(&a->submit_limit);
    app_drain(a);
    longpoll_close(&a->longpoll, on_closed, a);
    sse_close(&a->sse, on_closed, a);
    job_events_close(&a->events, on_closed, a);
    http_metrics_close(&a->http_metrics, on_closed, a); /* flushes while Redis is open */
    redis_uv_t *r = a->redis;
    pg_uv_t *pg = a->pg, *pg_read = a->pg_read;
    a->redis = NULL;
    a->pg = a->pg_read = NULL;
    stream_pool_close(&a->streams, on_closed, a);
    redis_uv_close(r, on_closed, a);
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
    return a->redis ? &a->queue : NULL;
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
