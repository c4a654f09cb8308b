/* batch_export — GET /api/v1/batches/{id}/results: one line per line of
 * the batch, in order, as NDJSON (application/x-ndjson) or, with
 * "Accept: text/csv" (or ?format=csv), CSV with a header.
 *
 * Streamed (req_stream_*, web/conn.h): a page of EXPORT_PAGE lines is
 * read from Redis (batch_lines: the lines and their jobs' state), the
 * finished jobs whose summary is no longer in Redis are read from
 * Postgres in one query, the page is rendered and written; the next
 * page is read while the socket drains the one before, and written only
 * once the socket has taken it. So an export holds about two pages
 * whatever the batch's size. A failure mid-way cuts the answer off (the
 * connection closes), never a short answer that looks complete.
 *
 * Each line: index, url (as submitted), job_id, how ("created",
 * "deduplicated", "cached"; null for an invalid line), status (the job's
 * state; "invalid" for a line that was no URL; "finished" for a job whose
 * state expired but whose result is stored, "expired" when neither is
 * left), error_code, error (for an invalid line: why), total_words,
 * unique_words and top (the ten most frequent words but stop words);
 * the CSV's top column is "word:count" pairs separated by spaces. */
#include <csv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/batch.h"
#include "common/json.h"
#include "common/log.h"
#include "common/results.h"
#include "common/xalloc.h"
#include "web/app.h"
#include "web/batch_view.h"
#include "web/handlers.h"
#include "web/job_row.h"
#include "web/pg_read.h"
#include "web/query.h"

/* Lines per page: a page of lines with their top words is 60 to 90 KB,
 * well under what a stream may leave unsent (CONN_STREAM_BACKLOG). */
#define EXPORT_PAGE 250

static const char CSV_HEADER[] =
    "index,url,job_id,how,status,error_code,error,total_words,unique_words,top\r\n";

struct bexport {
    struct req *req; /* NULL once the answer has ended */
    struct app *app;
    char id[JOB_ID_LEN + 1];
    bool csv;
    bool started;  /* the head is sent */
    bool reading;  /* a Redis or Postgres read is in flight */
    bool writable; /* the socket took what was written: write the next page */
    bool eof;      /* the last page has been read */
    bool failed;
    long next;        /* the next line to read */
    json_t *page;     /* the page being completed (lines as objects) */
    struct buf ready; /* the rendered page waiting for the socket */
    bool have_ready;
};

static void pump(struct bexport *x);
static void on_more(struct req *req, void *arg);

static void
finish(struct bexport *x, bool complete) {
    if (x->req) {
        struct req *req = x->req;
        x->req = NULL;
        req_stream_end(req, complete);
    }
    if (x->reading) return; /* freed when the read comes back */
    json_decref(x->page);
    buf_free(&x->ready);
    free(x);
}

static const char *const HOW[] = {['c'] = "created", ['d'] = "deduplicated", ['k'] = "cached"};

/* line_json makes a line's object from its row (copied). */
static json_t *
line_json(const struct batch_row *r) {
    json_t *v = json_pack("{s:I, s:s}", "index", (json_int_t)r->index, "url", r->url);
    if (!r->job_id[0]) {
        json_object_set_new(v, "job_id", json_null());
        json_object_set_new(v, "how", json_null());
        json_object_set_new(v, "status", json_string("invalid"));
        json_object_set_new(v, "error_code", json_string("invalid_url"));
        json_object_set_new(v, "error", json_string(r->reason ? r->reason : ""));
        return v;
    }
    const char *how = (unsigned char)r->how < sizeof HOW / sizeof *HOW ? HOW[(int)r->how] : NULL;
    json_object_set_new(v, "job_id", json_string(r->job_id));
    json_object_set_new(v, "how", how ? json_string(how) : json_null());
    json_object_set_new(v, "status", json_string(r->status ? r->status : "expired"));
    json_object_set_new(v, "error_code", r->error_code ? json_string(r->error_code) : json_null());
    json_object_set_new(v, "error", r->error ? json_string(r->error) : json_null());
    json_t *sum = r->result ? json_loads(r->result, 0, NULL) : NULL;
    if (json_is_object(sum)) json_object_update(v, sum);
    json_decref(sum);
    return v;
}

/* needs_row: a finished (or expired) job whose counts Redis no longer has. */
static bool
needs_row(const json_t *v) {
    const char *st = json_string_value(json_object_get(v, "status"));
    return json_is_string(json_object_get(v, "job_id")) && !json_object_get(v, "total_words") &&
           st && (!strcmp(st, "finished") || !strcmp(st, "expired"));
}

static void
csv_field(struct buf *out, const char *s) {
    size_t len = strlen(s);
    buf_reserve(out, 2 * len + 2);
    out->len += csv_write(out->data + out->len, 2 * len + 2, s, len);
    out->data[out->len] = '\0';
}

static void
render_csv(struct buf *out, const json_t *v) {
    static const char *const cols[] = {"index", "url",         "job_id",
                                       "how",   "status",      "error_code",
                                       "error", "total_words", "unique_words"};
    for (size_t i = 0; i < sizeof cols / sizeof *cols; i++) {
        json_t *f = json_object_get(v, cols[i]);
        if (json_is_string(f)) csv_field(out, json_string_value(f));
        else if (json_is_integer(f)) buf_printf(out, "%lld", (long long)json_integer_value(f));
        buf_append_char(out, ',');
    }
    struct buf top;
    buf_init(&top);
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(v, "top"), i, w) {
        buf_printf(&top, "%s%s:%lld", i ? " " : "", json_string_value(json_object_get(w, "word")),
                   (long long)json_integer_value(json_object_get(w, "count")));
    }
    if (top.len) csv_field(out, top.data);
    buf_free(&top);
    buf_append_str(out, "\r\n");
}

/* render turns the page into ready. */
static void
render(struct bexport *x) {
    buf_reset(&x->ready);
    if (x->csv && !x->started) buf_append_str(&x->ready, CSV_HEADER);
    size_t i;
    json_t *v;
    json_array_foreach(x->page, i, v) {
        if (x->csv) {
            render_csv(&x->ready, v);
        } else {
            json_dump_append(v, &x->ready);
            buf_append_char(&x->ready, '\n');
        }
    }
    json_decref(x->page);
    x->page = NULL;
    x->have_ready = true;
}

static void
page_done(struct bexport *x) {
    x->reading = false;
    if (!x->req) {
        finish(x, false);
        return;
    }
    if (x->failed) {
        finish(x, false);
        return;
    }
    render(x);
    if (!x->started) {
        x->started = true;
        struct response head;
        response_init(&head, 200);
        response_header(&head, "Content-Type", "%s",
                        x->csv ? "text/csv; charset=utf-8" : "application/x-ndjson");
        req_stream_start(x->req, &head, on_more, x);
        return;
    }
    pump(x);
}

static void
on_rows(pg_uv_t *pg, PGresult *res, const char *errstr, void *arg) {
    struct bexport *x = arg;
    (void)pg;
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_warn("msg=\"batch export cut\" batch=%s error=%s", x->id,
                 log_q(res ? PQresultErrorMessage(res) : errstr));
        x->failed = true;
        page_done(x);
        return;
    }
    /* job id -> its row, then into each line that needs it. */
    json_t *by_id = json_object();
    for (int i = 0; i < PQntuples(res); i++) {
        const char *id = results_text(res, i, RESULTS_JOB_ID);
        if (id) json_object_set_new(by_id, id, job_row_summary_at(res, i));
    }
    size_t i;
    json_t *v;
    json_array_foreach(x->page, i, v) {
        if (!needs_row(v)) continue;
        json_t *sum = json_object_get(by_id, json_string_value(json_object_get(v, "job_id")));
        if (sum) {
            json_object_update(v, sum);
            json_object_set_new(v, "status", json_string("finished"));
        }
    }
    json_decref(by_id);
    page_done(x);
}

static void
on_lines(int status, const struct batch_row *rows, size_t n, const char *errstr, void *arg) {
    struct bexport *x = arg;
    if (status < 0) {
        log_warn("msg=\"batch export failed\" batch=%s error=%s", x->id, log_q(errstr));
        if (!x->started && x->req) {
            req_unavailable(x->req, REQ_REDIS, NULL);
            x->req = NULL;
        }
        x->failed = true;
        page_done(x);
        return;
    }
    if (n == 0 && !x->started && x->next == 0 && x->req) {
        req_problem(x->req, 404, "Not Found", "no batch with this id");
        x->req = NULL;
        page_done(x);
        return;
    }
    x->next += (long)n;
    x->eof = n < EXPORT_PAGE;
    x->page = json_array();
    struct buf ids;
    buf_init(&ids);
    for (size_t i = 0; i < n; i++) {
        json_t *v = line_json(&rows[i]);
        if (needs_row(v)) buf_printf(&ids, "%s%s", ids.len ? "," : "{", rows[i].job_id);
        json_array_append_new(x->page, v);
    }
    if (ids.len && x->req) {
        buf_append_char(&ids, '}');
        static const enum results_col cols[] = {RESULTS_JOB_ID, RESULTS_TOTAL_WORDS,
                                                RESULTS_UNIQUE_WORDS, RESULTS_TOP_TEN};
        char sql[512];
        const char *params[] = {ids.data};
        int rc = results_select_sql(sql, sizeof sql, cols, 4,
                                    " FROM results WHERE job_id = ANY($1::uuid[])") < 0
                     ? UV_E2BIG
                     : pg_read_query(x->app, PG_READ_LIST, sql, 1, params, on_rows, x);
        buf_free(&ids);
        if (rc == 0) return;
        log_warn("msg=\"batch export cut\" batch=%s error=%s", x->id, uv_strerror(rc));
        x->failed = true;
    }
    buf_free(&ids);
    page_done(x);
}

/* read_page asks for the next page; < 0 when it cannot be sent. */
static int
read_page(struct bexport *x) {
    struct queue *q = app_queue_of_id(x->app, x->id);
    x->reading = true;
    int rc = q ? batch_lines(q, x->id, x->next, EXPORT_PAGE, on_lines, x) : UV_ECANCELED;
    if (rc < 0) x->reading = false;
    return rc;
}

/* pump writes the ready page when the socket can take it, reads the
 * next one meanwhile, and ends the answer after the last. */
static void
pump(struct bexport *x) {
    if (!x->req) return;
    if (x->writable && x->have_ready) {
        x->writable = false;
        x->have_ready = false;
        struct buf piece = x->ready;
        buf_init(&x->ready);
        if (!x->eof && !x->reading && read_page(x) < 0) {
            log_warn("msg=\"batch export cut\" batch=%s error=%s", x->id, "redis unavailable");
            buf_free(&piece);
            finish(x, false);
            return;
        }
        req_stream_write(x->req, &piece);
        return;
    }
    if (x->writable && !x->have_ready && x->eof && !x->reading) {
        finish(x, true);
        return;
    }
    if (!x->have_ready && !x->eof && !x->reading && read_page(x) < 0) finish(x, false);
}

static void
on_more(struct req *req, void *arg) {
    struct bexport *x = arg;
    (void)req;
    if (!x->req) return;
    if (req_stream_gone(x->req)) {
        finish(x, true);
        return;
    }
    x->writable = true;
    pump(x);
}

void
h_batches_results(struct req *req) {
    const char *id = batch_view_id(req);
    if (!id) return;
    struct bexport *x = xcalloc(1, sizeof *x);
    x->req = req;
    x->app = req->app;
    snprintf(x->id, sizeof x->id, "%s", id);
    /* CSV by Accept, or by ?format=csv (a link in a page cannot set Accept). */
    const char *accept = http_request_header(req->http, "Accept");
    char *format = query_get(req->http->query, strlen(req->http->query), "format");
    x->csv = (accept && strstr(accept, "text/csv")) || (format && !strcmp(format, "csv"));
    free(format);
    buf_init(&x->ready);
    if (read_page(x) < 0) {
        req_unavailable(req, REQ_REDIS, NULL);
        x->req = NULL;
        finish(x, false);
    }
}
