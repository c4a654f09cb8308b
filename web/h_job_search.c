/* h_job_search — finding jobs, and acting on everything a search finds.
 *
 *   GET  /api/v1/jobs?url=&host=&status=&error=&batch=&cursor=&limit=
 *        a page of the jobs the filters match, newest first
 *   POST /api/v1/admin/jobs/bulk?<the same>&action=retry|cancel|delete
 *        (admin) the action on one page of matches
 *
 * The parameters are web/job_filter.h's, the search common/job_search.h's.
 * A search lists every job's URL and id (and an id is enough to cancel a
 * job), so it is guarded as the statistics are (web/auth.h: open in
 * development and testing, else the admin or the metrics token).
 * A bulk call acts on at most `limit` matches (default 100, at most 500)
 * and answers what it did with the cursor of the next page, so a client
 * (the dashboard) goes on until next_cursor is null. Each action is the
 * single-job path it would be one at a time: retry is the failed set's
 * requeue (failed jobs only), cancel is DELETE /api/v1/jobs/{id}'s (jobs
 * that have not started), delete is the failed set's forget (failed jobs
 * only); the other matches are counted as skipped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/job_search_shards.h"
#include "common/json.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "web/app.h"
#include "web/auth.h"
#include "web/handlers.h"
#include "web/job_filter.h"

#define SEARCH_LIMIT_DEFAULT 20
#define SEARCH_LIMIT_MAX 100
#define BULK_LIMIT_DEFAULT 100
#define BULK_LIMIT_MAX JOB_SEARCH_LIMIT_MAX

/* Per-request state that travels through the search and the actions. */
struct sctx {
    struct req *req;
    struct job_filter jf;
    /* bulk */
    long matched, done, skipped, errors;
    size_t pending;
    char *next; /* the page's next_cursor (NULL at the end) */
};

static void
sctx_free(struct sctx *x) {
    free(x->next);
    free(x);
}

/* sctx_parse makes the state, or answers 400 and returns NULL. */
static struct sctx *
sctx_parse(struct req *req, bool bulk) {
    struct sctx *x = xcalloc(1, sizeof *x);
    x->req = req;
    char err[512];
    if (job_filter_parse(req->http->query, bulk, bulk ? BULK_LIMIT_DEFAULT : SEARCH_LIMIT_DEFAULT,
                         bulk ? BULK_LIMIT_MAX : SEARCH_LIMIT_MAX, &x->jf, err, sizeof err) < 0) {
        req_problem(req, 400, "Bad Request", err);
        sctx_free(x);
        return NULL;
    }
    return x;
}

static json_t *
cursor_json(const char *next) {
    return next ? json_string(next) : json_null();
}

/* --- GET /api/v1/jobs --- */

static void
on_found(int status, const struct job *jobs, size_t n, const char *next, const char *errstr,
         void *arg) {
    struct sctx *x = arg;
    if (status < 0) {
        log_warn("msg=\"job search failed\" error=%s", log_q(errstr));
        req_unavailable(x->req, REQ_REDIS, NULL);
    } else {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) json_array_append_new(arr, json_job(&jobs[i]));
        req_json(x->req, 200,
                 json_pack("{s:o, s:o, s:I}", "jobs", arr, "next_cursor", cursor_json(next),
                           "limit", (json_int_t)x->jf.limit));
    }
    sctx_free(x);
}

/* search starts x's search with cb; on failure answers 503 and frees x. */
static void
search(struct sctx *x, job_search_cb cb) {
    /* Every shard's (common/job_search_shards.h merges them). */
    struct queue *qs[CONFIG_REDIS_SHARDS_MAX];
    int n = app_shards(x->req->app);
    for (int i = 0; i < n; i++) qs[i] = app_queue_at(x->req->app, i);
    int rc = qs[0] ? job_search_shards(qs, n, &x->jf.f, x->jf.cursor, (int)x->jf.limit, cb, x)
                   : UV_ECANCELED;
    if (rc < 0) {
        req_unavailable(x->req, REQ_REDIS, NULL);
        sctx_free(x);
    }
}

void
h_jobs_search(struct req *req) {
    if (!auth_stats(req)) return;
    struct sctx *x = sctx_parse(req, false);
    if (x) search(x, on_found);
}

/* --- POST /api/v1/admin/jobs/bulk --- */

static const char *const action_names[] = {"", "retry", "cancel", "delete"};

/* release ends one of the page's pending parts; the last one answers. */
static void
release(struct sctx *x) {
    if (--x->pending) return;
    const char *action = action_names[x->jf.action];
    log_info("msg=\"bulk action\" action=%s matched=%ld done=%ld skipped=%ld errors=%ld", action,
             x->matched, x->done, x->skipped, x->errors);
    if (x->errors) {
        req_unavailable(x->req, REQ_REDIS,
                        "some of the page's actions did not reach Redis; "
                        "send the same request again");
    } else {
        req_json(x->req, 200,
                 json_pack("{s:s, s:I, s:I, s:I, s:o}", "action", action, "matched",
                           (json_int_t)x->matched, "done", (json_int_t)x->done, "skipped",
                           (json_int_t)x->skipped, "next_cursor", cursor_json(x->next)));
    }
    sctx_free(x);
}

/* settle counts one action's end. */
static void
settle(struct sctx *x, int status, bool done) {
    if (status < 0) x->errors++;
    else if (done) x->done++;
    else x->skipped++;
    release(x);
}

static void
on_acted(int status, long long n, const char *errstr, void *arg) {
    (void)errstr;
    settle(arg, status, n > 0);
}

static void
on_canceled(int status, const char *state, const char *errstr, void *arg) {
    (void)errstr;
    settle(arg, status, state && !strcmp(state, "canceled"));
}

/* act starts the action on job j: 1 started, 0 when it does not apply
 * to j's state, < 0 when it could not be sent (counted as an error). */
static int
act(struct sctx *x, struct queue *q, const struct job *j) {
    const char *ids[] = {j->id};
    bool applies = false;
    int rc = 0;
    switch (x->jf.action) {
    case JOB_FILTER_RETRY:
        if ((applies = j->state == JOB_FAILED)) rc = queue_failed_retry(q, ids, 1, on_acted, x);
        break;
    case JOB_FILTER_DELETE:
        if ((applies = j->state == JOB_FAILED)) rc = queue_failed_delete(q, j->id, on_acted, x);
        break;
    case JOB_FILTER_CANCEL:
        applies = j->state == JOB_QUEUED || j->state == JOB_RETRYING || j->state == JOB_WAITING;
        if (applies) rc = queue_cancel(q, j->id, on_canceled, x);
        break;
    case JOB_FILTER_NONE:
        break;
    }
    return !applies ? 0 : rc < 0 ? rc : 1;
}

static void
on_bulk_found(int status, const struct job *jobs, size_t n, const char *next, const char *errstr,
              void *arg) {
    struct sctx *x = arg;
    struct queue *q = app_queue(x->req->app);
    if (status < 0 || !q) {
        log_warn("msg=\"bulk search failed\" error=%s", log_q(errstr));
        req_unavailable(x->req, REQ_REDIS, NULL);
        sctx_free(x);
        return;
    }
    x->matched = (long)n;
    x->next = next ? xstrdup(next) : NULL;
    /* One count for the page itself, so no action's answer ends it early. */
    x->pending = 1;
    for (size_t i = 0; i < n; i++) {
        x->pending++;
        int rc = act(x, app_queue_of_id(x->req->app, jobs[i].id), &jobs[i]);
        if (rc <= 0) {
            x->pending--;
            if (rc < 0) x->errors++;
            else x->skipped++;
        }
    }
    release(x);
}

void
h_admin_jobs_bulk(struct req *req) {
    if (!auth_admin(req)) return;
    struct sctx *x = sctx_parse(req, true);
    if (x) search(x, on_bulk_found);
}
