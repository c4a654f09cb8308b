#include "worker/store.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json_out.h"
#include "common/xalloc.h"
#include "worker/store_batch.h"

static const char FIND_SQL[] = "SELECT 1 FROM results WHERE job_id = $1";

struct store_op {
    store_done_cb cb;
    store_found_cb found_cb;
    void *arg;
};

static void
on_insert(pg_uv_t *pg, PGresult *res, const char *errstr, void *arg) {
    struct store_op *op = arg;
    (void)pg;
    if (!res) {
        op->cb(UV_ECONNRESET, errstr ? errstr : "postgres connection lost", op->arg);
    } else if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        op->cb(UV_EPROTO, PQresultErrorMessage(res), op->arg);
    } else {
        op->cb(0, NULL, op->arg);
    }
    free(op);
}

/* top_json writes [{"word":..,"count":..}, ...] for the n words in top. */
static void
top_json(const struct count_entry *top, int n, struct buf *out) {
    buf_append_char(out, '[');
    for (int i = 0; i < n; i++) {
        buf_append_str(out, i ? ",{\"word\":" : "{\"word\":");
        json_out_string(out, top[i].word, top[i].len);
        buf_append_str(out, ",\"count\":");
        json_out_u64(out, top[i].count);
        buf_append_char(out, '}');
    }
    buf_append_char(out, ']');
}

void
store_row_init(struct store_row *row, const char *job_id, const char *url,
               const struct analysis_result *r) {
    /* Every value goes into one buffer, each ended by a NUL; offsets are
     * turned into pointers once the buffer has stopped moving. */
    size_t at[RESULTS_NWRITTEN + 1];
    bool null[RESULTS_NWRITTEN] = {false};
    struct count_entry top[STORE_TOP_WORDS];
    int ntop = count_top(r->no_stop, STORE_TOP_WORDS, top);
    struct buf b;
    buf_init(&b);
    buf_reserve(&b, (count_unique(r->all) + count_unique(r->no_stop)) * 16 + 4096);
    for (int c = 0; c < RESULTS_NWRITTEN; c++) {
        at[c] = b.len;
        switch ((enum results_col)c) {
        case RESULTS_JOB_ID:
            buf_append_str(&b, job_id);
            break;
        case RESULTS_URL:
            buf_append_str(&b, url);
            break;
        case RESULTS_ALL:
            count_to_json(r->all, &b);
            break;
        case RESULTS_NO_STOP:
            count_to_json(r->no_stop, &b);
            break;
        case RESULTS_TOP_WORDS:
            top_json(top, ntop, &b);
            break;
        case RESULTS_TOTAL_WORDS:
            json_out_u64(&b, count_total(r->all));
            break;
        case RESULTS_UNIQUE_WORDS:
            json_out_u64(&b, count_unique(r->all));
            break;
        case RESULTS_TOTAL_NO_STOP:
            json_out_u64(&b, count_total(r->no_stop));
            break;
        case RESULTS_UNIQUE_NO_STOP:
            json_out_u64(&b, count_unique(r->no_stop));
            break;
        case RESULTS_FINAL_URL:
            if (r->final_url) buf_append_str(&b, r->final_url);
            else null[c] = true;
            break;
        case RESULTS_HTTP_STATUS:
            if (r->http_status > 0) json_out_u64(&b, (uint64_t)r->http_status);
            else null[c] = true;
            break;
        case RESULTS_CONTENT_TYPE:
            if (r->content_type) buf_append_str(&b, r->content_type);
            else null[c] = true;
            break;
        case RESULTS_CHARSET:
            if (r->charset) buf_append_str(&b, r->charset);
            else null[c] = true;
            break;
        case RESULTS_BYTES:
            json_out_u64(&b, r->bytes);
            break;
        case RESULTS_FETCH_MS:
            json_out_u64(&b, r->fetch_ms > 0 ? (uint64_t)r->fetch_ms : 0);
            break;
        default:
            break;
        }
        if (!null[c]) buf_append(&b, "", 1); /* the value's NUL */
    }
    /* The summary: what a poll shows from Redis. */
    at[RESULTS_NWRITTEN] = b.len;
    buf_append_str(&b, "{\"total_words\":");
    json_out_u64(&b, count_total(r->all));
    buf_append_str(&b, ",\"unique_words\":");
    json_out_u64(&b, count_unique(r->all));
    buf_append_str(&b, ",\"top\":");
    top_json(top, ntop < 10 ? ntop : 10, &b);
    buf_append(&b, "}", 2);
    row->mem = buf_steal(&b);
    for (int c = 0; c < RESULTS_NWRITTEN; c++) row->value[c] = null[c] ? NULL : row->mem + at[c];
    row->summary = row->mem + at[RESULTS_NWRITTEN];
}

void
store_row_free(struct store_row *row) {
    free(row->mem);
    memset(row, 0, sizeof *row);
}

int
store_insert(pg_uv_t *pg, const struct store_row *row, store_done_cb cb, void *arg) {
    store_batch_t *batch = pg_uv_data(pg);
    if (batch) return store_batch_add(batch, row, cb, arg);
    return store_insert_one(pg, row, cb, arg);
}

int
store_insert_one(pg_uv_t *pg, const struct store_row *row, store_done_cb cb, void *arg) {
    static char sql[1024];
    if (!sql[0] && results_insert_sql(sql, sizeof sql) < 0) {
        sql[0] = '\0';
        return UV_E2BIG; /* a programming error */
    }
    struct store_op *op = xcalloc(1, sizeof *op);
    op->cb = cb;
    op->arg = arg;
    int rc = pg_uv_query_borrowed(pg, sql, RESULTS_NWRITTEN, (const char *const *)row->value,
                                  on_insert, op);
    if (rc < 0) free(op);
    return rc;
}

char *
store_row_summary(const struct store_row *row) {
    return xstrdup(row->summary);
}

static void
on_find(pg_uv_t *pg, PGresult *res, const char *errstr, void *arg) {
    struct store_op *op = arg;
    (void)pg;
    if (!res)
        op->found_cb(UV_ECONNRESET, false, errstr ? errstr : "postgres connection lost", op->arg);
    else if (PQresultStatus(res) != PGRES_TUPLES_OK)
        op->found_cb(UV_EPROTO, false, PQresultErrorMessage(res), op->arg);
    else op->found_cb(0, PQntuples(res) > 0, NULL, op->arg);
    free(op);
}

int
store_find(pg_uv_t *pg, const char *job_id, store_found_cb cb, void *arg) {
    struct store_op *op = xcalloc(1, sizeof *op);
    op->found_cb = cb;
    op->arg = arg;
    const char *params[] = {job_id};
    int rc = pg_uv_query(pg, FIND_SQL, 1, params, on_find, op);
    if (rc < 0) free(op);
    return rc;
}

size_t
store_row_bytes(const struct store_row *row) {
    size_t n = 0;
    for (int i = 0; i < RESULTS_NWRITTEN; i++)
        if (row->value[i]) n += strlen(row->value[i]) + 1;
    return n;
}
