/* http_metrics.c — per-process request statistics, flushed to Redis. */
#include "web/http_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

#define UNMATCHED "unmatched"
#define OVERFLOW "other"

static void
on_flush_timer(uv_timer_t *t) {
    http_metrics_flush(t->data);
}

void
http_metrics_init(struct http_metrics *m, uv_loop_t *loop, redis_uv_t *redis,
                  const struct keys *keys) {
    memset(m, 0, sizeof *m);
    m->redis = redis;
    keys_http(keys, &m->key);
    uv_timer_init(loop, &m->timer);
    m->timer.data = m;
    uv_timer_start(&m->timer, on_flush_timer, HTTP_METRICS_FLUSH_MS, HTTP_METRICS_FLUSH_MS);
    /* Statistics alone must not keep the loop running. */
    uv_unref((uv_handle_t *)&m->timer);
}

static struct http_metrics_count *
count_slot(struct http_metrics *m, const char *method, const char *route, int status) {
    for (size_t i = 0; i < m->ncounts; i++) {
        struct http_metrics_count *c = &m->counts[i];
        if (c->status == status && !strcmp(c->route, route) && !strcmp(c->method, method)) return c;
    }
    if (m->ncounts == HTTP_METRICS_MAX_COUNTS) {
        /* Full (an unexpected variety of statuses): the last slot takes the rest. */
        struct http_metrics_count *c = &m->counts[HTTP_METRICS_MAX_COUNTS - 1];
        c->method = "-", c->route = OVERFLOW, c->status = 0;
        return c;
    }
    struct http_metrics_count *c = &m->counts[m->ncounts++];
    *c = (struct http_metrics_count){.method = method, .route = route, .status = status};
    return c;
}

static struct http_metrics_route *
route_slot(struct http_metrics *m, const char *method, const char *route) {
    for (size_t i = 0; i < m->nroutes; i++) {
        struct http_metrics_route *r = &m->routes[i];
        if (!strcmp(r->route, route) && !strcmp(r->method, method)) return r;
    }
    if (m->nroutes == HTTP_METRICS_MAX_ROUTES) {
        struct http_metrics_route *r = &m->routes[HTTP_METRICS_MAX_ROUTES - 1];
        r->method = "-", r->route = OVERFLOW;
        return r;
    }
    struct http_metrics_route *r = &m->routes[m->nroutes++];
    memset(r, 0, sizeof *r);
    r->method = method;
    r->route = route;
    return r;
}

void
http_metrics_observe(struct http_metrics *m, const char *method, const char *route, int status,
                     uint64_t elapsed_ns) {
    if (!method) method = "-";
    if (!route) route = UNMATCHED;
    count_slot(m, method, route, status)->n++;
    int64_t us = (int64_t)(elapsed_ns / 1000);
    struct http_metrics_route *r = route_slot(m, method, route);
    r->bucket[stats_bucket(stats_us_bounds, STATS_US_NB, us)]++;
    r->sum_us += us;
    m->dirty = true;
}

void
http_metrics_flush(struct http_metrics *m) {
    if (!m->dirty || !m->redis) return;
    /* Field names are built into one arena; at most 256 pairs per script. */
    enum { MAXF = 256 };
    char(*names)[160] = xcalloc(MAXF, sizeof *names);
    const char *fields[MAXF];
    long long deltas[MAXF];
    size_t n = 0;
#define EMIT(delta, ...)                                                                           \
    do {                                                                                           \
        if (n == MAXF) {                                                                           \
            stats_incr(m->redis, m->key.s, fields, deltas, n);                                     \
            n = 0;                                                                                 \
        }                                                                                          \
        snprintf(names[n], sizeof names[n], __VA_ARGS__);                                          \
        fields[n] = names[n];                                                                      \
        deltas[n++] = (delta);                                                                     \
    } while (0)
    for (size_t i = 0; i < m->ncounts; i++) {
        struct http_metrics_count *c = &m->counts[i];
        if (c->n) EMIT(c->n, "n|%s|%s|%d", c->method, c->route, c->status);
        c->n = 0;
    }
    for (size_t i = 0; i < m->nroutes; i++) {
        struct http_metrics_route *r = &m->routes[i];
        for (int b = 0; b <= STATS_US_NB; b++) {
            if (r->bucket[b]) EMIT(r->bucket[b], "h|%s|%s|%d", r->method, r->route, b);
            r->bucket[b] = 0;
        }
        if (r->sum_us) EMIT(r->sum_us, "s|%s|%s", r->method, r->route);
        r->sum_us = 0;
    }
#undef EMIT
    if (n) stats_incr(m->redis, m->key.s, fields, deltas, n);
    free(names);
    m->dirty = false;
}

static void
on_timer_closed(uv_handle_t *h) {
    struct http_metrics *m = h->data;
    if (m->closed_cb) m->closed_cb(m->closed_arg);
}

void
http_metrics_close(struct http_metrics *m, http_metrics_closed_cb cb, void *arg) {
    http_metrics_flush(m);
    m->redis = NULL;
    m->closed_cb = cb;
    m->closed_arg = arg;
    uv_timer_stop(&m->timer);
    uv_close((uv_handle_t *)&m->timer, on_timer_closed);
}
