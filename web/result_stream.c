#include "web/result_stream.h"

#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/job.h"
#include "common/json.h"
#include "common/log.h"
#include "common/results.h"
#include "common/xalloc.h"
#include "web/app.h"
#include "web/req.h"

/* OPENING: the cursor is being declared, nothing sent yet; HEAD: the
 * status line and headers are out, the small members next; SENDING: the
 * pieces; LAST: the closing brace is out. */
enum phase { OPENING, HEAD, SENDING, LAST, DONE };

struct rstream {
    struct req *req; /* NULL once the answer has ended */
    struct app *app;
    struct stream_slot slot; /* the connection of the server the row was found on */
    char job_id[JOB_ID_LEN + 1];
    char cursor[40];
    struct buf prefix; /* the small members, "{...," */
    enum phase phase;
    bool declared; /* the cursor exists: close it at the end */
    int section;   /* last section written: 0 none, 1 counts, 2 counts_no_stop_words */
    int want[2];   /* the sections asked for, in order */
    int nwant;
    bool waiting_pg; /* a query of ours is in flight */
};

static const char *const SECTION_KEY[] = {"", "\"counts\":", "\"counts_no_stop_words\":"};

static void on_more(struct req *req, void *arg);

static void
on_cursor_closed(pg_uv_t *pg, PGresult *res, const char *errstr, void *arg) {
    (void)pg;
    (void)res;
    (void)errstr;
    struct rstream *st = arg;
    stream_pool_release(&st->app->streams, &st->slot); /* the next in line may start here */
    buf_free(&st->prefix);
    free(st);
}

/* finish ends the answer (cut off unless complete) and closes the cursor;
 * st goes once Postgres has answered (or at once without a cursor). */
static void
finish(struct rstream *st, bool complete) {
    if (st->req) {
        struct req *req = st->req;
        st->req = NULL;
        req_stream_end(req, complete);
    }
    st->phase = DONE;
    if (st->declared) {
        char sql[64];
        snprintf(sql, sizeof sql, "CLOSE %s", st->cursor);
        st->declared = false;
        if (stream_pool_query(&st->app->streams, &st->slot, sql, 0, NULL, on_cursor_closed, st) ==
            0)
            return;
    }
    on_cursor_closed(NULL, NULL, NULL, st);
}

/* why is a failed statement's error: its result's, or pg_uv's. */
static const char *
why(const PGresult *res, const char *errstr) {
    return res ? PQresultErrorMessage(res) : errstr ? errstr : "unknown";
}

static void
fail(struct rstream *st, const char *what, const PGresult *res, const char *errstr) {
    log_warn("msg=\"result stream cut\" job=%s step=%s error=%s", st->job_id, what,
             log_q(why(res, errstr)));
    /* A failed statement may have left no cursor; CLOSE of a missing one
     * only fails. */
    finish(st, false);
}

/* refuse answers a request whose answer has not started (the cursor
 * could not be declared): nothing was sent, so the client gets a whole
 * 503 with Retry-After instead of a 200 cut off after its headers. */
static void
refuse(struct rstream *st, const PGresult *res, const char *errstr) {
    log_warn("msg=\"result not read\" job=%s step=declare error=%s", st->job_id,
             log_q(why(res, errstr)));
    req_unavailable(st->req, REQ_POSTGRES, "the result cannot be read now");
    st->req = NULL;
    st->phase = DONE;
    on_cursor_closed(NULL, NULL, NULL, st);
}

static void
on_fetched(pg_uv_t *pg, PGresult *res, const char *errstr, void *arg) {
    (void)pg;
    struct rstream *st = arg;
    st->waiting_pg = false;
    if (!st->req) return; /* cannot happen: finish waits for us */
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        fail(st, "fetch", res, errstr);
        return;
    }
    int n = PQntuples(res);
    if (n == 0) {
        /* Every piece sent: every section asked for must have come. */
        if (st->section != st->want[st->nwant - 1]) {
            fail(st, "fetch", NULL, "the result row is gone");
            return;
        }
        st->phase = LAST;
        struct buf end;
        buf_init(&end);
        buf_append_char(&end, '}');
        req_stream_write(st->req, &end);
        return;
    }
    struct buf out;
    buf_init(&out);
    for (int i = 0; i < n; i++) {
        int section = atoi(PQgetvalue(res, i, 0));
        if (section != st->section) {
            if (st->section) buf_append_char(&out, ',');
            buf_append_str(&out, SECTION_KEY[section == 2 ? 2 : 1]);
            st->section = section;
        }
        size_t len = 0;
        unsigned char *bytes = PQunescapeBytea((const unsigned char *)PQgetvalue(res, i, 1), &len);
        if (!bytes) {
            buf_free(&out);
            fail(st, "fetch", NULL, "cannot decode a piece");
            return;
        }
        buf_append(&out, bytes, len);
        PQfreemem(bytes);
    }
    req_stream_write(st->req, &out);
}

static void
on_declared(pg_uv_t *pg, PGresult *res, const char *errstr, void *arg) {
    (void)pg;
    struct rstream *st = arg;
    st->waiting_pg = false;
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
        refuse(st, res, errstr);
        return;
    }
    /* The answer starts only now that the counts can be read. */
    st->declared = true;
    st->phase = HEAD;
    struct response head;
    response_init(&head, 200);
    response_header(&head, "Content-Type", "application/json");
    req_stream_start(st->req, &head, on_more, st);
}

/* fetch asks for the next pieces. */
static void
fetch(struct rstream *st) {
    char sql[80];
    snprintf(sql, sizeof sql, "FETCH %d FROM %s", RESULT_STREAM_FETCH, st->cursor);
    if (stream_pool_query(&st->app->streams, &st->slot, sql, 0, NULL, on_fetched, st) < 0) {
        fail(st, "fetch", NULL, "postgres unavailable");
        return;
    }
    st->waiting_pg = true;
}

static void
declare(struct rstream *st) {
    /* Each section's map read once (as stored: json text, or jsonb
     * rendered for rows stored before migration 0005), as UTF-8 bytes, and
     * cut into pieces; the cursor holds them until CLOSE. */
    char sql[1024];
    int len = snprintf(sql, sizeof sql,
                       "DECLARE %s NO SCROLL CURSOR WITH HOLD FOR SELECT s.k, "
                       "substring(s.b FROM i FOR %d) FROM (",
                       st->cursor, RESULT_STREAM_PIECE);
    for (int i = 0; i < st->nwant; i++)
        len += snprintf(sql + len, sizeof sql - (size_t)len,
                        "%sSELECT %d AS k, convert_to(%s::text, 'UTF8') AS b FROM results WHERE "
                        "job_id = $1",
                        i ? " UNION ALL " : "", st->want[i],
                        results_col_select(st->want[i] == 1 ? RESULTS_ALL : RESULTS_NO_STOP));
    snprintf(sql + len, sizeof sql - (size_t)len,
             ") s, generate_series(1, octet_length(s.b), %d) AS i ORDER BY s.k, i",
             RESULT_STREAM_PIECE);
    const char *params[] = {st->job_id};
    /* The row was just read on this server: it is up, even if this
     * connection lost it in an outage and still waits to reconnect. */
    stream_pool_wake(&st->app->streams, &st->slot);
    if (stream_pool_query(&st->app->streams, &st->slot, sql, 1, params, on_declared, st) < 0) {
        refuse(st, NULL, "postgres unavailable");
        return;
    }
    st->waiting_pg = true;
}

static void
on_more(struct req *req, void *arg) {
    struct rstream *st = arg;
    (void)req;
    if (st->waiting_pg) return; /* its answer goes on */
    if (req_stream_gone(st->req)) {
        /* Nothing more is wanted (the client left, or asked with HEAD):
         * the answer is over as far as anyone can see. */
        finish(st, true);
        return;
    }
    switch (st->phase) {
    case OPENING: /* not started: more is not called */
        break;
    case HEAD:
        st->phase = SENDING;
        req_stream_write(st->req, &st->prefix); /* the small members */
        break;
    case SENDING:
        fetch(st);
        break;
    case LAST:
        finish(st, true);
        break;
    case DONE:
        break;
    }
}

/* on_slot: the stream has its connection: the cursor is declared, and
 * the answer starts once it is (on_declared). */
static void
on_slot(struct stream_slot *slot, int status, void *arg) {
    struct rstream *st = arg;
    (void)slot;
    if (status < 0) {
        req_unavailable(st->req, REQ_POSTGRES, "the server is stopping");
        buf_free(&st->prefix);
        free(st);
        return;
    }
    declare(st);
}

void
result_stream_send(struct req *req, enum app_db db, json_t *fields, const char *job_id, bool all,
                   bool no_stop) {
    struct rstream *st = xcalloc(1, sizeof *st);
    st->req = req;
    st->app = req->app;
    snprintf(st->job_id, sizeof st->job_id, "%s", job_id);
    snprintf(st->cursor, sizeof st->cursor, "wc_result_%jx", (uintmax_t)(uintptr_t)st);
    if (all) st->want[st->nwant++] = 1;
    if (no_stop) st->want[st->nwant++] = 2;
    buf_init(&st->prefix);
    json_dump_append(fields, &st->prefix);
    json_decref(fields);
    /* "{...}" -> "{...," (or "{" when there are no small members). */
    if (st->prefix.len >= 2) {
        st->prefix.len--;
        if (st->prefix.len > 1) buf_append_char(&st->prefix, ',');
        else st->prefix.data[st->prefix.len] = '\0';
    }
    /* A connection for the cursor, now or when one is free; only a full
     * line turns the reader away. */
    int rc = stream_pool_acquire(&st->app->streams, db == APP_DB_READ, &st->slot, on_slot, st);
    if (rc == 0) return; /* on_slot has run */
    if (rc == 1) {       /* in line: on_slot runs later */
        log_info("msg=\"result stream waiting for a connection\" job=%s waiting=%d", job_id,
                 stream_pool_waiting(&req->app->streams));
        return;
    }
    if (rc == UV_EBUSY)
        req_problem_retry(req, 503, 1, "Service Unavailable",
                          "too many results are being read at once; try again shortly");
    else req_unavailable(req, REQ_POSTGRES, "the server is stopping");
    buf_free(&st->prefix);
    free(st);
}
