/* req.c — the handler kit; see req.h. */
#include "web/req.h"

#include <stdio.h>

#include "common/job.h"
#include "web/query.h"
#include "web/response.h"

static void
json_answer(struct req *req, int status, int retry_after_s, json_t *v) {
    struct response r;
    response_init(&r, status);
    if (retry_after_s > 0) response_header(&r, "Retry-After", "%d", retry_after_s);
    response_json(&r, status, v);
    json_decref(v);
    req_send(req, &r);
}

void
req_json(struct req *req, int status, json_t *v) {
    json_answer(req, status, 0, v);
}

void
req_json_retry(struct req *req, int status, int retry_after_s, json_t *v) {
    json_answer(req, status, retry_after_s, v);
}

static void
text_answer(struct req *req, int status, int retry_after_s, const char *text) {
    struct response r;
    response_init(&r, status);
    if (retry_after_s > 0) response_header(&r, "Retry-After", "%d", retry_after_s);
    response_text(&r, status, NULL, text);
    req_send(req, &r);
}

void
req_text(struct req *req, int status, const char *text) {
    text_answer(req, status, 0, text);
}

void
req_text_retry(struct req *req, int status, int retry_after_s, const char *text) {
    text_answer(req, status, retry_after_s, text);
}

void
req_problem_retry(struct req *req, int status, int retry_after_s, const char *title,
                  const char *detail) {
    struct response r;
    response_init(&r, status);
    if (retry_after_s > 0) response_header(&r, "Retry-After", "%d", retry_after_s);
    response_problem(&r, status, title, detail);
    req_send(req, &r);
}

void
req_problem_ext(struct req *req, int status, const char *title, const char *detail,
                json_t *members) {
    struct response r;
    response_init(&r, status);
    response_problem_ext(&r, status, title, detail, members);
    req_send(req, &r);
}

void
req_unavailable(struct req *req, enum req_dependency dep, const char *detail) {
    bool redis = dep == REQ_REDIS;
    if (!detail)
        detail = redis ? "the job queue is unreachable" : "the results store is unreachable";
    req_problem_retry(req, 503, REQ_UNAVAILABLE_RETRY_S,
                      redis ? "Redis Unavailable" : "Postgres Unavailable", detail);
}

const char *
req_job_id(struct req *req) {
    const char *id = req->match.nparams ? req->match.params[0] : NULL;
    if (id && job_id_valid(id)) return id;
    req_problem(req, 404, "Not Found", "no job with this id");
    return NULL;
}

int
req_query_long(struct req *req, const char *name, long lo, long hi, const char *detail, long *out) {
    int rc = query_long(req->http->query, name, lo, hi, out);
    if (rc < 0) req_problem(req, 400, "Bad Request", detail);
    return rc;
}
