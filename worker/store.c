#include "worker/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/url_norm.h"
#include "common/xalloc.h"

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

/* top_json writes [{"word":..,"count":..}, ...] for the n most frequent words. */
static void
top_json(const struct count_table *t, struct buf *out) {
    struct count_entry top[STORE_TOP_WORDS];
    int n = count_top(t, STORE_TOP_WORDS, top);
    json_t *arr = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:s%, s:I}", "word", top[i].word, top[i].len,
                                             "count", (json_int_t)top[i].count));
    json_dump_append(arr, out);
    json_decref(arr);
}

static char *
fmt_u64(unsigned long long v) {
    return xasprintf("%llu", v);
}

/* url_key_of is url's normalised form (malloc'd). The URL was checked at
 * submit, so it normalises; should it not, it is its own key rather
 * than no key. */
static char *
url_key_of(const char *url) {
    char key[URL_NORM_MAX + 1], err[128];
    return xstrdup(url_norm(url, key, sizeof key, err, sizeof err) == 0 ? key : url);
}

void
store_row_init(struct store_row *row, const char *job_id, const char *url,
               const struct analysis_result *r) {
    struct buf b;
    char **v = row->value;
    v[RESULTS_JOB_ID] = xstrdup(job_id);
    v[RESULTS_URL] = xstrdup(url);
    buf_init(&b);
    count_to_json(r->all, &b);
    v[RESULTS_ALL] = buf_steal(&b);
    count_to_json(r->no_stop, &b);
    v[RESULTS_NO_STOP] = buf_steal(&b);
    top_json(r->no_stop, &b);
    v[RESULTS_TOP_WORDS] = buf_steal(&b);
    v[RESULTS_TOTAL_WORDS] = fmt_u64(count_total(r->all));
    v[RESULTS_UNIQUE_WORDS] = fmt_u64(count_unique(r->all));
    v[RESULTS_TOTAL_NO_STOP] = fmt_u64(count_total(r->no_stop));
    v[RESULTS_UNIQUE_NO_STOP] = fmt_u64(count_unique(r->no_stop));
    v[RESULTS_FINAL_URL] = r->final_url ? xstrdup(r->final_url) : NULL;
    v[RESULTS_HTTP_STATUS] = r->http_status ? xasprintf("%ld", r->http_status) : NULL;
    v[RESULTS_CONTENT_TYPE] = r->content_type ? xstrdup(r->content_type) : NULL;
    v[RESULTS_CHARSET] = r->charset ? xstrdup(r->charset) : NULL;
    v[RESULTS_BYTES] = fmt_u64(r->bytes);
    v[RESULTS_FETCH_MS] = xasprintf("%d", r->fetch_ms);
    v[RESULTS_URL_KEY] = url_key_of(url);
    v[RESULTS_ETAG] = r->etag ? xstrdup(r->etag) : NULL;
    v[RESULTS_LAST_MODIFIED] = r->last_modified ? xstrdup(r->last_modified) : NULL;
    v[RESULTS_NOT_MODIFIED] = xstrdup("false");
}

void
store_row_init_copy(struct store_row *row, const char *job_id, const char *url,
                    const struct store_prev *prev, const struct analysis_result *r) {
    char **v = row->value;
    memset(row, 0, sizeof *row);
    v[RESULTS_JOB_ID] = xstrdup(job_id);
    v[RESULTS_URL] = xstrdup(url);
    v[RESULTS_URL_KEY] = url_key_of(url);
    v[RESULTS_FINAL_URL] = r->final_url ? xstrdup(r->final_url) : NULL;
    v[RESULTS_HTTP_STATUS] = r->http_status ? xasprintf("%ld", r->http_status) : NULL;
    v[RESULTS_BYTES] = fmt_u64(r->bytes);
    v[RESULTS_FETCH_MS] = xasprintf("%d", r->fetch_ms);
    v[RESULTS_ETAG] = r->etag ? xstrdup(r->etag) : NULL;
    v[RESULTS_LAST_MODIFIED] = r->last_modified ? xstrdup(r->last_modified) : NULL;
    v[RESULTS_NOT_MODIFIED] = xstrdup("true");
    row->copy_of = xstrdup(prev->id);
}

void
store_row_free(struct store_row *row) {
    for (int i = 0; i < RESULTS_NWRITTEN; i++) {
        free(row->value[i]);
        row->value[i] = NULL;
    }
    free(row->copy_of);
    row->copy_of = NULL;
}

int
store_insert(pg_uv_t *pg, const struct store_row *row, store_done_cb cb, void *arg) {
    char sql[2048];
    const char *params[RESULTS_NWRITTEN + 1];
    memcpy(params, row->value, sizeof row->value);
    params[RESULTS_NWRITTEN] = row->copy_of;
    if ((row->copy_of ? results_copy_sql(sql, sizeof sql) : results_insert_sql(sql, sizeof sql)) <
        0)
        return UV_E2BIG; /* a programming error */
    struct store_op *op = xcalloc(1, sizeof *op);
    op->cb = cb;
    op->arg = arg;
    int rc = pg_uv_query(pg, sql, RESULTS_NWRITTEN + (row->copy_of ? 1 : 0), params, on_insert, op);
    if (rc < 0) free(op);
    return rc;
}

char *
store_row_summary(const struct store_row *row) {
    if (!row->value[RESULTS_TOP_WORDS] || !row->value[RESULTS_TOTAL_WORDS] ||
        !row->value[RESULTS_UNIQUE_WORDS])
        return NULL;
    json_t *top = json_loads(row->value[RESULTS_TOP_WORDS], 0, NULL);
    if (!json_is_array(top)) {
        json_decref(top);
        return NULL;
    }
    json_t *ten = json_array();
    for (size_t i = 0; i < json_array_size(top) && i < 10; i++)
        json_array_append(ten, json_array_get(top, i));
    json_decref(top);
    json_t *v =
        json_pack("{s:I, s:I, s:o}", "total_words",
                  (json_int_t)strtoll(row->value[RESULTS_TOTAL_WORDS], NULL, 10), "unique_words",
                  (json_int_t)strtoll(row->value[RESULTS_UNIQUE_WORDS], NULL, 10), "top", ten);
    char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    return s;
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
