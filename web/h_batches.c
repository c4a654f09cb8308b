/* h_batches — the batch resource: POST /api/v1/batches, GET
 * /api/v1/batches (the newest), GET and DELETE /api/v1/batches/{id}
 * (the export, GET /api/v1/batches/{id}/results, is batch_export.c).
 *
 * A submit reads the body (web/batch_parse.h), finds the fresh results
 * when max_age asks (web/fresh.h: one query for every page;
 * on_fresh_rows), and creates the batch (common/batch.h: on_created);
 * the answer is 202 with the batch and every invalid line. A status is
 * one batch_status read (on_status). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/batch.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/results.h"
#include "common/shards.h"
#include "common/xalloc.h"
#include "web/app.h"
#include "web/batch_parse.h"
#include "web/batch_view.h"
#include "web/fresh.h"
#include "web/handlers.h"
#include "web/job_submit.h"
#include "web/query.h"

/* --- submit --- */

struct bsub {
    struct req *req;
    struct batch_input in;
    json_t *fresh; /* url_key -> job id of a fresh result (max_age) */
};

static void
bsub_free(struct bsub *x) {
    batch_input_free(&x->in);
    json_decref(x->fresh);
    free(x);
}

/* invalid_lines lists the lines that are no URL: [{index, text, reason}]. */
static json_t *
invalid_lines(const struct batch_input *in) {
    json_t *a = json_array();
    for (size_t i = 0; i < in->n; i++) {
        const struct batch_line *l = &in->lines[i];
        if (l->url_key) continue;
        json_array_append_new(a, json_pack("{s:I, s:s, s:s}", "index", (json_int_t)i, "text",
                                           l->url, "reason", l->reason));
    }
    return a;
}

static void
on_created(int status, const struct batch_created *b, const char *errstr, void *arg) {
    struct bsub *x = arg;
    if (status < 0) {
        log_warn("msg=\"batch submit failed\" error=%s", log_q(errstr));
        req_unavailable(x->req, REQ_REDIS, NULL);
        bsub_free(x);
        return;
    }
    log_info("msg=\"batch created\" batch=%s lines=%ld created=%ld deduplicated=%ld cached=%ld "
             "invalid=%ld",
             b->id, b->total, b->created, b->deduplicated, b->cached, b->invalid);
    struct response r;
    response_init(&r, 202);
    response_header(&r, "Location", "/api/v1/batches/%s", b->id);
    response_header(&r, "Retry-After", "%d", 1);
    json_t *v = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "id", b->id, "status",
                          "running", "total", (json_int_t)b->total, "jobs",
                          (json_int_t)(b->created + b->deduplicated + b->cached), "created",
                          (json_int_t)b->created, "deduplicated", (json_int_t)b->deduplicated,
                          "cached", (json_int_t)b->cached, "invalid", (json_int_t)b->invalid,
                          "invalid_lines", invalid_lines(&x->in));
    response_json(&r, 202, v);
    json_decref(v);
    req_send(x->req, &r);
    bsub_free(x);
}

static void
create(struct bsub *x) {
    /* A batch and its jobs live on one shard (common/shards.h), drawn. */
    struct queue *q = app_queue_at(x->req->app, shards_draw(app_shards(x->req->app)));
    struct batch_new b = {
        .lines = x->in.lines, .n = x->in.n, .fresh = x->in.fresh, .max_age_s = x->in.max_age_s};
    if (x->fresh) {
        for (size_t i = 0; i < x->in.n; i++) {
            struct batch_line *l = &x->in.lines[i];
            l->cached_id =
                l->url_key ? json_string_value(json_object_get(x->fresh, l->url_key)) : NULL;
        }
    }
    if (!q || batch_create(q, &b, on_created, x) < 0) {
        req_unavailable(x->req, REQ_REDIS, NULL);
        bsub_free(x);
    }
}

/* on_fresh_rows: the pages with a fresh result take it; Postgres
 * unreachable is no reason to refuse (the pages are fetched). */
static void
on_fresh_rows(pg_uv_t *pg, PGresult *res, const char *errstr, void *arg) {
    struct bsub *x = arg;
    (void)pg;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_warn("msg=\"fresh results lookup failed, fetching\" error=%s",
                 log_q(res ? PQresultErrorMessage(res) : errstr));
    } else {
        x->fresh = json_object();
        for (int i = 0; i < PQntuples(res); i++) {
            const char *id = results_text(res, i, RESULTS_JOB_ID);
            const char *key = results_text(res, i, RESULTS_URL_KEY);
            if (key && job_id_valid(id)) json_object_set_new(x->fresh, key, json_string(id));
        }
    }
    create(x);
}

/* format_of maps the Content-Type; -1 after answering 415. */
static int
format_of(struct req *req, enum batch_format *f) {
    const char *ct = http_request_header(req->http, "Content-Type");
    if (!ct) ct = "";
    if (!strncasecmp(ct, "application/json", 16)) *f = BATCH_JSON;
    else if (!strncasecmp(ct, "text/plain", 10)) *f = BATCH_TEXT;
    else if (!strncasecmp(ct, "text/csv", 8)) *f = BATCH_CSV;
    else {
        req_problem(req, 415, "Unsupported Media Type",
                    "send application/json, text/plain (one URL per line) or text/csv (a url "
                    "column)");
        return -1;
    }
    return 0;
}

void
h_batches_create(struct req *req) {
    if (job_submit_limited(req)) return;
    enum batch_format format;
    if (format_of(req, &format) < 0) return;
    struct bsub *x = xcalloc(1, sizeof *x);
    x->req = req;
    struct batch_parse_error e;
    if (batch_parse(format, req->http->body, req->http->body_len, &x->in, &e) < 0) {
        req_problem(req, e.status, e.title, e.detail);
        free(x);
        return;
    }
    if (format != BATCH_JSON) {
        /* Text and CSV bodies take the options in the query string. */
        const char *qs = req->http->query;
        char *fresh = query_get(qs, strlen(qs), "fresh"),
             *age = query_get(qs, strlen(qs), "max_age");
        const char *why = job_submit_freshness_text(fresh, age, &x->in.fresh, &x->in.max_age_s);
        free(fresh);
        free(age);
        if (why) {
            req_problem(req, 422, "Invalid Freshness", why);
            bsub_free(x);
            return;
        }
    }
    if (x->in.valid == 0) {
        req_problem_ext(req, 422, "No Valid URLs", "no line of the batch is a URL wordcount takes",
                        json_pack("{s:o}", "invalid_lines", invalid_lines(&x->in)));
        bsub_free(x);
        return;
    }
    if (x->in.max_age_s <= 0 || x->in.fresh) {
        create(x);
        return;
    }
    const char **keys = xcalloc(x->in.valid, sizeof *keys);
    size_t n = 0;
    for (size_t i = 0; i < x->in.n; i++)
        if (x->in.lines[i].url_key) keys[n++] = x->in.lines[i].url_key;
    int rc = fresh_lookup(req->app, keys, n, x->in.max_age_s, on_fresh_rows, x);
    free(keys);
    if (rc < 0) create(x); /* Postgres unreachable: fetch */
}

/* --- status --- */

static void
on_status(int status, const struct batch_status *s, const char *errstr, void *arg) {
    struct req *req = arg;
    if (status < 0) {
        log_warn("msg=\"batch read failed\" error=%s", log_q(errstr));
        req_unavailable(req, REQ_REDIS, NULL);
    } else if (!s) {
        req_problem(req, 404, "Not Found", "no batch with this id");
    } else {
        bool done = s->done >= s->jobs;
        req_json_retry(req, 200, done ? 0 : 1, batch_view_json(s, clock_now_ms()));
    }
}

void
h_batches_get(struct req *req) {
    const char *id = batch_view_id(req);
    if (!id) return;
    struct queue *q = app_queue_of_id(req->app, id);
    if (!q || batch_status(q, id, on_status, req) < 0) req_unavailable(req, REQ_REDIS, NULL);
}

/* --- cancel --- */

struct bcancel {
    struct req *req;
    long canceled;
};

static void
on_status_after_cancel(int status, const struct batch_status *s, const char *errstr, void *arg) {
    struct bcancel *x = arg;
    if (status < 0 || !s) {
        log_warn("msg=\"batch read failed\" error=%s", log_q(errstr));
        req_unavailable(x->req, REQ_REDIS, NULL);
    } else {
        json_t *v = batch_view_json(s, clock_now_ms());
        json_object_set_new(v, "canceled", json_integer(x->canceled));
        req_json(x->req, 200, v);
    }
    free(x);
}

static void
on_canceled(int status, long value, const char *errstr, void *arg) {
    struct bcancel *x = arg;
    struct queue *q = app_queue_of_id(x->req->app, x->req->match.params[0]);
    if (status < 0) {
        log_warn("msg=\"batch cancel failed\" error=%s", log_q(errstr));
        req_unavailable(x->req, REQ_REDIS, NULL);
    } else if (value < 0) {
        req_problem(x->req, 404, "Not Found", "no batch with this id");
    } else {
        x->canceled = value;
        const char *id = x->req->match.params[0];
        log_info("msg=\"batch canceled\" batch=%s jobs=%ld", id, value);
        if (q && batch_status(q, id, on_status_after_cancel, x) == 0) return;
        req_unavailable(x->req, REQ_REDIS, NULL);
    }
    free(x);
}

void
h_batches_cancel(struct req *req) {
    const char *id = batch_view_id(req);
    if (!id) return;
    struct queue *q = app_queue_of_id(req->app, id);
    struct bcancel *x = xcalloc(1, sizeof *x);
    x->req = req;
    if (!q || batch_cancel(q, id, on_canceled, x) < 0) {
        req_unavailable(req, REQ_REDIS, NULL);
        free(x);
    }
}

/* --- the newest batches --- */

struct blist {
    struct req *req;
    long limit;
    int shard;     /* the shard whose ids are being read */
    json_t *ids;   /* every shard's newest ids (several shards) */
    json_t *items; /* one slot per id, null until read */
    int pending;
    bool failed;
};

struct bitem {
    struct blist *l;
    size_t slot;
};

static void
list_done(struct blist *l) {
    if (--l->pending > 0) return;
    if (l->failed) {
        req_unavailable(l->req, REQ_REDIS, NULL);
        json_decref(l->items);
    } else {
        json_t *batches = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(l->items, i, v) {
            if (!json_is_null(v)) json_array_append(batches, v);
        }
        json_decref(l->items);
        req_json(l->req, 200, json_pack("{s:o}", "batches", batches));
    }
    free(l);
}

static void
on_item(int status, const struct batch_status *s, const char *errstr, void *arg) {
    struct bitem *it = arg;
    struct blist *l = it->l;
    if (status < 0) {
        log_warn("msg=\"batch read failed\" error=%s", log_q(errstr));
        l->failed = true;
    } else if (s) {
        json_array_set_new(l->items, it->slot, batch_view_json(s, clock_now_ms()));
    } else {
        char id[JOB_ID_LEN + 1];
        snprintf(id, sizeof id, "%s", json_string_value(json_array_get(l->items, it->slot)));
        struct queue *q = app_queue_of_id(l->req->app, id);
        json_array_set_new(l->items, it->slot, json_null());
        if (q && job_id_valid(id)) batch_forget(q, id); /* expired */
    }
    free(it);
    list_done(l);
}

/* read_items reads the status of each batch of ids, newest first. */
static void
read_items(struct blist *l, const char *const *ids, size_t n) {
    for (size_t i = 0; !l->failed && i < n; i++) {
        json_array_append_new(l->items, json_string(ids[i])); /* the id until read */
        struct bitem *it = xcalloc(1, sizeof *it);
        it->l = l;
        it->slot = i;
        l->pending++;
        struct queue *q = app_queue_of_id(l->req->app, ids[i]);
        if (!q || batch_status(q, ids[i], on_item, it) < 0) {
            free(it);
            l->pending--;
            l->failed = true;
        }
    }
    list_done(l);
}

static void
on_ids(int status, const char *const *ids, size_t n, const char *errstr, void *arg) {
    struct blist *l = arg;
    if (status < 0) {
        log_warn("msg=\"batch list failed\" error=%s", log_q(errstr));
        l->failed = true;
    }
    read_items(l, ids, n);
}

static int
newer_first(const void *a, const void *b) {
    return -strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* on_shard_ids gathers each shard's newest batches in turn (several
 * shards), then reads the newest limit of them all (ids sort by time). */
static void
on_shard_ids(int status, const char *const *ids, size_t n, const char *errstr, void *arg) {
    struct blist *l = arg;
    if (status < 0) {
        log_warn("msg=\"batch list failed\" shard=%d error=%s", l->shard, log_q(errstr));
        l->failed = true;
    }
    for (size_t i = 0; !l->failed && i < n; i++) json_array_append_new(l->ids, json_string(ids[i]));
    struct queue *q = l->failed ? NULL : app_queue_at(l->req->app, ++l->shard);
    if (q && batch_list(q, l->limit, on_shard_ids, l) == 0) return;
    if (!l->failed && l->shard < app_shards(l->req->app)) l->failed = true;
    size_t all = json_array_size(l->ids);
    const char **sorted = xcalloc(all ? all : 1, sizeof *sorted);
    for (size_t i = 0; i < all; i++) sorted[i] = json_string_value(json_array_get(l->ids, i));
    qsort(sorted, all, sizeof *sorted, newer_first);
    read_items(l, sorted, all < (size_t)l->limit ? all : (size_t)l->limit);
    free(sorted);
    json_decref(l->ids);
}

void
h_batches_list(struct req *req) {
    long limit = 20;
    if (req_query_long(req, "limit", 1, 100, "limit must be a whole number from 1 to 100", &limit) <
        0)
        return;
    struct queue *q = app_queue(req->app);
    struct blist *l = xcalloc(1, sizeof *l);
    l->req = req;
    l->limit = limit;
    l->items = json_array();
    l->pending = 1;
    bool several = app_shards(req->app) > 1;
    if (several) l->ids = json_array();
    if (!q || batch_list(q, limit, several ? on_shard_ids : on_ids, l) < 0) {
        req_unavailable(req, REQ_REDIS, NULL);
        json_decref(l->items);
        json_decref(l->ids);
        free(l);
    }
}
