/* h_jobs — the job resources: submit, read, result; and the original
 * app's /start and /results/{id}. Job state comes from Redis (queue.h),
 * results from Postgres; a finished job whose Redis state has expired is
 * still answered from Postgres. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/sha256.h"
#include "common/url_check.h"
#include "common/xalloc.h"
#include "web/app.h"
#include "web/handlers.h"
#include "web/query.h"

enum kind { K_JOB, K_RESULT, K_COMPAT };

/* Per-request state that travels through Redis and Postgres callbacks. */
struct ctx {
    struct req *req;
    struct app *app;
    enum kind kind;
    char id[JOB_ID_LEN + 1];
    int top;
    json_t *job; /* K_JOB: the job JSON waiting for its result summary */
};

static const char RESULT_SQL[] =
    "SELECT url, (extract(epoch FROM created_at) * 1000)::bigint, total_words, unique_words,"
    " total_words_no_stop, unique_words_no_stop, top_words::text, result_all::text,"
    " result_no_stop_words::text, final_url, http_status, content_type, charset, bytes, fetch_ms"
    " FROM results WHERE job_id = $1";

/* respond_json sends v (reference taken); retry_after > 0 adds Retry-After. */
static void
respond_json(struct req *req, int status, int retry_after, json_t *v) {
    struct response r;
    response_init(&r, status);
    if (retry_after > 0) response_header(&r, "Retry-After", "%d", retry_after);
    response_json(&r, status, v);
    json_decref(v);
    req_send(req, &r);
}

static void
respond_text(struct req *req, int status, int retry_after, const char *text) {
    struct response r;
    response_init(&r, status);
    if (retry_after > 0) response_header(&r, "Retry-After", "%d", retry_after);
    response_text(&r, status, NULL, text);
    req_send(req, &r);
}

static void
unavailable(struct req *req, const char *what, const char *detail) {
    char title[64];
    snprintf(title, sizeof title, "%s Unavailable", what);
    struct response r;
    response_init(&r, 503);
    response_header(&r, "Retry-After", "%d", 2);
    response_problem(&r, 503, title, detail ? detail : "try again shortly");
    req_send(req, &r);
}

static struct ctx *
ctx_new(struct req *req, enum kind kind, const char *id) {
    struct ctx *x = xcalloc(1, sizeof *x);
    x->req = req;
    x->app = req->app;
    x->kind = kind;
    if (id) { /* a valid job id (checked by the caller): JOB_ID_LEN bytes */
        memcpy(x->id, id, JOB_ID_LEN);
        x->id[JOB_ID_LEN] = '\0';
    }
    x->top = 10;
    return x;
}

static void
ctx_free(struct ctx *x) {
    if (x->job) json_decref(x->job);
    free(x);
}

/* sent checks that a Redis or Postgres call took x; when it did not
 * (connection down or closing), the client gets 503 and x is freed. */
static bool
sent(struct ctx *x, int rc, const char *what) {
    if (rc >= 0) return true;
    bool redis = !strcmp(what, "Redis");
    unavailable(x->req, what,
                redis ? "the job queue is unreachable" : "the results store is unreachable");
    ctx_free(x);
    return false;
}

static void on_job_state(int status, const struct job *job, const char *errstr, void *arg);

/* read_job asks Redis for x's job as kind (the answer goes to on_job_state). */
static void
read_job(struct ctx *x, enum kind kind) {
    struct queue *q = app_queue(x->app);
    x->kind = kind;
    int rc = q && job_id_valid(x->id) ? queue_get(q, x->id, on_job_state, x) : UV_ECANCELED;
    sent(x, rc, "Redis");
}

static const char *
path_id(const struct req *req) {
    return req->match.nparams ? req->match.params[0] : NULL;
}

/* --- submit --- */

static void
on_submitted(int status, const struct job *job, const char *errstr, void *arg) {
    struct ctx *x = arg;
    if (status < 0) {
        log_warn("msg=\"submit failed\" error=%s", log_q(errstr));
        unavailable(x->req, "Redis", "the job queue is unreachable");
    } else if (x->kind == K_COMPAT) {
        respond_text(x->req, 200, 0, job->id);
    } else {
        log_info("msg=\"job created\" job=%s url=%s", job->id, log_q(job->url));
        struct response r;
        response_init(&r, 202);
        response_header(&r, "Location", "/api/v1/jobs/%s", job->id);
        response_header(&r, "Retry-After", "%d", 1);
        json_t *v = json_job(job);
        response_json(&r, 202, v);
        json_decref(v);
        req_send(x->req, &r);
    }
    ctx_free(x);
}

/* IDEM_TTL_S: how long an Idempotency-Key is remembered. */
#define IDEM_TTL_S 86400

static void
on_submitted_idem(int status, enum queue_submit_outcome outcome, const struct job *job,
                  const char *existing_id, const char *errstr, void *arg) {
    struct ctx *x = arg;
    if (status < 0 || outcome == QUEUE_CREATED) {
        on_submitted(status, job, errstr, arg);
        return;
    }
    if (outcome == QUEUE_REPLAY && x->kind == K_COMPAT) {
        respond_text(x->req, 200, 0, existing_id);
        ctx_free(x);
        return;
    }
    if (outcome == QUEUE_CONFLICT) {
        req_problem(x->req, 422, "Idempotency Key Reused",
                    "this Idempotency-Key was used with a different body");
        ctx_free(x);
        return;
    }
    /* A replay: answer 200 with the job the first request made. */
    snprintf(x->id, sizeof x->id, "%.*s", JOB_ID_LEN, existing_id);
    read_job(x, K_JOB);
}

/* idem_key returns the request's Idempotency-Key, NULL when absent; sets
 * *bad when present but unusable (empty, over 256 bytes, not printable). */
static const char *
idem_key(const struct http_request *http, bool *bad) {
    const char *k = http_request_header(http, "Idempotency-Key");
    *bad = false;
    if (!k) return NULL;
    size_t n = strlen(k);
    bool printable = n > 0 && n <= 256;
    for (size_t i = 0; printable && i < n; i++)
        printable = (unsigned char)k[i] > 0x20 && (unsigned char)k[i] < 0x7f;
    *bad = !printable;
    return printable ? k : NULL;
}

static void
submit(struct req *req, enum kind kind, const char *url) {
    char err[256];
    if (url_check(url, err, sizeof err) < 0) {
        req_problem(req, 422, "Invalid URL", err);
        return;
    }
    bool bad_key;
    const char *key = idem_key(req->http, &bad_key);
    if (bad_key) {
        req_problem(req, 400, "Bad Idempotency-Key",
                    "Idempotency-Key must be 1 to 256 printable ASCII characters");
        return;
    }
    struct queue *q = app_queue(req->app);
    struct ctx *x = ctx_new(req, kind, NULL);
    int rc = UV_ECANCELED;
    if (q && key) {
        char hash[65];
        rc = sha256_hex(req->http->body, req->http->body_len, hash) < 0
                 ? UV_EIO
                 : queue_submit_idem(q, url, key, hash, IDEM_TTL_S, on_submitted_idem, x);
    } else if (q) {
        rc = queue_submit(q, url, on_submitted, x);
    }
    sent(x, rc, "Redis");
}

/* rate_limited answers 429 when the client has used up its submissions. */
static bool
rate_limited(struct req *req) {
    int wait =
        ratelimit_take(&req->app->submit_limit, req_client_addr(req), (uint64_t)clock_now_ms());
    if (wait == 0) return false;
    struct response r;
    response_init(&r, 429);
    response_header(&r, "Retry-After", "%d", wait);
    char detail[128];
    snprintf(detail, sizeof detail, "at most %d job submissions per second from one address",
             req->app->cfg->submit_rate);
    response_problem(&r, 429, "Too Many Requests", detail);
    req_send(req, &r);
    return true;
}

void
h_jobs_create(struct req *req) {
    const struct http_request *http = req->http;
    if (rate_limited(req)) return;
    const char *ct = http_request_header(http, "Content-Type");
    if (!ct) ct = "";
    if (!strncasecmp(ct, "application/json", 16)) {
        char err[256];
        json_t *v = json_decode_object(http->body, http->body_len, err, sizeof err);
        if (!v) {
            req_problem(req, 400, "Malformed JSON", err);
            return;
        }
        const char *url = json_get_string(v, "url");
        if (!url) req_problem(req, 422, "Invalid URL", "the body needs a string field \"url\"");
        else submit(req, K_JOB, url);
        json_decref(v);
    } else if (!strncasecmp(ct, "application/x-www-form-urlencoded", 33)) {
        char *url = query_get(http->body, http->body_len, "url");
        if (!url) req_problem(req, 422, "Invalid URL", "the form needs a field \"url\"");
        else submit(req, K_JOB, url);
        free(url);
    } else {
        req_problem(req, 415, "Unsupported Media Type",
                    "send application/json or application/x-www-form-urlencoded");
    }
}

void
h_compat_start(struct req *req) {
    /* As the original app: a raw JSON body whatever the content type, and
     * http:// in front of a URL without a scheme. */
    const struct http_request *http = req->http;
    if (rate_limited(req)) return;
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
        submit(req, K_COMPAT, full);
        free(full);
    }
    json_decref(v);
}

/* --- reading: Postgres row to JSON --- */

static json_t *
parsed(const char *text) {
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    return v ? v : json_null();
}

static json_t *
top_slice(PGresult *res, int n) {
    json_t *all = parsed(PQgetvalue(res, 0, 6));
    json_t *out = json_array();
    for (size_t i = 0; i < json_array_size(all) && (int)i < n; i++)
        json_array_append(out, json_array_get(all, i));
    json_decref(all);
    return out;
}

static json_int_t
int_at(PGresult *res, int col) {
    return PQgetisnull(res, 0, col) ? 0 : strtoll(PQgetvalue(res, 0, col), NULL, 10);
}

static json_t *
str_at(PGresult *res, int col) {
    return PQgetisnull(res, 0, col) ? json_null() : json_string(PQgetvalue(res, 0, col));
}

static json_t *
full_result(const char *id, PGresult *res, int top) {
    char created[32];
    clock_format_rfc3339(int_at(res, 1), created);
    return json_pack(
        "{s:s, s:o, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:{s:o, s:I, s:o, s:o, s:I, "
        "s:I}, s:s}",
        "job_id", id, "url", str_at(res, 0), "total_words", int_at(res, 2), "unique_words",
        int_at(res, 3), "total_words_no_stop", int_at(res, 4), "unique_words_no_stop",
        int_at(res, 5), "top", top_slice(res, top), "counts", parsed(PQgetvalue(res, 0, 7)),
        "counts_no_stop_words", parsed(PQgetvalue(res, 0, 8)), "fetch", "final_url", str_at(res, 9),
        "http_status", int_at(res, 10), "content_type", str_at(res, 11), "charset", str_at(res, 12),
        "bytes", int_at(res, 13), "ms", int_at(res, 14), "created_at", created);
}

/* on_row answers from the results row, or falls back to Redis state. */
static void
on_row(pg_uv_t *pg, PGresult *res, const char *errstr, void *arg) {
    struct ctx *x = arg;
    (void)pg;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_warn("msg=\"result query failed\" job=%s error=%s", x->id,
                 log_q(res ? PQresultErrorMessage(res) : errstr));
        unavailable(x->req, "Postgres", "the results store is unreachable");
        ctx_free(x);
        return;
    }
    bool found = PQntuples(res) == 1;
    if (x->kind == K_JOB && x->job) {
        /* A finished job from Redis: add its result summary. */
        if (found)
            json_object_set_new(x->job, "result",
                                json_pack("{s:I, s:I, s:o}", "total_words", int_at(res, 2),
                                          "unique_words", int_at(res, 3), "top",
                                          top_slice(res, 10)));
        json_t *job = x->job;
        x->job = NULL;
        respond_json(x->req, 200, 0, job);
    } else if (found && x->kind == K_JOB) {
        /* The Redis state expired: the row is the job's record. */
        char created[32];
        clock_format_rfc3339(int_at(res, 1), created);
        json_t *job = json_pack("{s:s, s:o, s:s, s:n, s:n, s:n, s:s, s:n, s:n, s:{s:I, s:I, s:o}}",
                                "id", x->id, "url", str_at(res, 0), "status", "finished",
                                "attempts", "created_at", "started_at", "finished_at", created,
                                "error", "errors", "result", "total_words", int_at(res, 2),
                                "unique_words", int_at(res, 3), "top", top_slice(res, 10));
        respond_json(x->req, 200, 0, job);
    } else if (found && x->kind == K_RESULT) {
        respond_json(x->req, 200, 0, full_result(x->id, res, x->top));
    } else if (found) {
        json_t *top = top_slice(res, 10), *pairs = json_array(), *item;
        size_t i;
        json_array_foreach(top, i, item)
            json_array_append_new(pairs, json_pack("[O, O]", json_object_get(item, "word"),
                                                   json_object_get(item, "count")));
        json_decref(top);
        respond_json(x->req, 200, 0, pairs);
    } else if (x->kind == K_JOB) {
        /* Redis did not know it either (K_JOB asks Redis first). */
        req_problem(x->req, 404, "Not Found", "no job with this id");
    } else {
        /* No result yet: the job's state in Redis says why. */
        read_job(x, x->kind);
        return;
    }
    ctx_free(x);
}

static void
query_row(struct ctx *x) {
    const char *params[] = {x->id};
    int rc = app_pg_query(x->app, RESULT_SQL, 1, params, on_row, x);
    sent(x, rc, "Postgres");
}

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
    const char *message = job->error ? job->error : what;
    char detail[600];
    if (job->error) snprintf(detail, sizeof detail, "%s: %s", what, job->error);
    else snprintf(detail, sizeof detail, "%s", what);
    json_t *p = json_problem(status, response_reason(status), detail);
    json_object_set_new(p, "error", json_pack("{s:s, s:s}", "code", code, "message", message));
    struct response r;
    response_init(&r, status);
    json_dump_append(p, &r.body);
    json_decref(p);
    response_header(&r, "Content-Type", "application/problem+json");
    req_send(req, &r);
}

static void
on_job_state(int status, const struct job *job, const char *errstr, void *arg) {
    struct ctx *x = arg;
    if (status < 0) {
        log_warn("msg=\"job read failed\" job=%s error=%s", x->id, log_q(errstr));
        unavailable(x->req, "Redis", "the job queue is unreachable");
    } else if (x->kind == K_JOB) {
        if (!job) {
            query_row(x); /* maybe expired from Redis but stored */
            return;
        }
        json_t *v = json_job(job);
        size_t rlen = job->result ? strlen(job->result) : 0;
        if (job->state == JOB_FINISHED && rlen >= 2 && job->result[0] == '{' &&
            job->result[rlen - 1] == '}') {
            /* The worker left the summary in Redis (compact JSON it wrote
             * itself): spliced in as it is, no Postgres round trip and no
             * parse. */
            struct response r;
            response_init(&r, 200);
            response_json(&r, 200, v);
            json_decref(v);
            if (r.body.len > 2 && r.body.data[r.body.len - 1] == '}') {
                r.body.len--;
                buf_append_str(&r.body, ",\"result\":");
                buf_append(&r.body, job->result, rlen);
                buf_append_char(&r.body, '}');
            }
            req_send(x->req, &r);
            ctx_free(x);
            return;
        }
        if (job->state == JOB_FINISHED) {
            x->job = v;
            query_row(x);
            return;
        }
        respond_json(x->req, 200, job_state_terminal(job->state) ? 0 : 1, v);
    } else if (!job) {
        req_problem(x->req, 404, "Not Found", "no job with this id");
    } else if (x->kind == K_COMPAT) {
        if (job->state == JOB_FAILED || job->state == JOB_CANCELED) compat_ended(x->req, job);
        else respond_text(x->req, 202, 1, "Nay!");
    } else if (job->state == JOB_FAILED || job->state == JOB_CANCELED) {
        char detail[512];
        snprintf(detail, sizeof detail, "the job %s: %s", job_state_name(job->state),
                 job->error ? job->error : "no result");
        req_problem(x->req, 409, "No Result", detail);
    } else if (job->state == JOB_FINISHED) {
        req_problem(x->req, 404, "Not Found", "the result is no longer stored");
    } else {
        respond_json(x->req, 202, 1,
                     json_pack("{s:s, s:s}", "id", job->id, "status", job_state_name(job->state)));
    }
    ctx_free(x);
}

static bool
valid_id(struct req *req, const char *id) {
    if (id && job_id_valid(id)) return true;
    req_problem(req, 404, "Not Found", "no job with this id");
    return false;
}

void
h_jobs_get(struct req *req) {
    const char *id = path_id(req);
    if (!valid_id(req, id)) return;
    read_job(ctx_new(req, K_JOB, id), K_JOB);
}

void
h_jobs_result(struct req *req) {
    const char *id = path_id(req);
    if (!valid_id(req, id)) return;
    long top = 10;
    if (query_int(req->http->query, "top", 1, 100, &top) < 0) {
        req_problem(req, 400, "Bad Request", "top must be a whole number from 1 to 100");
        return;
    }
    struct ctx *x = ctx_new(req, K_RESULT, id);
    x->top = (int)top;
    query_row(x);
}

void
h_compat_results(struct req *req) {
    const char *id = path_id(req);
    if (!valid_id(req, id)) return;
    query_row(ctx_new(req, K_COMPAT, id));
}

/* --- cancel --- */

static void
on_canceled(int status, const char *state, const char *errstr, void *arg) {
    struct ctx *x = arg;
    if (status < 0) {
        log_warn("msg=\"cancel failed\" job=%s error=%s", x->id, log_q(errstr));
        unavailable(x->req, "Redis", "the job queue is unreachable");
    } else if (!state) {
        req_problem(x->req, 404, "Not Found", "no job with this id");
    } else if (strcmp(state, "canceled") != 0) { /* canceled before: DELETE is idempotent */
        char detail[128];
        snprintf(detail, sizeof detail,
                 "the job is %s: only a queued or retrying job can be canceled", state);
        req_problem(x->req, 409, "Conflict", detail);
    } else {
        log_info("msg=\"job canceled\" job=%s", x->id);
        read_job(x, K_JOB); /* answer with the job as it is now */
        return;
    }
    ctx_free(x);
}

void
h_jobs_cancel(struct req *req) {
    const char *id = path_id(req);
    if (!valid_id(req, id)) return;
    struct queue *q = app_queue(req->app);
    struct ctx *x = ctx_new(req, K_JOB, id);
    int rc = q ? queue_cancel(q, id, on_canceled, x) : UV_ECANCELED;
    sent(x, rc, "Redis");
}
