/* h_job_result — GET /api/v1/jobs/{id}/result?top=N: a job's counts.
 *
 * One continuation chain: the results row from Postgres (on_result_row);
 * when there is none yet, the job's state in Redis says why
 * (on_job_read): 202 while it runs, 409 when it failed or was canceled,
 * 404 when it is unknown or its result is no longer stored. */
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/json.h"
#include "web/app.h"
#include "web/handlers.h"
#include "web/job_req.h"
#include "web/job_row.h"

#define TOP_DEFAULT 10
#define TOP_MAX 100

static void
on_job_read(int status, const struct job *job, const char *errstr, void *arg) {
    struct job_req *x = arg;
    int found = job_req_state_found(x, status, job, errstr); /* < 0: answered 503 */
    if (found == 0) {
        req_problem(x->req, 404, "Not Found", "no job with this id");
    } else if (found > 0 && (job->state == JOB_FAILED || job->state == JOB_CANCELED)) {
        char detail[512];
        snprintf(detail, sizeof detail, "the job %s: %s", job_state_name(job->state),
                 job->error ? job->error : "no result");
        req_problem(x->req, 409, "No Result", detail);
    } else if (found > 0 && job->state == JOB_FINISHED) {
        req_problem(x->req, 404, "Not Found", "the result is no longer stored");
    } else if (found > 0) {
        req_json_retry(
            x->req, 202, 1,
            json_pack("{s:s, s:s}", "id", job->id, "status", job_state_name(job->state)));
    }
    job_req_free(x);
}

/* result_json is the whole result: counts, top words and fetch metadata. */
static json_t *
result_json(const char *id, const PGresult *res, int top) {
    char created[32];
    clock_format_rfc3339(results_int(res, 0, RESULTS_CREATED_AT), created);
    const char *nm = results_text(res, 0, RESULTS_NOT_MODIFIED);
    return json_pack(
        "{s:s, s:o, s:o, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:{s:o, s:I, s:o, s:o, s:I, s:I, s:b, "
        "s:o, s:o}, s:s}",
        "job_id", id, "url", job_row_string(res, RESULTS_URL), "normalized_url",
        job_row_string(res, RESULTS_URL_KEY), "total_words",
        (json_int_t)results_int(res, 0, RESULTS_TOTAL_WORDS), "unique_words",
        (json_int_t)results_int(res, 0, RESULTS_UNIQUE_WORDS), "total_words_no_stop",
        (json_int_t)results_int(res, 0, RESULTS_TOTAL_NO_STOP), "unique_words_no_stop",
        (json_int_t)results_int(res, 0, RESULTS_UNIQUE_NO_STOP), "top", job_row_top(res, top),
        "counts", job_row_json(res, RESULTS_ALL), "counts_no_stop_words",
        job_row_json(res, RESULTS_NO_STOP), "fetch", "final_url",
        job_row_string(res, RESULTS_FINAL_URL), "http_status",
        (json_int_t)results_int(res, 0, RESULTS_HTTP_STATUS), "content_type",
        job_row_string(res, RESULTS_CONTENT_TYPE), "charset", job_row_string(res, RESULTS_CHARSET),
        "bytes", (json_int_t)results_int(res, 0, RESULTS_BYTES), "ms",
        (json_int_t)results_int(res, 0, RESULTS_FETCH_MS), "not_modified",
        nm && !strcmp(nm, "true"), "etag", job_row_string(res, RESULTS_ETAG), "last_modified",
        job_row_string(res, RESULTS_LAST_MODIFIED), "created_at", created);
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
    if (found > 0) req_json(x->req, 200, result_json(x->id, res, x->top));
    job_req_free(x);
}

void
h_jobs_result(struct req *req) {
    const char *id = req_job_id(req);
    if (!id) return;
    long top = TOP_DEFAULT;
    if (req_query_long(req, "top", 1, TOP_MAX, "top must be a whole number from 1 to 100", &top) <
        0)
        return;
    struct job_req *x = job_req_new(req, id);
    x->top = (int)top;
    job_req_read_row(x, on_result_row);
}
