/* h_jobs — the job resource: POST /api/v1/jobs, GET and DELETE
 * /api/v1/jobs/{id}.
 *
 * One continuation chain: a job is read from Redis (on_job_read); a
 * finished one whose result summary is not in Redis, or one Redis no
 * longer knows (its state expired), continues with its results row from
 * Postgres (on_result_row). Submitting (web/job_submit.h) and canceling
 * (on_canceled) end by answering with the job, so a replayed submit and a
 * cancel join the same chain. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "web/app.h"
#include "web/handlers.h"
#include "web/job_req.h"
#include "web/job_row.h"
#include "web/job_submit.h"
#include "web/query.h"

/* --- reading: Redis first, then the results row --- */

/* flagged adds x's flag (how a submit found the job) to the job v. */
static json_t *
flagged(const struct job_req *x, json_t *v) {
    if (x->flag && v) json_object_set_new(v, x->flag, json_true());
    return v;
}

static void
on_result_row(pg_uv_t *pg, PGresult *res, const char *errstr, void *arg) {
    struct job_req *x = arg;
    (void)pg;
    int found = job_req_row_found(x, res, errstr); /* < 0: answered 503 */
    if (found >= 0 && x->job) {
        /* A finished job from Redis: add its result summary. */
        if (found) json_object_set_new(x->job, "result", job_row_summary(res));
        req_json(x->req, 200, flagged(x, json_incref(x->job)));
    } else if (found > 0) {
        /* The Redis state expired: the row is the job's record. */
        char created[32];
        clock_format_rfc3339(results_int(res, 0, RESULTS_CREATED_AT), created);
        req_json(
            x->req, 200,
            flagged(x, json_pack("{s:s, s:o, s:s, s:n, s:n, s:n, s:s, s:n, s:n, s:o}", "id", x->id,
                                 "url", job_row_string(res, RESULTS_URL), "status", "finished",
                                 "attempts", "created_at", "started_at", "finished_at", created,
                                 "error", "errors", "result", job_row_summary(res))));
    } else if (found == 0) {
        req_problem(x->req, 404, "Not Found", "no job with this id");
    }
    job_req_free(x);
}

/* send_with_summary answers a finished job whose summary the worker left
 * in Redis (compact JSON it wrote itself): spliced in as it is, with no
 * Postgres round trip and no parse. */
static void
send_with_summary(struct req *req, json_t *job, const char *summary, size_t len) {
    struct response r;
    response_init(&r, 200);
    response_json(&r, 200, job);
    if (r.body.len > 2 && r.body.data[r.body.len - 1] == '}') {
        r.body.len--;
        buf_append_str(&r.body, ",\"result\":");
        buf_append(&r.body, summary, len);
        buf_append_char(&r.body, '}');
    }
    req_send(req, &r);
}

static void
on_job_read(int status, const struct job *job, const char *errstr, void *arg) {
    struct job_req *x = arg;
    int found = job_req_state_found(x, status, job, errstr); /* < 0: answered 503 */
    if (found == 0) {
        job_req_read_row(x, on_result_row); /* maybe expired from Redis but stored */
        return;
    } else if (found > 0 && job->state == JOB_FINISHED) {
        json_t *v = flagged(x, json_job(job));
        size_t rlen = job->result ? strlen(job->result) : 0;
        if (rlen >= 2 && job->result[0] == '{' && job->result[rlen - 1] == '}') {
            send_with_summary(x->req, v, job->result, rlen);
            json_decref(v);
        } else {
            x->job = v;
            job_req_read_row(x, on_result_row);
            return;
        }
    } else if (found > 0) {
        req_json_retry(x->req, 200, job_state_terminal(job->state) ? 0 : 1,
                       flagged(x, json_job(job)));
    }
    job_req_free(x);
}

/* wait_seconds reads how long the client will wait for the job to end:
 * ?wait=N (1 to 60; 400 otherwise), else Prefer: wait=N (RFC 7240; a
 * longer wait is cut to 60, a malformed one ignored), else 0. -1: answered. */
static long
wait_seconds(struct req *req) {
    long wait = 0;
    if (req_query_long(req, "wait", 1, LONGPOLL_MAX_S,
                       "wait must be a whole number of seconds from 1 to 60", &wait) < 0)
        return -1;
    if (wait == 0) wait = longpoll_prefer_wait(http_request_header(req->http, "Prefer"));
    return wait > LONGPOLL_MAX_S ? LONGPOLL_MAX_S : wait;
}

void
h_jobs_get(struct req *req) {
    const char *id = req_job_id(req);
    long wait = id ? wait_seconds(req) : -1;
    if (wait < 0) return;
    struct job_req *x = job_req_new(req, id);
    if (wait == 0) {
        job_req_read_state(x, on_job_read);
        return;
    }
    /* A long-poll: on_job_read gets the job once it has ended, or as it
     * is when the wait is over. */
    struct queue *q = app_queue_of_id(req->app, id);
    if (!q || longpoll_wait(&req->app->longpoll, q, id, (int)wait, on_job_read, x) < 0) {
        req_unavailable(req, REQ_REDIS, NULL);
        job_req_free(x);
    }
}

/* --- submit --- */

static void
on_created(struct req *req, enum queue_submit_outcome outcome, const struct job *job,
           const char *other_id) {
    if (outcome == QUEUE_CACHED && job) {
        /* The page's newest finished job, as the submit read it. */
        struct job_req *x = job_req_new(req, job->id);
        x->flag = "cached";
        on_job_read(0, job, NULL, x);
        return;
    }
    if (!job) {
        /* Another job is the answer (200): the first request's under the
         * same Idempotency-Key, the page's live job, or the job whose
         * result is fresh enough. */
        if (!job_id_valid(other_id)) {
            req_unavailable(req, REQ_REDIS, NULL); /* a damaged record */
            return;
        }
        struct job_req *x = job_req_new(req, other_id);
        x->flag = outcome == QUEUE_DEDUPLICATED ? "deduplicated"
                  : outcome == QUEUE_CACHED     ? "cached"
                                                : NULL;
        log_info("msg=\"job answered\" job=%s how=%s", other_id, x->flag ? x->flag : "replay");
        job_req_read_state(x, on_job_read);
        return;
    }
    log_info("msg=\"job created\" job=%s url=%s", job->id, log_q(job->url));
    struct response r;
    response_init(&r, 202);
    response_header(&r, "Location", "/api/v1/jobs/%s", job->id);
    response_header(&r, "Retry-After", "%d", 1);
    json_t *v = json_job(job);
    response_json(&r, 202, v);
    json_decref(v);
    req_send(req, &r);
}

void
h_jobs_create(struct req *req) {
    const struct http_request *http = req->http;
    if (job_submit_limited(req)) return;
    const char *ct = http_request_header(http, "Content-Type");
    if (!ct) ct = "";
    struct job_submit_args a;
    if (!strncasecmp(ct, "application/json", 16)) {
        if (job_submit_parse_json(req, true, &a) < 0) return;
    } else if (!strncasecmp(ct, "application/x-www-form-urlencoded", 33)) {
        if (job_submit_parse_form(req, &a) < 0) return;
    } else {
        req_problem(req, 415, "Unsupported Media Type",
                    "send application/json or application/x-www-form-urlencoded");
        return;
    }
    job_submit(req, &a, on_created);
    job_submit_args_free(&a);
}

/* --- cancel --- */

static void
on_canceled(int status, const char *state, const char *errstr, void *arg) {
    struct job_req *x = arg;
    if (status < 0) {
        log_warn("msg=\"cancel failed\" job=%s error=%s", x->id, log_q(errstr));
        req_unavailable(x->req, REQ_REDIS, NULL);
    } else if (!state) {
        req_problem(x->req, 404, "Not Found", "no job with this id");
    } else if (strcmp(state, "canceled") != 0) { /* canceled before: DELETE is idempotent */
        char detail[128];
        snprintf(detail, sizeof detail,
                 "the job is %s: only a queued or retrying job can be canceled", state);
        req_problem(x->req, 409, "Conflict", detail);
    } else {
        log_info("msg=\"job canceled\" job=%s", x->id);
        job_req_read_state(x, on_job_read); /* answer with the job as it is now */
        return;
    }
    job_req_free(x);
}

void
h_jobs_cancel(struct req *req) {
    const char *id = req_job_id(req);
    if (!id) return;
    struct queue *q = app_queue_of_id(req->app, id);
    struct job_req *x = job_req_new(req, id);
    if (!q || queue_cancel(q, id, on_canceled, x) < 0) {
        req_unavailable(req, REQ_REDIS, NULL);
        job_req_free(x);
    }
}
