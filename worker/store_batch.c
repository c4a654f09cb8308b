/* store_batch.c — several result rows to one INSERT; see store_batch.h. */
#include "worker/store_batch.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/results.h"
#include "common/xalloc.h"

struct pending {
    struct pending *next;
    const struct store_row *row;
    size_t bytes; /* of its values */
    store_done_cb cb;
    void *arg;
};

/* A statement in flight and the rows it holds. */
struct flight {
    struct store_batch *batch;
    struct pending *rows;
    int n;
};

struct store_batch {
    uv_loop_t *loop;
    pg_uv_t *pg;
    uv_timer_t timer;
    struct pending *head, **tail;
    int n;
    size_t bytes;
    int inflight;                    /* statements of this batch sent, not yet answered */
    uint64_t sent_at;                /* when the last one was sent (uv_now) */
    char *sql[STORE_BATCH_ROWS + 1]; /* the INSERT of n rows, made once */
    bool closing, timer_closed;
    store_batch_close_cb close_cb;
    void *close_arg;
};

static void flush(struct store_batch *b);
static void paced_flush(struct store_batch *b);

static size_t
row_bytes(const struct store_row *row) {
    size_t n = 0;
    for (int c = 0; c < RESULTS_NWRITTEN; c++)
        if (row->value[c]) n += strlen(row->value[c]);
    return n;
}

static const char *
sql_for(struct store_batch *b, int n) {
    if (!b->sql[n]) {
        size_t len = 256 + (size_t)n * RESULTS_NWRITTEN * 24;
        b->sql[n] = xmalloc(len);
        if (results_insert_rows_sql(b->sql[n], len, n) < 0) abort(); /* sized above */
    }
    return b->sql[n];
}

static void
maybe_free(struct store_batch *b) {
    if (!b->closing || !b->timer_closed || b->inflight > 0) return;
    for (int i = 0; i <= STORE_BATCH_ROWS; i++) free(b->sql[i]);
    store_batch_close_cb cb = b->close_cb;
    void *arg = b->close_arg;
    free(b);
    if (cb) cb(arg);
}

/* answer calls every row's callback (the list is detached first: a
 * callback may add rows again). */
static void
answer(struct pending *rows, int status, const char *errstr) {
    for (struct pending *p = rows, *next; p; p = next) {
        next = p->next;
        p->cb(status, errstr, p->arg);
        free(p);
    }
}

static void
on_batch(pg_uv_t *pg, PGresult *res, const char *errstr, void *arg) {
    struct flight *f = arg;
    struct store_batch *b = f->batch;
    b->inflight--;
    /* What waited behind this statement goes now (or when the pace
     * allows), before the callbacks (they talk to Redis; Postgres can
     * work meanwhile). */
    if (!b->closing && b->head) paced_flush(b);
    if (!res) {
        answer(f->rows, UV_ECONNRESET, errstr ? errstr : "postgres connection lost");
    } else if (PQresultStatus(res) == PGRES_COMMAND_OK) {
        answer(f->rows, 0, NULL);
    } else if (f->n == 1 || b->closing) {
        answer(f->rows, UV_EPROTO, PQresultErrorMessage(res));
    } else {
        /* One bad row fails its statement: write each row on its own, so
         * the others are stored and only the bad one fails. */
        const char *why = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        log_warn("msg=\"batch of results refused, writing its rows one by one\" rows=%d error=%s",
                 f->n, log_q(why ? why : "?"));
        for (struct pending *p = f->rows, *next; p; p = next) {
            next = p->next;
            int rc = store_insert_one(pg, p->row, p->cb, p->arg);
            if (rc < 0) p->cb(rc, "postgres refused the query", p->arg);
            free(p);
        }
    }
    free(f);
    maybe_free(b);
}

/* send_some sends up to STORE_BATCH_ROWS of the rows waiting as one
 * statement; returns how many it took. */
static int
send_some(struct store_batch *b) {
    const char *params[STORE_BATCH_ROWS * RESULTS_NWRITTEN];
    struct flight *f = xcalloc(1, sizeof *f);
    f->batch = b;
    f->rows = b->head;
    struct pending *last = NULL;
    int k = 0;
    for (struct pending *p = b->head; p && f->n < STORE_BATCH_ROWS; p = p->next) {
        for (int c = 0; c < RESULTS_NWRITTEN; c++) params[k++] = p->row->value[c];
        b->bytes -= p->bytes;
        f->n++;
        last = p;
    }
    b->head = last->next;
    if (!b->head) b->tail = &b->head;
    last->next = NULL;
    b->n -= f->n;
    int n = f->n;
    int rc = pg_uv_query_borrowed(b->pg, sql_for(b, n), k, params, on_batch, f);
    if (rc < 0) {
        answer(f->rows, rc, rc == UV_ENOTCONN ? "postgres is down" : "postgres refused the query");
        free(f);
        return n;
    }
    b->inflight++;
    b->sent_at = uv_now(b->loop);
    return n;
}

/* flush sends every row waiting, STORE_BATCH_ROWS to a statement. */
static void
flush(struct store_batch *b) {
    uv_timer_stop(&b->timer);
    /* Only the rows here now: a callback answered on the way may add
     * its row again, and that one waits for the next turn. */
    for (int left = b->n; left > 0 && b->head && !b->closing;) left -= send_some(b);
}

static void
on_timer(uv_timer_t *t) {
    flush(t->data);
}

/* paced_flush: rows that waited behind a statement go now when there
 * are enough of them or the last statement went STORE_BATCH_PACE_MS ago,
 * else when that time is up. */
static void
paced_flush(struct store_batch *b) {
    uint64_t since = uv_now(b->loop) - b->sent_at;
    if (b->n >= STORE_BATCH_ROWS / 4 || since >= STORE_BATCH_PACE_MS) {
        flush(b);
        return;
    }
    if (!uv_is_active((uv_handle_t *)&b->timer))
        uv_timer_start(&b->timer, on_timer, STORE_BATCH_PACE_MS - since, 0);
}

store_batch_t *
store_batch_new(uv_loop_t *loop, pg_uv_t *pg) {
    struct store_batch *b = xcalloc(1, sizeof *b);
    b->loop = loop;
    b->pg = pg;
    b->tail = &b->head;
    uv_timer_init(loop, &b->timer);
    b->timer.data = b;
    pg_uv_set_data(pg, b);
    return b;
}

int
store_batch_add(store_batch_t *b, const struct store_row *row, store_done_cb cb, void *arg) {
    if (b->closing) return UV_ECANCELED;
    struct pending *p = xmalloc(sizeof *p);
    *p = (struct pending){.row = row, .bytes = row_bytes(row), .cb = cb, .arg = arg};
    *b->tail = p;
    b->tail = &p->next;
    b->n++;
    b->bytes += p->bytes;
    /* Full: on the loop's next turn (never from inside this call). An
     * idle connection: after a short wait for company. Busy: when its
     * statement answers (on_batch). */
    if (b->n >= STORE_BATCH_ROWS || b->bytes >= STORE_BATCH_BYTES)
        uv_timer_start(&b->timer, on_timer, 0, 0);
    else if (b->inflight == 0 && !uv_is_active((uv_handle_t *)&b->timer))
        uv_timer_start(&b->timer, on_timer, STORE_BATCH_DELAY_MS, 0);
    return 0;
}

static void
on_timer_closed(uv_handle_t *h) {
    struct store_batch *b = h->data;
    b->timer_closed = true;
    maybe_free(b);
}

void
store_batch_close(store_batch_t *b, store_batch_close_cb cb, void *arg) {
    b->closing = true;
    b->close_cb = cb;
    b->close_arg = arg;
    pg_uv_set_data(b->pg, NULL);
    struct pending *rows = b->head;
    b->head = NULL;
    b->tail = &b->head;
    b->n = 0;
    uv_close((uv_handle_t *)&b->timer, on_timer_closed);
    answer(rows, UV_ECANCELED, "closing");
}
