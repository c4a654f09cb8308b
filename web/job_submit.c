/* job_submit.c — the steps both submit routes share; see job_submit.h. */
#include "web/job_submit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr_policy.h"
#include "common/clock.h"
#include "common/digest.h"
#include "common/json.h"
#include "common/log.h"
#include "common/results.h"
#include "common/url_check.h"
#include "common/url_norm.h"
#include "common/xalloc.h"
#include "web/app.h"
#include "web/fresh.h"
#include "web/pg_read.h"
#include "web/query.h"
#include "web/req.h"

/* The request on its way through the queue, and with max_age, when
 * Redis has no note of the page, through Postgres and the queue again. */
struct submit {
    struct req *req;
    job_submit_cb cb;
    struct queue_submit_req q;
    long max_age_s;
    char url_key[URL_NORM_MAX + 1];
    char cached[JOB_ID_LEN + 1];
    char hash[65];
    /* copies of what q points to */
    char *url, *callback_url, *idem_key;
};

static void
submit_free(struct submit *s) {
    free(s->url);
    free(s->callback_url);
    free(s->idem_key);
    free(s);
}

bool
job_submit_limited(struct req *req) {
    if (req->app->submit_limit.rate <= 0) return false; /* off: no address to look up */
    int wait =
        ratelimit_take(&req->app->submit_limit, req_client_addr(req), (uint64_t)clock_now_ms());
    if (wait == 0) return false;
    char detail[128];
    snprintf(detail, sizeof detail, "at most %d job submissions per second from one address",
             req->app->cfg->submit_rate);
    req_problem_retry(req, 429, wait, "Too Many Requests", detail);
    return true;
}

static void ask_postgres(struct submit *s);

static void
on_submitted(int status, enum queue_submit_outcome outcome, const struct job *job,
             const char *other_id, const char *errstr, void *arg) {
    struct submit *s = arg;
    if (status == 0 && outcome == QUEUE_FRESH_UNKNOWN) {
        ask_postgres(s);
        return;
    }
    if (status < 0) {
        log_warn("msg=\"submit failed\" error=%s", log_q(errstr));
        req_unavailable(s->req, REQ_REDIS, NULL);
    } else if (outcome == QUEUE_CONFLICT) {
        req_problem(s->req, 422, "Idempotency Key Reused",
                    "this Idempotency-Key was used with a different body");
    } else {
        s->cb(s->req, outcome, job, other_id);
    }
    submit_free(s);
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

void
job_submit_args_free(struct job_submit_args *a) {
    free(a->url);
    free(a->callback_url);
    a->url = a->callback_url = NULL;
}

static const char MAX_AGE_RANGE[] =
    "\"max_age\" must be a whole number of seconds from 0 to 31536000 (a year)";
static const char FRESH_AND_AGE[] =
    "\"fresh\": true asks for a new fetch; a \"max_age\" allows a stored result: send one or "
    "the other";

const char *
job_submit_freshness_json(const json_t *v, bool *fresh, long *max_age_s) {
    json_t *f = json_object_get(v, "fresh"), *age = json_object_get(v, "max_age");
    if (f && !json_is_null(f) && !json_is_boolean(f)) return "\"fresh\" must be true or false";
    if (age && !json_is_null(age) &&
        (!json_is_integer(age) || json_integer_value(age) < 0 ||
         json_integer_value(age) > JOB_SUBMIT_MAX_AGE_MAX))
        return MAX_AGE_RANGE;
    *fresh = json_is_true(f);
    *max_age_s = json_is_integer(age) ? (long)json_integer_value(age) : 0;
    return *fresh && *max_age_s > 0 ? FRESH_AND_AGE : NULL;
}

const char *
job_submit_freshness_text(const char *fresh, const char *max_age, bool *fresh_out,
                          long *max_age_s) {
    long age = 0;
    char *end = NULL;
    if (max_age && *max_age) age = strtol(max_age, &end, 10);
    if (fresh && *fresh && strcmp(fresh, "true") && strcmp(fresh, "false") && strcmp(fresh, "1") &&
        strcmp(fresh, "0"))
        return "\"fresh\" must be true or false";
    if (max_age && *max_age &&
        (*max_age < '0' || *max_age > '9' || *end || age > JOB_SUBMIT_MAX_AGE_MAX))
        return MAX_AGE_RANGE;
    *fresh_out = fresh && (!strcmp(fresh, "true") || !strcmp(fresh, "1"));
    *max_age_s = age;
    return *fresh_out && age > 0 ? FRESH_AND_AGE : NULL;
}

int
job_submit_parse_json(struct req *req, bool all, struct job_submit_args *a) {
    memset(a, 0, sizeof *a);
    char err[256];
    json_t *v = json_decode_object(req->http->body, req->http->body_len, err, sizeof err);
    if (!v) {
        req_problem(req, 400, "Malformed JSON", err);
        return -1;
    }
    const char *url = json_get_string(v, "url");
    json_t *cb = all ? json_object_get(v, "callback_url") : NULL;
    const char *why = all ? job_submit_freshness_json(v, &a->fresh, &a->max_age_s) : NULL;
    int rc = -1;
    if (!url) {
        req_problem(req, 422, "Invalid URL", "the body needs a string field \"url\"");
    } else if (cb && !json_is_null(cb) && !json_is_string(cb)) {
        req_problem(req, 422, "Invalid Callback URL", "\"callback_url\" must be a string");
    } else if (why) {
        req_problem(req, 422, "Invalid Freshness", why);
    } else {
        a->url = xstrdup(url);
        if (json_is_string(cb)) a->callback_url = xstrdup(json_string_value(cb));
        rc = 0;
    }
    json_decref(v);
    if (rc < 0) job_submit_args_free(a);
    return rc;
}

int
job_submit_parse_form(struct req *req, struct job_submit_args *a) {
    memset(a, 0, sizeof *a);
    const struct http_request *http = req->http;
    char *fresh = query_get(http->body, http->body_len, "fresh");
    char *max_age = query_get(http->body, http->body_len, "max_age");
    const char *why = job_submit_freshness_text(fresh, max_age, &a->fresh, &a->max_age_s);
    int rc = -1;
    if (why) {
        req_problem(req, 422, "Invalid Freshness", why);
    } else {
        a->url = query_get(http->body, http->body_len, "url");
        a->callback_url = query_get(http->body, http->body_len, "callback_url");
        if (a->callback_url && !*a->callback_url) free(a->callback_url), a->callback_url = NULL;
        if (!a->url) req_problem(req, 422, "Invalid URL", "the form needs a field \"url\"");
        else rc = 0;
    }
    free(fresh);
    free(max_age);
    if (rc < 0) job_submit_args_free(a);
    return rc;
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

/* send_submit hands s to the queue; on failure answers 503 and frees s. */
static void
send_submit(struct submit *s) {
    /* The page's host's shard (common/shards.h): a shard that is down
     * answers 503 for its own submissions only. */
    struct queue *q = app_queue_of_url(s->req->app, s->q.url_key);
    int rc = q ? queue_submit_with(q, &s->q, on_submitted, s) : UV_ECANCELED;
    if (rc < 0) {
        req_unavailable(s->req, REQ_REDIS, NULL);
        submit_free(s);
    }
}

/* on_fresh_row: the page's newest result younger than max_age, if any,
 * is the answer. Postgres unreachable is no reason to refuse: the page
 * is fetched again. */
static void
on_fresh_row(pg_uv_t *pg, PGresult *res, const char *errstr, void *arg) {
    struct submit *s = arg;
    (void)pg;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_warn("msg=\"fresh result lookup failed, fetching\" url=%s error=%s", log_q(s->url),
                 log_q(res ? PQresultErrorMessage(res) : errstr));
    } else if (PQntuples(res) > 0) {
        const char *id = results_text(res, 0, RESULTS_JOB_ID);
        if (job_id_valid(id)) {
            snprintf(s->cached, sizeof s->cached, "%s", id);
            s->q.cached_id = s->cached;
        }
    }
    send_submit(s);
}

/* ask_postgres looks for a fresh result of a page Redis has no note of
 * (stored before the notes, or long ago), then submits again, with the
 * result found or without max_age. */
static void
ask_postgres(struct submit *s) {
    s->q.max_age_ms = 0;
    const char *page = s->url_key;
    if (fresh_lookup(s->req->app, &page, 1, s->max_age_s, on_fresh_row, s) < 0)
        send_submit(s); /* Postgres unreachable: fetch */
}

void
job_submit(struct req *req, const struct job_submit_args *a, job_submit_cb cb) {
    char err[256];
    struct submit *s = xcalloc(1, sizeof *s);
    if (url_norm(a->url, s->url_key, sizeof s->url_key, err, sizeof err) < 0) {
        req_problem(req, 422, "Invalid URL", err);
        free(s);
        return;
    }
    if (a->callback_url && !callback_ok(req, a->callback_url)) {
        free(s);
        return;
    }
    bool bad_key;
    const char *key = idem_key(req->http, &bad_key);
    if (bad_key) {
        req_problem(req, 400, "Bad Idempotency-Key",
                    "Idempotency-Key must be 1 to 256 printable ASCII characters");
        free(s);
        return;
    }
    if (key && sha256_hex(req->http->body, req->http->body_len, s->hash) < 0) {
        req_unavailable(req, REQ_REDIS, NULL);
        free(s);
        return;
    }
    s->req = req;
    s->cb = cb;
    s->url = xstrdup(a->url);
    s->callback_url = a->callback_url ? xstrdup(a->callback_url) : NULL;
    s->idem_key = key ? xstrdup(key) : NULL;
    s->q = (struct queue_submit_req){.url = s->url,
                                     .url_key = s->url_key,
                                     .callback_url = s->callback_url,
                                     .fresh = a->fresh,
                                     .idem_key = s->idem_key,
                                     .body_hash = key ? s->hash : NULL,
                                     .idem_ttl_s = JOB_SUBMIT_IDEM_TTL_S};
    /* max_age: the page's note in Redis answers most submits; without
     * one, Postgres is asked (ask_postgres). */
    s->max_age_s = a->fresh ? 0 : a->max_age_s;
    s->q.max_age_ms = (int64_t)s->max_age_s * 1000;
    send_submit(s);
}
