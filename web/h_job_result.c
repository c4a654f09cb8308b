/* h_job_result — GET /api/v1/jobs/{id}/result?top=N&fields=F&counts=B:
 * a job's counts. fields= picks members (default all), counts=false
 * drops the two count maps; the maps, when asked for, are streamed from
 * Postgres (web/result_stream.h), the rest comes from one small row read.
 *
 * One continuation chain: the results row from Postgres (on_result_row);
 * when there is none yet, the job's state in Redis says why
 * (on_job_read): 202 while it runs, 409 when it failed or was canceled,
 * 404 when it is unknown or its result is no longer stored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/json.h"
#include "web/app.h"
#include "web/handlers.h"
#include "web/job_req.h"
#include "web/job_row.h"
#include "web/query.h"
#include "web/result_stream.h"

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

/* The members a client may ask for with fields=, in answer order. */
enum field {
    F_JOB_ID,
    F_URL,
    F_TOTAL,
    F_UNIQUE,
    F_TOTAL_NO_STOP,
    F_UNIQUE_NO_STOP,
    F_TOP,
    F_FETCH,
    F_CREATED_AT,
    F_COUNTS,
    F_COUNTS_NO_STOP,
    F_NFIELDS
};
static const char *const FIELD_NAME[F_NFIELDS] = {
    "job_id", "url",   "total_words", "unique_words", "total_words_no_stop", "unique_words_no_stop",
    "top",    "fetch", "created_at",  "counts",       "counts_no_stop_words"};
#define ALL_FIELDS ((1u << F_NFIELDS) - 1)
#define HAS(mask, f) (((mask) >> (f)) & 1u)

/* result_json is the result's small members among mask (never the counts,
 * which result_stream sends). */
static json_t *
result_json(const char *id, const PGresult *res, int top, unsigned mask) {
    json_t *v = json_object();
    if (HAS(mask, F_JOB_ID)) json_object_set_new(v, "job_id", json_string(id));
    if (HAS(mask, F_URL)) {
        json_object_set_new(v, "url", job_row_string(res, RESULTS_URL));
        json_object_set_new(v, "normalized_url", job_row_string(res, RESULTS_URL_KEY));
    }
    static const struct {
        enum field f;
        enum results_col col;
    } ints[] = {{F_TOTAL, RESULTS_TOTAL_WORDS},
                {F_UNIQUE, RESULTS_UNIQUE_WORDS},
                {F_TOTAL_NO_STOP, RESULTS_TOTAL_NO_STOP},
                {F_UNIQUE_NO_STOP, RESULTS_UNIQUE_NO_STOP}};
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++)
        if (HAS(mask, ints[i].f))
            json_object_set_new(v, FIELD_NAME[ints[i].f],
                                json_integer(results_int(res, 0, ints[i].col)));
    if (HAS(mask, F_TOP)) json_object_set_new(v, "top", job_row_top(res, top));
    if (HAS(mask, F_FETCH)) {
        const char *nm = results_text(res, 0, RESULTS_NOT_MODIFIED);
        json_object_set_new(v, "fetch",
                            json_pack("{s:o, s:I, s:o, s:o, s:I, s:I, s:b, s:o, s:o}", "final_url",
                                      job_row_string(res, RESULTS_FINAL_URL), "http_status",
                                      (json_int_t)results_int(res, 0, RESULTS_HTTP_STATUS),
                                      "content_type", job_row_string(res, RESULTS_CONTENT_TYPE),
                                      "charset", job_row_string(res, RESULTS_CHARSET), "bytes",
                                      (json_int_t)results_int(res, 0, RESULTS_BYTES), "ms",
                                      (json_int_t)results_int(res, 0, RESULTS_FETCH_MS),
                                      "not_modified", nm && !strcmp(nm, "true"), "etag",
                                      job_row_string(res, RESULTS_ETAG), "last_modified",
                                      job_row_string(res, RESULTS_LAST_MODIFIED)));
    }
    if (HAS(mask, F_CREATED_AT)) {
        char created[32];
        clock_format_rfc3339(results_int(res, 0, RESULTS_CREATED_AT), created);
        json_object_set_new(v, "created_at", json_string(created));
    }
    return v;
}

/* parse_fields reads fields= (a comma-separated list of FIELD_NAME) and
 * counts= (a boolean; false drops both counts) into *mask, or answers 400
 * and returns -1. */
static int
parse_fields(struct req *req, unsigned *mask) {
    const char *q = req->http->query ? req->http->query : "";
    *mask = ALL_FIELDS;
    char *list = query_get(q, strlen(q), "fields");
    if (list) {
        *mask = 0;
        char *save = NULL;
        for (char *name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
            int f = 0;
            while (f < F_NFIELDS && strcmp(name, FIELD_NAME[f])) f++;
            if (f == F_NFIELDS) {
                char detail[512];
                snprintf(detail, sizeof detail,
                         "fields names unknown member %.64s; it is a comma-separated list of "
                         "job_id, url, total_words, unique_words, total_words_no_stop, "
                         "unique_words_no_stop, top, fetch, created_at, counts, "
                         "counts_no_stop_words",
                         name);
                free(list);
                req_problem(req, 400, "Bad Request", detail);
                return -1;
            }
            *mask |= 1u << f;
        }
        free(list);
        if (!*mask) {
            req_problem(req, 400, "Bad Request", "fields is empty");
            return -1;
        }
    }
    char *counts = query_get(q, strlen(q), "counts");
    if (counts) {
        bool on;
        int rc = config_parse_bool(counts, &on);
        free(counts);
        if (rc < 0) {
            req_problem(req, 400, "Bad Request", "counts is true or false");
            return -1;
        }
        if (!on) *mask &= ~((1u << F_COUNTS) | (1u << F_COUNTS_NO_STOP));
    }
    return 0;
}

static void
on_result_row(pg_uv_t *pg, PGresult *res, const char *errstr, void *arg) {
    struct job_req *x = arg;
    int found = job_req_row_found(x, res, errstr);
    if (found == 0) {
        job_req_read_state(x, on_job_read); /* no result yet: the job's state says why */
        return;
    }
    if (found > 0) {
        json_t *v = result_json(x->id, res, x->top, x->fields);
        if (HAS(x->fields, F_COUNTS) || HAS(x->fields, F_COUNTS_NO_STOP))
            /* The counts come from the server that had the row. */
            result_stream_send(x->req, app_db_of(x->req->app, pg), v, x->id,
                               HAS(x->fields, F_COUNTS), HAS(x->fields, F_COUNTS_NO_STOP));
        else req_json(x->req, 200, v);
    }
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
    unsigned fields;
    if (parse_fields(req, &fields) < 0) return;
    struct job_req *x = job_req_new(req, id);
    x->top = (int)top;
    x->fields = fields;
    job_req_read_row(x, on_result_row);
}
