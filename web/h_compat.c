/* h_compat — the original Flask app's routes, answered as it did:
 * POST /start (a raw JSON body {"url"}; the job id as the whole answer)
 * and GET /results/{id} (202 "Nay!" while pending, then the top ten
 * [word, count] pairs; a job that will never have a result answers a
 * non-2xx problem, see compat_ended).
 *
 * /results/{id} is one continuation chain: the results row from Postgres
 * (on_result_row); when there is none yet, the job's state in Redis says
 * why (on_job_read). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/xalloc.h"
#include "web/app.h"
#include "web/handlers.h"
#include "web/job_req.h"
#include "web/job_row.h"
#include "web/job_submit.h"

/* --- POST /start --- */

static void
on_started(struct req *req, enum queue_submit_outcome outcome, const struct job *job,
           const char *other_id) {
    (void)outcome;
    req_text(req, 200, job ? job->id : other_id);
}

void
h_compat_start(struct req *req) {
    /* As the original app: a raw JSON body whatever the content type, and
     * http:// in front of a URL without a scheme. */
    if (job_submit_limited(req)) return;
    struct job_submit_args a;
    if (job_submit_parse_json(req, false, &a) < 0) return;
    if (!strstr(a.url, "://")) {
        char *full = xasprintf("http://%s", a.url);
        free(a.url);
        a.url = full;
    }
    job_submit(req, &a, on_started);
    job_submit_args_free(&a);
}

/* --- GET /results/{id} --- */

/* compat_ended answers the original app's poll for a job that will never
 * have a result. Its page (AngularJS $http) shows "There was an error
 * submitting your URL" only for a non-2xx status, so: 502 for a failed
 * job (the page behind the URL could not be fetched or used: this server
 * fetched it on the client's behalf, as a gateway, and got no usable
 * answer) and 410 for a canceled one (its result will never exist).
 * problem+json, with the job's error as the API shows it. */
static void
compat_ended(struct req *req, const struct job *job) {
    bool failed = job->state == JOB_FAILED;
    int status = failed ? 502 : 410;
    const char *code = job->error_code ? job->error_code : job_state_name(job->state);
    const char *what = failed ? "the job failed" : "the job was canceled";
    char detail[600];
    if (job->error) snprintf(detail, sizeof detail, "%s: %s", what, job->error);
    else snprintf(detail, sizeof detail, "%s", what);
    req_problem_ext(req, status, failed ? "Bad Gateway" : "Gone", detail,
                    json_pack("{s:{s:s, s:s}}", "error", "code", code, "message",
                              job->error ? job->error : what));
}

static void
on_job_read(int status, const struct job *job, const char *errstr, void *arg) {
    struct job_req *x = arg;
    int found = job_req_state_found(x, status, job, errstr); /* < 0: answered 503 */
    if (found == 0) {
        req_problem(x->req, 404, "Not Found", "no job with this id");
    } else if (found > 0 && (job->state == JOB_FAILED || job->state == JOB_CANCELED)) {
        compat_ended(x->req, job);
    } else if (found > 0) {
        req_text_retry(x->req, 202, 1, "Nay!");
    }
    job_req_free(x);
}

static void
on_result_row(pg_uv_t *pg, PGresult *res, const char *errstr, void *arg) {
    struct job_req *x = arg;
    (void)pg;
    int found = job_req_row_found(x, res, errstr);
    if (found == 0) {
        job_req_read_state(x, on_job_read); /* no result yet: the job's state says why */
        return;
    }
    if (found > 0) {
        json_t *top = job_row_top(res, 10), *pairs = json_array(), *item;
        size_t i;
        json_array_foreach(top, i, item)
            json_array_append_new(pairs, json_pack("[O, O]", json_object_get(item, "word"),
                                                   json_object_get(item, "count")));
        json_decref(top);
        req_json(x->req, 200, pairs);
    }
    job_req_free(x);
}

void
h_compat_results(struct req *req) {
    const char *id = req_job_id(req);
    if (id) job_req_read_row(job_req_new(req, id), on_result_row);
}
