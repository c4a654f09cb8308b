/* job_submit.c — the steps both submit routes share; see job_submit.h. */
#include "web/job_submit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr_policy.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/sha256.h"
#include "common/url_check.h"
#include "common/xalloc.h"
#include "web/app.h"
#include "web/req.h"

/* The request waiting for the queue's answer. */
struct submit {
    struct req *req;
    job_submit_cb cb;
};

bool
job_submit_limited(struct req *req) {
    int wait =
        ratelimit_take(&req->app->submit_limit, req_client_addr(req), (uint64_t)clock_now_ms());
    if (wait == 0) return false;
    char detail[128];
    snprintf(detail, sizeof detail, "at most %d job submissions per second from one address",
             req->app->cfg->submit_rate);
    req_problem_retry(req, 429, wait, "Too Many Requests", detail);
    return true;
}

static void
on_submitted(int status, const struct job *job, const char *errstr, void *arg) {
    struct submit *s = arg;
    if (status < 0) {
        log_warn("msg=\"submit failed\" error=%s", log_q(errstr));
        req_unavailable(s->req, REQ_REDIS, NULL);
    } else {
        s->cb(s->req, job, NULL);
    }
    free(s);
}

static void
on_submitted_idem(int status, enum queue_submit_outcome outcome, const struct job *job,
                  const char *existing_id, const char *errstr, void *arg) {
    struct submit *s = arg;
    if (status < 0 || outcome == QUEUE_CREATED) {
        on_submitted(status, job, errstr, arg);
        return;
    }
    if (outcome == QUEUE_CONFLICT)
        req_problem(s->req, 422, "Idempotency Key Reused",
                    "this Idempotency-Key was used with a different body");
    else s->cb(s->req, NULL, existing_id);
    free(s);
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

char *
job_submit_json_url(struct req *req, char **callback_url) {
    if (callback_url) *callback_url = NULL;
    char err[256];
    json_t *v = json_decode_object(req->http->body, req->http->body_len, err, sizeof err);
    if (!v) {
        req_problem(req, 400, "Malformed JSON", err);
        return NULL;
    }
    const char *url = json_get_string(v, "url");
    json_t *cb = callback_url ? json_object_get(v, "callback_url") : NULL;
    char *out = NULL;
    if (!url) {
        req_problem(req, 422, "Invalid URL", "the body needs a string field \"url\"");
    } else if (cb && !json_is_null(cb) && !json_is_string(cb)) {
        req_problem(req, 422, "Invalid Callback URL", "\"callback_url\" must be a string");
    } else {
        out = xstrdup(url);
        if (json_is_string(cb)) *callback_url = xstrdup(json_string_value(cb));
    }
    json_decref(v);
    return out;
}

/* callback_ok answers 422 and returns false when callback_url cannot be
 * taken. */
static bool
callback_ok(struct req *req, const char *callback_url) {
    char err[256], detail[320];
    const struct config *cfg = req->app->cfg;
    if (cfg->webhook_keys.n == 0) {
        req_problem(req, 422, "Callbacks Unavailable",
                    "this server signs no webhooks (WEBHOOK_SECRET is not set)");
        return false;
    }
    if (url_check(callback_url, err, sizeof err) < 0 ||
        addr_policy_url(cfg, callback_url, err, sizeof err) < 0) {
        snprintf(detail, sizeof detail, "callback_url: %s", err);
        req_problem(req, 422, "Invalid Callback URL", detail);
        return false;
    }
    return true;
}

void
job_submit(struct req *req, const char *url, const char *callback_url, job_submit_cb cb) {
    char err[256];
    if (url_check(url, err, sizeof err) < 0) {
        req_problem(req, 422, "Invalid URL", err);
        return;
    }
    if (callback_url && !callback_ok(req, callback_url)) return;
    bool bad_key;
    const char *key = idem_key(req->http, &bad_key);
    if (bad_key) {
        req_problem(req, 400, "Bad Idempotency-Key",
                    "Idempotency-Key must be 1 to 256 printable ASCII characters");
        return;
    }
    struct queue *q = app_queue(req->app);
    struct submit *s = xcalloc(1, sizeof *s);
    s->req = req;
    s->cb = cb;
    int rc = UV_ECANCELED;
    if (q && key) {
        char hash[65];
        rc = sha256_hex(req->http->body, req->http->body_len, hash) < 0
                 ? UV_EIO
                 : queue_submit_idem(q, url, callback_url, key, hash, JOB_SUBMIT_IDEM_TTL_S,
                                     on_submitted_idem, s);
    } else if (q) {
        rc = queue_submit(q, url, callback_url, on_submitted, s);
    }
    if (rc < 0) {
        free(s);
        req_unavailable(req, REQ_REDIS, NULL);
    }
}
