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
 * Everything goes through common/queue.h; each change is one Lua script.
 * With several shards (common/shards.h) a job's route goes to the shard
 * its id names; the list reads every shard's newest offset + limit and
 * merges them by failure time (so offset + limit is at most
 * LIST_DEEP_MAX there), and "retry all" goes through every shard. */
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
/* With several shards, the deepest failed job a list reaches. */
#define LIST_DEEP_MAX 1000

/* Per-request state that travels through a Redis callback. */
struct actx {
    struct req *req;
    char id[JOB_ID_LEN + 1];
    long offset, limit;
    long long requeued;
    int batches;
    int shard;       /* the shard being read (list, retry all) */
    long long total; /* failed jobs over the shards read */
    json_t *jobs;    /* with several shards: [[finished_at_ms, job], ...] */
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

static int
newer_first(const void *a, const void *b) {
    json_int_t x = json_integer_value(json_array_get(*(json_t *const *)a, 0));
    json_int_t y = json_integer_value(json_array_get(*(json_t *const *)b, 0));
    return x < y ? 1 : x > y ? -1 : 0;
}

/* answer_merged sends the page [offset, offset + limit) of every shard's
 * newest failed jobs, newest first. */
static void
answer_merged(struct actx *x) {
    size_t n = json_array_size(x->jobs);
    json_t **all = xcalloc(n ? n : 1, sizeof *all);
    for (size_t i = 0; i < n; i++) all[i] = json_array_get(x->jobs, i);
    qsort(all, n, sizeof *all, newer_first);
    json_t *arr = json_array();
    for (size_t i = (size_t)x->offset; i < n && i < (size_t)(x->offset + x->limit); i++)
        json_array_append(arr, json_array_get(all[i], 1));
    free(all);
    req_json(x->req, 200,
             json_pack("{s:I, s:I, s:I, s:o}", "total", (json_int_t)x->total, "offset",
                       (json_int_t)x->offset, "limit", (json_int_t)x->limit, "jobs", arr));
    json_decref(x->jobs);
    free(x);
}

/* list_unavailable answers 503 to a list over the shards and frees x. */
static void
list_unavailable(struct actx *x) {
    req_unavailable(x->req, REQ_REDIS, NULL);
    json_decref(x->jobs);
    free(x);
}

static void
on_shard_list(int status, long long total, const struct job *jobs, size_t n, const char *errstr,
              void *arg) {
    struct actx *x = arg;
    if (status < 0) {
        log_warn("msg=\"failed list failed\" shard=%d error=%s", x->shard, log_q(errstr));
        list_unavailable(x);
        return;
    }
    x->total += total;
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            x->jobs, json_pack("[I, o]", (json_int_t)jobs[i].finished_at_ms, json_job(&jobs[i])));
    if (++x->shard == app_shards(x->req->app)) {
        answer_merged(x);
        return;
    }
    struct queue *q = app_queue_at(x->req->app, x->shard);
    if (!q || queue_failed_list(q, 0, x->offset + x->limit, on_shard_list, x) < 0)
        list_unavailable(x);
}

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
    if (app_shards(req->app) > 1 && offset + limit > LIST_DEEP_MAX) {
        req_problem(req, 400, "Bad Request",
                    "with several Redis shards, offset + limit is at most 1000");
        return;
    }
    struct actx *x = actx_new(req, NULL);
    x->offset = offset;
    x->limit = limit;
    int rc;
    if (app_shards(req->app) > 1) {
        x->jobs = json_array();
        rc = q ? queue_failed_list(q, 0, offset + limit, on_shard_list, x) : UV_ECANCELED;
        if (rc < 0) json_decref(x->jobs);
    } else {
        rc = q ? queue_failed_list(q, offset, limit, on_list, x) : UV_ECANCELED;
    }
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
    struct queue *q = app_queue_at(x->req->app, x->shard);
    if (n == RETRY_BATCH && ++x->batches < RETRY_MAX_BATCHES && q &&
        queue_failed_retry(q, NULL, RETRY_BATCH, on_retry_all, x) == 0)
        return;
    /* This shard is done: on to the next. */
    while ((q = app_queue_at(x->req->app, ++x->shard))) {
        x->batches = 0;
        if (queue_failed_retry(q, NULL, RETRY_BATCH, on_retry_all, x) == 0) return;
        log_warn("msg=\"failed jobs of a shard not requeued\" shard=%d", x->shard);
    }
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
    struct queue *q = app_queue_of_id(req->app, id);
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
    struct queue *q = app_queue_of_id(req->app, id);
    struct actx *x = actx_new(req, id);
    int rc = q ? queue_failed_delete(q, x->id, on_deleted, x) : UV_ECANCELED;
    if (rc < 0) {
        free(x);
        req_unavailable(req, REQ_REDIS, NULL);
    }
}
