/* h_stats — GET /api/v1/stats (JSON for the dashboard) and GET /metrics
 * (Prometheus), both from one stats_read of Redis (common/stats.h) per
 * shard, summed (common/stats_merge.h), after a read of the busiest hosts
 * of each shard (common/hosts.h, web/host_view.h). A shard that cannot
 * be read is left out and counted (shards_unreadable); only when none
 * can be read is the answer 503. They
 * name worker hosts and pids and failure reasons, so outside development
 * and testing they need a token (web/auth.h) unless STATS_PUBLIC says. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/hosts.h"
#include "common/log.h"
#include "common/stats.h"
#include "common/stats_merge.h"
#include "common/xalloc.h"
#include "web/app.h"
#include "web/auth.h"
#include "web/handlers.h"
#include "web/host_view.h"
#include "web/stats_view.h"

#define DEFAULT_WINDOW_S 600
#define UNREADABLE "the statistics cannot be read"

struct stats_ctx {
    struct req *req;
    bool prometheus;
    int window;
    int top;                 /* hosts kept */
    int shard;               /* the shard being read */
    int unreadable;          /* shards whose statistics could not be read */
    struct hosts_row *hosts; /* a copy of the busiest hosts, or NULL */
    size_t nhosts;
    struct stats_snapshot sum; /* over the shards read */
    int64_t now_ms;
};

static void
ctx_free(struct stats_ctx *x) {
    free(x->hosts);
    stats_snapshot_free(&x->sum);
    free(x);
}

static void read_next_stats(struct stats_ctx *x);
static void read_next_hosts(struct stats_ctx *x);

/* stale_after_ms: three heartbeats missed. */
static int
stale_after(const struct app *a) {
    return a->cfg->heartbeat_interval_ms * 3;
}

/* answer sends the sum, once every shard was read (or tried). */
static void
answer(struct stats_ctx *x) {
    struct req *req = x->req;
    int n = app_shards(req->app);
    if (x->unreadable == n) {
        req_unavailable(req, REQ_REDIS, UNREADABLE);
        ctx_free(x);
        return;
    }
    struct response r;
    response_init(&r, 200);
    response_header(&r, "Cache-Control", "no-store");
    if (x->prometheus) {
        stats_view_prometheus(&x->sum, stale_after(req->app), &r.body);
        host_view_prometheus(x->hosts, x->nhosts, &r.body);
        if (n > 1) {
            char text[256];
            int len = snprintf(text, sizeof text,
                               "# HELP wordcount_redis_shards Redis shards, and those whose "
                               "statistics could not be read (left out of the sums).\n"
                               "# TYPE wordcount_redis_shards gauge\n"
                               "wordcount_redis_shards %d\nwordcount_redis_shards_unreadable %d\n",
                               n, x->unreadable);
            buf_append(&r.body, text, (size_t)len);
        }
        response_header(&r, "Content-Type", STATS_VIEW_PROM_TYPE);
    } else {
        json_t *v = stats_view_json(&x->sum, stale_after(req->app));
        json_object_set_new(v, "hosts", host_view_json(x->hosts, x->nhosts));
        if (n > 1) {
            json_object_set_new(v, "shards", json_integer(n));
            json_object_set_new(v, "shards_unreadable", json_integer(x->unreadable));
        }
        response_json(&r, 200, v);
        json_decref(v);
    }
    req_send(req, &r);
    ctx_free(x);
}

static void
on_stats(int status, const struct stats_snapshot *snap, const char *errstr, void *arg) {
    struct stats_ctx *x = arg;
    if (status < 0) {
        log_warn("msg=\"stats read failed\" shard=%d error=%s", x->shard, log_q(errstr));
        x->unreadable++;
    } else {
        stats_merge(&x->sum, snap);
    }
    x->shard++;
    read_next_stats(x);
}

/* read_next_stats reads the next shard's statistics, or answers. */
static void
read_next_stats(struct stats_ctx *x) {
    for (; x->shard < app_shards(x->req->app); x->shard++) {
        struct queue *q = app_queue_at(x->req->app, x->shard);
        if (!q) break; /* closing */
        if (stats_read(q->redis, &q->keys, x->now_ms, x->window, on_stats, x) == 0) return;
        x->unreadable++;
    }
    if (x->shard < app_shards(x->req->app)) {
        req_unavailable(x->req, REQ_REDIS, UNREADABLE);
        ctx_free(x);
        return;
    }
    answer(x);
}

static int
busier(const void *a, const void *b) {
    const struct hosts_row *x = a, *y = b;
    long long bx = x->inflight + x->waiting, by = y->inflight + y->waiting;
    return bx < by ? 1 : bx > by ? -1 : 0;
}

/* on_hosts keeps the busiest hosts of a shard (each host is on one),
 * then reads the next. A host view that cannot be read leaves its hosts
 * out: the rest still shows. */
static void
on_hosts(int status, const struct hosts_row *rows, size_t n, const char *errstr, void *arg) {
    struct stats_ctx *x = arg;
    if (status < 0) log_warn("msg=\"host view not read\" error=%s", log_q(errstr));
    if (status == 0 && n > 0) {
        x->hosts = xrealloc(x->hosts, (x->nhosts + n) * sizeof *rows);
        memcpy(x->hosts + x->nhosts, rows, n * sizeof *rows);
        x->nhosts += n;
    }
    x->shard++;
    read_next_hosts(x);
}

/* read_next_hosts reads the next shard's hosts; after the last, the
 * busiest are kept and the statistics read. */
static void
read_next_hosts(struct stats_ctx *x) {
    int n = app_shards(x->req->app);
    for (; x->shard < n; x->shard++) {
        struct queue *q = app_queue_at(x->req->app, x->shard);
        if (q && hosts_view(q->redis, &q->keys, HOST_VIEW_SCAN, x->top, on_hosts, x) == 0) return;
    }
    if (n > 1 && x->nhosts > 0) {
        qsort(x->hosts, x->nhosts, sizeof *x->hosts, busier);
        if (x->nhosts > (size_t)x->top) x->nhosts = (size_t)x->top;
    }
    x->shard = 0;
    x->now_ms = clock_now_ms();
    read_next_stats(x);
}

static void
read_stats(struct req *req, bool prometheus) {
    if (!auth_stats(req)) return;
    long window = DEFAULT_WINDOW_S;
    if (!prometheus &&
        req_query_long(req, "window", 60, STATS_WINDOW_MAX_S,
                       "window must be a whole number of seconds from 60 to 3600", &window) < 0)
        return;
    if (!app_queue(req->app)) {
        req_unavailable(req, REQ_REDIS, UNREADABLE);
        return;
    }
    struct stats_ctx *x = xcalloc(1, sizeof *x);
    x->req = req;
    x->prometheus = prometheus;
    x->window = (int)window;
    x->top = prometheus ? HOST_VIEW_SCAN : HOST_VIEW_JSON_TOP;
    read_next_hosts(x);
}

void
h_stats(struct req *req) {
    read_stats(req, false);
}

void
h_metrics(struct req *req) {
    read_stats(req, true);
}
