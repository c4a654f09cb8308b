/* h_admin — the failed set, for operators and the dashboard.
 *
 *   GET    /api/v1/admin/failed?offset=O&limit=L  failed jobs, newest first
 *   POST   /api/v1/admin/failed/retry             requeue every failed job
 *   POST   /api/v1/admin/failed/{id}/retry        requeue one failed job
 *   DELETE /api/v1/admin/failed/{id}              forget one failed job
 *
 * They need "Authorization: Bearer $ADMIN_TOKEN" (web/auth.h). Without an
 * ADMIN_TOKEN they are open in development and refused (403) elsewhere. (Canceling a
 * job, DELETE /api/v1/jobs/{id} in h_jobs.c, is not an admin action:
 * whoever holds a job's id may cancel it, as DESIGN.md's public API says.)
 * Everything goes through common/queue.h; each change is one Lua script. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "web/app.h"
#include "web/auth.h"
#include "web/handlers.h"

#define LIST_DEFAULT 50
#define LIST_MAX 1000
#define LIST_OFFSET_MAX 1000000000L
/* "Retry all" requeues in batches (one script each, so Redis is never
 * blocked long) until a batch comes back short; at most this many. */
#define RETRY_BATCH 500
#define RETRY_MAX_BATCHES 200

/* Per-request state that travels through a Redis callback. */
struct actx {
    struct req *req;
    char id[JOB_ID_LEN + 1];
    long offset, limit;
    long long requeued;
    int batches;
};

/* actx_new makes the state; id, when given, is a valid job id (checked). */
static struct actx *
actx_new(struct req *req, const char *id) {
    struct actx *x = xcalloc(1, sizeof *x);
    x->req = req;
    if (id) memcpy(x->id, id, JOB_ID_LEN);
    return x;
}

/* --- GET /api/v1/admin/failed --- */

static void
on_list(int status, long long total, const struct job *jobs, size_t n, const char *errstr,
        void *arg) {
    struct actx *x = arg;
    if (status < 0) {
        log_warn("msg=\"failed list failed\" error=%s", log_q(errstr));
        req_unavailable(x->req, REQ_REDIS, NULL);
    } else {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) json_array_append_new(arr, json_job(&jobs[i]));
        req_json(x->req, 200,
                 json_pack("{s:I, s:I, s:I, s:o}", "total", (json_int_t)total, "offset",
                           (json_int_t)x->offset, "limit", (json_int_t)x->limit, "jobs", arr));
    }
    free(x);
}

void
h_admin_failed_list(struct req *req) {
    if (!auth_admin(req)) return;
    static const char bad[] = "offset must be a whole number from 0, limit one from 1 to 1000";
    long offset = 0, limit = LIST_DEFAULT;
    if (req_query_long(req, "offset", 0, LIST_OFFSET_MAX, bad, &offset) < 0 ||
        req_query_long(req, "limit", 1, LIST_MAX, bad, &limit) < 0)
        return;
    struct queue *q = app_queue(req->app);
    struct actx *x = actx_new(req, NULL);
    x->offset = offset;
    x->limit = limit;
    int rc = q ? queue_failed_list(q, offset, limit, on_list, x) : UV_ECANCELED;
    if (rc < 0) {
        free(x);
        req_unavailable(req, REQ_REDIS, NULL);
    }
}

/* --- POST /api/v1/admin/failed/retry and /failed/{id}/retry --- */

static void
on_retry_all(int status, long long n, const char *errstr, void *arg) {
    struct actx *x = arg;
    if (status < 0) {
        log_warn("msg=\"failed retry failed\" error=%s requeued=%lld", log_q(errstr), x->requeued);
        req_unavailable(x->req, REQ_REDIS, NULL);
        free(x);
        return;
    }
    x->requeued += n;
    struct queue *q = app_queue(x->req->app);
    if (n == RETRY_BATCH && ++x->batches < RETRY_MAX_BATCHES && q &&
        queue_failed_retry(q, NULL, RETRY_BATCH, on_retry_all, x) == 0)
        return;
    log_info("msg=\"failed jobs requeued\" count=%lld", x->requeued);
    req_json(x->req, 200, json_pack("{s:I}", "requeued", (json_int_t)x->requeued));
    free(x);
}

void
h_admin_failed_retry_all(struct req *req) {
    if (!auth_admin(req)) return;
    struct queue *q = app_queue(req->app);
    struct actx *x = actx_new(req, NULL);
    int rc = q ? queue_failed_retry(q, NULL, RETRY_BATCH, on_retry_all, x) : UV_ECANCELED;
    if (rc < 0) {
        free(x);
        req_unavailable(req, REQ_REDIS, NULL);
    }
}

static void
on_retry_one(int status, long long n, const char *errstr, void *arg) {
    struct actx *x = arg;
    if (status < 0) {
        log_warn("msg=\"failed retry failed\" job=%s error=%s", x->id, log_q(errstr));
        req_unavailable(x->req, REQ_REDIS, NULL);
    } else if (n == 0) {
        req_problem(x->req, 404, "Not Found", "no failed job with this id");
    } else {
        log_info("msg=\"failed job requeued\" job=%s", x->id);
        req_json(x->req, 200, json_pack("{s:s, s:s}", "id", x->id, "status", "queued"));
    }
    free(x);
}

void
h_admin_failed_retry(struct req *req) {
    if (!auth_admin(req)) return;
    const char *id = req_job_id(req);
    if (!id) return;
    struct queue *q = app_queue(req->app);
    struct actx *x = actx_new(req, id);
    const char *ids[] = {x->id};
    int rc = q ? queue_failed_retry(q, ids, 1, on_retry_one, x) : UV_ECANCELED;
    if (rc < 0) {
        free(x);
        req_unavailable(req, REQ_REDIS, NULL);
    }
}

/* --- DELETE /api/v1/admin/failed/{id} --- */

static void
on_deleted(int status, long long n, const char *errstr, void *arg) {
    struct actx *x = arg;
    if (status < 0) {
        log_warn("msg=\"failed delete failed\" job=%s error=%s", x->id, log_q(errstr));
        req_unavailable(x->req, REQ_REDIS, NULL);
    } else if (n == 0) {
        req_problem(x->req, 404, "Not Found", "no failed job with this id");
    } else {
        log_info("msg=\"failed job deleted\" job=%s", x->id);
        struct response r;
        response_init(&r, 204);
        req_send(x->req, &r);
    }
    free(x);
}

void
h_admin_failed_delete(struct req *req) {
    if (!auth_admin(req)) return;
    const char *id = req_job_id(req);
    if (!id) return;
    struct queue *q = app_queue(req->app);
    struct actx *x = actx_new(req, id);
    int rc = q ? queue_failed_delete(q, x->id, on_deleted, x) : UV_ECANCELED;
    if (rc < 0) {
        free(x);
        req_unavailable(req, REQ_REDIS, NULL);
    }
}
