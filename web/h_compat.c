/* h_compat — the original Flask app's routes, answered as it did:
 * POST /start (a raw JSON body {"url"}; the job id as the whole answer)
 * and GET /results/{id} (202 "Nay!" while pending, then the top ten
 * [word, count] pairs).
 *
 * /results/{id} is one continuation chain: the results row from Postgres
 * (on_result_row); when there is none yet, the job's state in Redis says
 * why (on_job_read). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "web/app.h"
#include "web/handlers.h"
#include "web/job_row.h"
#include "web/job_submit.h"

/* --- POST /start --- */

static void
on_started(struct req *req, const struct job *job, const char *replay_id) {
    req_text(req, 200, job ? job->id : replay_id);
}

void
h_compat_start(struct req *req) {
    /* As the original app: a raw JSON body whatever the content type, and
     * http:// in front of a URL without a scheme. */
    const struct http_request *http = req->http;
    if (job_submit_limited(req)) return;
    char err[256];
    json_t *v = json_decode_object(http->body, http->body_len, err, sizeof err);
    if (!v) {
        req_problem(req, 400, "Malformed JSON", err);
        return;
    }
    const char *url = json_get_string(v, "url");
    if (!url) {
        req_problem(req, 422, "Invalid URL", "the body needs a string field \"url\"");
    } else {
        char *full = strstr(url, "://") ? xstrdup(url) : xasprintf("http://%s", url);
        job_submit(req, full, on_started);
        free(full);
    }
    json_decref(v);
}

/* --- GET /results/{id} --- */

/* A request waiting on Postgres, then maybe Redis. */
struct compat_ctx {
    struct req *req;
    char id[JOB_ID_LEN + 1];
};

static void
on_job_read(int status, const struct job *job, const char *errstr, void *arg) {
    struct compat_ctx *x = arg;
    if (status < 0) {
        log_warn("msg=\"job read failed\" job=%s error=%s", x->id, log_q(errstr));
        req_unavailable(x->req, REQ_REDIS, NULL);
    } else if (!job) {
        req_problem(x->req, 404, "Not Found", "no job with this id");
    } else if (job->state == JOB_FAILED || job->state == JOB_CANCELED) {
        req_json(x->req, 200,
                 json_pack("{s:{s:s, s:s}}", "error", "code",
                           job->error_code ? job->error_code : job_state_name(job->state),
                           "message", job->error ? job->error : job_state_name(job->state)));
    } else {
        req_text_retry(x->req, 202, 1, "Nay!");
    }
    free(x);
}

static void
on_result_row(pg_uv_t *pg, PGresult *res, const char *errstr, void *arg) {
    struct compat_ctx *x = arg;
    (void)pg;
    int found = job_row_found(res, errstr, x->id);
    if (found < 0) {
        req_unavailable(x->req, REQ_POSTGRES, NULL);
    } else if (found) {
        json_t *top = job_row_top(res, 10), *pairs = json_array(), *item;
        size_t i;
        json_array_foreach(top, i, item)
            json_array_append_new(pairs, json_pack("[O, O]", json_object_get(item, "word"),
                                                   json_object_get(item, "count")));
        json_decref(top);
        req_json(x->req, 200, pairs);
    } else {
        /* No result yet: the job's state in Redis says why. */
        struct queue *q = app_queue(x->req->app);
        if (q && queue_get(q, x->id, on_job_read, x) == 0) return;
        req_unavailable(x->req, REQ_REDIS, NULL);
    }
    free(x);
}

void
h_compat_results(struct req *req) {
    const char *id = req_job_id(req);
    if (!id) return;
    struct compat_ctx *x = xcalloc(1, sizeof *x);
    x->req = req;
    snprintf(x->id, sizeof x->id, "%s", id);
    if (job_row_read(req->app, x->id, on_result_row, x) < 0) {
        req_unavailable(req, REQ_POSTGRES, NULL);
        free(x);
    }
}
