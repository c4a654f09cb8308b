#include "worker/store.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json_out.h"
#include "common/url_norm.h"
#include "common/xalloc.h"
#include "worker/store_batch.h"

static const char FIND_SQL[] = "SELECT 1 FROM results WHERE job_id = $1";

struct store_op {
    store_done_cb cb;
    store_found_cb found_cb;
    store_prev_cb prev_cb;
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

/* url_key_into appends url's normalised form. The URL was checked at
 * submit, so it normalises; should it not, it is its own key rather
 * than no key. */
static void
url_key_into(const char *url, struct buf *out) {
    char key[URL_NORM_MAX + 1], err[128];
    buf_append_str(out, url_norm(url, key, sizeof key, err, sizeof err) == 0 ? key : url);
}

void
store_row_init(struct store_row *row, const char *job_id, const char *url, int64_t created_at_ms,
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
        case RESULTS_URL_KEY:
            url_key_into(url, &b);
            break;
        case RESULTS_ETAG:
            if (r->etag) buf_append_str(&b, r->etag);
            else null[c] = true;
            break;
        case RESULTS_LAST_MODIFIED:
            if (r->last_modified) buf_append_str(&b, r->last_modified);
            else null[c] = true;
            break;
        case RESULTS_NOT_MODIFIED:
            buf_append_str(&b, "false");
            break;
        case RESULTS_CREATED_AT:
            if (created_at_ms > 0) json_out_u64(&b, (uint64_t)created_at_ms);
            else null[c] = true;
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
    row->copy_of = NULL;
}

void
store_row_init_copy(struct store_row *row, const char *job_id, const char *url,
                    int64_t created_at_ms, const struct store_prev *prev,
                    const struct analysis_result *r) {
    /* One block as store_row_init makes it; the columns not set here are
     * the previous row's (results_copy_sql). */
    size_t at[RESULTS_NWRITTEN];
    bool set[RESULTS_NWRITTEN] = {false};
    struct buf b;
    buf_init(&b);
    memset(row, 0, sizeof *row);
    for (int c = 0; c < RESULTS_NWRITTEN; c++) {
        at[c] = b.len;
        set[c] = true;
        switch ((enum results_col)c) {
        case RESULTS_JOB_ID:
            buf_append_str(&b, job_id);
            break;
        case RESULTS_URL:
            buf_append_str(&b, url);
            break;
        case RESULTS_URL_KEY:
            url_key_into(url, &b);
            break;
        case RESULTS_FINAL_URL:
            set[c] = r->final_url != NULL;
            if (set[c]) buf_append_str(&b, r->final_url);
            break;
        case RESULTS_HTTP_STATUS:
            set[c] = r->http_status > 0;
            if (set[c]) json_out_u64(&b, (uint64_t)r->http_status);
            break;
        case RESULTS_BYTES:
            json_out_u64(&b, r->bytes);
            break;
        case RESULTS_FETCH_MS:
            json_out_u64(&b, r->fetch_ms > 0 ? (uint64_t)r->fetch_ms : 0);
            break;
        case RESULTS_ETAG:
            set[c] = r->etag != NULL;
            if (set[c]) buf_append_str(&b, r->etag);
            break;
        case RESULTS_LAST_MODIFIED:
            set[c] = r->last_modified != NULL;
            if (set[c]) buf_append_str(&b, r->last_modified);
            break;
        case RESULTS_NOT_MODIFIED:
            buf_append_str(&b, "true");
            break;
        case RESULTS_CREATED_AT:
            set[c] = created_at_ms > 0;
            if (set[c]) json_out_u64(&b, (uint64_t)created_at_ms);
            break;
        default:
            set[c] = false;
            break;
        }
        if (set[c]) buf_append(&b, "", 1);
    }
    size_t copy_at = b.len;
    buf_append(&b, prev->id, strlen(prev->id) + 1);
    row->mem = buf_steal(&b);
    for (int c = 0; c < RESULTS_NWRITTEN; c++) row->value[c] = set[c] ? row->mem + at[c] : NULL;
    row->copy_of = row->mem + copy_at;
}

void
store_row_free(struct store_row *row) {
    free(row->mem);
    memset(row, 0, sizeof *row);
}

int
store_insert(pg_uv_t *pg, const struct store_row *row, store_done_cb cb, void *arg) {
    store_batch_t *batch = pg_uv_data(pg);
    /* A copy (a 304) is an INSERT ... SELECT of its own, not a batch's row. */
    if (batch && !row->copy_of) return store_batch_add(batch, row, cb, arg);
    return store_insert_one(pg, row, cb, arg);
}

int
store_insert_one(pg_uv_t *pg, const struct store_row *row, store_done_cb cb, void *arg) {
    static char sql[1024], copy_sql[2048];
    char *q = row->copy_of ? copy_sql : sql;
    if (!q[0] && (row->copy_of ? results_copy_sql(copy_sql, sizeof copy_sql)
                               : results_insert_sql(sql, sizeof sql)) < 0) {
        q[0] = '\0';
        return UV_E2BIG; /* a programming error */
    }
    struct store_op *op = xcalloc(1, sizeof *op);
    op->cb = cb;
    op->arg = arg;
    int rc;
    if (row->copy_of) {
        /* The copy's parameters are one more than the row has: copied. */
        const char *params[RESULTS_NWRITTEN + 1];
        memcpy(params, row->value, sizeof row->value);
        params[RESULTS_NWRITTEN] = row->copy_of;
        rc = pg_uv_query(pg, q, RESULTS_NWRITTEN + 1, params, on_insert, op);
    } else {
        rc = pg_uv_query_borrowed(pg, q, RESULTS_NWRITTEN, (const char *const *)row->value,
                                  on_insert, op);
    }
    if (rc < 0) free(op);
    return rc;
}

char *
store_row_summary(const struct store_row *row) {
    return row->summary ? xstrdup(row->summary) : NULL;
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

static void
on_last(pg_uv_t *pg, PGresult *res, const char *errstr, void *arg) {
    struct store_op *op = arg;
    (void)pg;
    struct store_prev prev = {0};
    if (!res) {
        op->prev_cb(UV_ECONNRESET, NULL, errstr ? errstr : "postgres connection lost", op->arg);
    } else if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        op->prev_cb(UV_EPROTO, NULL, PQresultErrorMessage(res), op->arg);
    } else {
        const char *id = results_text(res, 0, RESULTS_ID);
        const char *etag = results_text(res, 0, RESULTS_ETAG);
        const char *lm = results_text(res, 0, RESULTS_LAST_MODIFIED);
        prev.found = id != NULL;
        snprintf(prev.id, sizeof prev.id, "%s", id ? id : "");
        if (etag && strlen(etag) < sizeof prev.etag) strcpy(prev.etag, etag);
        if (lm && strlen(lm) < sizeof prev.last_modified) strcpy(prev.last_modified, lm);
        op->prev_cb(0, &prev, NULL, op->arg);
    }
    free(op);
}

int
store_last(pg_uv_t *pg, const char *url_key, store_prev_cb cb, void *arg) {
    static const enum results_col cols[] = {RESULTS_ID, RESULTS_ETAG, RESULTS_LAST_MODIFIED};
    char sql[512];
    if (results_select_sql(sql, sizeof sql, cols, sizeof cols / sizeof *cols,
                           " FROM results WHERE url_key = $1"
                           " ORDER BY created_at DESC, id DESC LIMIT 1") < 0)
        return UV_E2BIG;
    struct store_op *op = xcalloc(1, sizeof *op);
    op->prev_cb = cb;
    op->arg = arg;
    const char *params[] = {url_key};
    int rc = pg_uv_query(pg, sql, 1, params, on_last, op);
    if (rc < 0) free(op);
    return rc;
}
