/* h_stats — GET /api/v1/stats (JSON for the dashboard) and GET /metrics
 * (Prometheus), both from one stats_read of Redis (common/stats.h),
 * after a read of the busiest hosts (common/hosts.h, web/host_view.h). They
 * name worker hosts and pids and failure reasons, so outside development
 * and testing they need a token (web/auth.h) unless STATS_PUBLIC says. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/hosts.h"
#include "common/log.h"
#include "common/stats.h"
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
    struct hosts_row *hosts; /* a copy of the busiest hosts, or NULL */
    size_t nhosts;
};

static void
ctx_free(struct stats_ctx *x) {
    free(x->hosts);
    free(x);
}

/* stale_after_ms: three heartbeats missed. */
static int
stale_after(const struct app *a) {
    return a->cfg->heartbeat_interval_ms * 3;
}

static void
on_stats(int status, const struct stats_snapshot *snap, const char *errstr, void *arg) {
    struct stats_ctx *x = arg;
    struct req *req = x->req;
    if (status < 0) {
        log_warn("msg=\"stats read failed\" error=%s", log_q(errstr));
        req_unavailable(req, REQ_REDIS, UNREADABLE);
        ctx_free(x);
        return;
    }
    struct response r;
    response_init(&r, 200);
    response_header(&r, "Cache-Control", "no-store");
    if (x->prometheus) {
        stats_view_prometheus(snap, stale_after(req->app), &r.body);
        host_view_prometheus(x->hosts, x->nhosts, &r.body);
        response_header(&r, "Content-Type", STATS_VIEW_PROM_TYPE);
    } else {
        json_t *v = stats_view_json(snap, stale_after(req->app));
        json_object_set_new(v, "hosts", host_view_json(x->hosts, x->nhosts));
        response_json(&r, 200, v);
        json_decref(v);
    }
    req_send(req, &r);
    ctx_free(x);
}

/* on_hosts keeps the busiest hosts, then reads the statistics. A host
 * view that cannot be read leaves the list empty: the rest still shows. */
static void
on_hosts(int status, const struct hosts_row *rows, size_t n, const char *errstr, void *arg) {
    struct stats_ctx *x = arg;
    if (status < 0) log_warn("msg=\"host view not read\" error=%s", log_q(errstr));
    if (status == 0 && n > 0) {
        x->hosts = xcalloc(n, sizeof *rows);
        memcpy(x->hosts, rows, n * sizeof *rows);
        x->nhosts = n;
    }
    struct queue *q = app_queue(x->req->app);
    int rc =
        q ? stats_read(q->redis, &q->keys, clock_now_ms(), x->window, on_stats, x) : UV_ECANCELED;
    if (rc < 0) {
        req_unavailable(x->req, REQ_REDIS, UNREADABLE);
        ctx_free(x);
    }
}

static void
read_stats(struct req *req, bool prometheus) {
    if (!auth_stats(req)) return;
    long window = DEFAULT_WINDOW_S;
    if (!prometheus &&
        req_query_long(req, "window", 60, STATS_WINDOW_MAX_S,
                       "window must be a whole number of seconds from 60 to 3600", &window) < 0)
        return;
    struct queue *q = app_queue(req->app);
    struct stats_ctx *x = xcalloc(1, sizeof *x);
    x->req = req;
    x->prometheus = prometheus;
    x->window = (int)window;
    int top = prometheus ? HOST_VIEW_SCAN : HOST_VIEW_JSON_TOP;
    int rc = q ? hosts_view(q->redis, &q->keys, HOST_VIEW_SCAN, top, on_hosts, x) : UV_ECANCELED;
    if (rc < 0) {
        free(x);
        req_unavailable(req, REQ_REDIS, UNREADABLE);
    }
}

void
h_stats(struct req *req) {
    read_stats(req, false);
}

void
h_metrics(struct req *req) {
    read_stats(req, true);
}
