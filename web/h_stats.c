/* h_stats — GET /api/v1/stats (JSON for the dashboard) and GET /metrics
 * (Prometheus), both from one stats_read of Redis (common/stats.h). They
 * name worker hosts and pids and failure reasons, so outside development
 * and testing they need a token (web/auth.h) unless STATS_PUBLIC says. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/stats.h"
#include "common/xalloc.h"
#include "web/app.h"
#include "web/auth.h"
#include "web/handlers.h"
#include "web/stats_view.h"

#define DEFAULT_WINDOW_S 600
#define UNREADABLE "the statistics cannot be read"

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
        req_unavailable(req, REQ_REDIS, UNREADABLE);
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
    int rc =
        q ? stats_read(q->redis, &q->keys, clock_now_ms(), (int)window, on_stats, x) : UV_ECANCELED;
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
