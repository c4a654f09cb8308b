/* h_stats — GET /api/v1/stats (JSON for the dashboard) and GET /metrics
 * (Prometheus), both from one stats_read of Redis (common/stats.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/stats.h"
#include "common/xalloc.h"
#include "web/app.h"
#include "web/handlers.h"
#include "web/stats_view.h"

#define DEFAULT_WINDOW_S 600

struct stats_ctx {
    struct req *req;
    bool prometheus;
};

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
        struct response r;
        response_init(&r, 503);
        response_header(&r, "Retry-After", "%d", 2);
        response_problem(&r, 503, "Redis Unavailable", "the statistics cannot be read");
        req_send(req, &r);
        free(x);
        return;
    }
    struct response r;
    response_init(&r, 200);
    response_header(&r, "Cache-Control", "no-store");
    if (x->prometheus) {
        stats_view_prometheus(snap, stale_after(req->app), &r.body);
        response_header(&r, "Content-Type", STATS_VIEW_PROM_TYPE);
    } else {
        json_t *v = stats_view_json(snap, stale_after(req->app));
        response_json(&r, 200, v);
        json_decref(v);
    }
    req_send(req, &r);
    free(x);
}

/* window_param reads window=<seconds> from the query: 1 found, 0 absent, -1 invalid. */
static int
window_param(const char *query, int *out) {
    for (const char *p = query; p && *p;) {
        size_t n = strcspn(p, "&");
        if (n > 7 && !strncmp(p, "window=", 7)) {
            char *end;
            long v = strtol(p + 7, &end, 10);
            if (end == p + 7 || end != p + n || v < 60 || v > STATS_WINDOW_MAX_S) return -1;
            *out = (int)v;
            return 1;
        }
        p += n + (p[n] == '&');
    }
    return 0;
}

static void
read_stats(struct req *req, bool prometheus) {
    int window = DEFAULT_WINDOW_S;
    if (!prometheus && window_param(req->http->query, &window) < 0) {
        req_problem(req, 400, "Bad Request",
                    "window must be a whole number of seconds from 60 to 3600");
        return;
    }
    struct queue *q = app_queue(req->app);
    struct stats_ctx *x = xcalloc(1, sizeof *x);
    x->req = req;
    x->prometheus = prometheus;
    int rc = q ? stats_read(q->redis, &q->keys, clock_now_ms(), window, on_stats, x) : UV_ECANCELED;
    if (rc < 0) {
        free(x);
        struct response r;
        response_init(&r, 503);
        response_header(&r, "Retry-After", "%d", 2);
        response_problem(&r, 503, "Redis Unavailable", "the statistics cannot be read");
        req_send(req, &r);
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
