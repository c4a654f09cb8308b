/* results.c — the results table's columns; see results.h. */
#include "common/results.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

struct column {
    const char *name;
    const char *wrap;   /* written around the INSERT's placeholder, before it (NULL: nothing) */
    const char *cast;   /* ... and after it: a cast, or the rest of wrap ("" for none) */
    const char *select; /* how a reader selects it, as text */
    const char *copy;   /* how a copy (results_copy_sql) reads it from the row s in its
                           own type (NULL: s.<name>) */
};

/* The word maps: json columns since 0005, jsonb in rows stored before. */
#define MAP(col, old)                                                                              \
    {                                                                                              \
        col, NULL, "::json", "coalesce(" col "::text, " old "::text)",                             \
            "coalesce(s." col ", s." old "::json)"                                                 \
    }

/* A column a copy reads as it is (s.<name>). */
#define COL(name, wrap, cast, select)                                                              \
    { name, wrap, cast, select, NULL }

static const struct column columns[RESULTS_NCOLS] = {
    [RESULTS_JOB_ID] = COL("job_id", NULL, "", "job_id::text"),
    [RESULTS_URL] = COL("url", NULL, "", "url"),
    [RESULTS_ALL] = MAP("counts", "result_all"),
    [RESULTS_NO_STOP] = MAP("counts_no_stop", "result_no_stop_words"),
    [RESULTS_TOP_WORDS] = COL("top_words", NULL, "::jsonb", "top_words::text"),
    [RESULTS_TOTAL_WORDS] = COL("total_words", NULL, "", "total_words"),
    [RESULTS_UNIQUE_WORDS] = COL("unique_words", NULL, "", "unique_words"),
    [RESULTS_TOTAL_NO_STOP] = COL("total_words_no_stop", NULL, "", "total_words_no_stop"),
    [RESULTS_UNIQUE_NO_STOP] = COL("unique_words_no_stop", NULL, "", "unique_words_no_stop"),
    [RESULTS_FINAL_URL] = COL("final_url", NULL, "", "final_url"),
    [RESULTS_HTTP_STATUS] = COL("http_status", NULL, "", "http_status"),
    [RESULTS_CONTENT_TYPE] = COL("content_type", NULL, "", "content_type"),
    [RESULTS_CHARSET] = COL("charset", NULL, "", "charset"),
    [RESULTS_BYTES] = COL("bytes", NULL, "", "bytes"),
    [RESULTS_FETCH_MS] = COL("fetch_ms", NULL, "", "fetch_ms"),
    [RESULTS_URL_KEY] = COL("url_key", NULL, "", "url_key"),
    [RESULTS_ETAG] = COL("etag", NULL, "", "etag"),
    [RESULTS_LAST_MODIFIED] = COL("last_modified", NULL, "", "last_modified"),
    [RESULTS_NOT_MODIFIED] = COL("not_modified", NULL, "::boolean", "not_modified::text"),
    [RESULTS_CREATED_AT] =
        COL("created_at", "coalesce(to_timestamp(", "::double precision / 1000), now())",
            "(extract(epoch FROM created_at) * 1000)::bigint"),
    [RESULTS_ID] = COL("id", NULL, NULL, "id"),
    [RESULTS_STORED_AT] =
        COL("stored_at", NULL, NULL,
            "(extract(epoch FROM coalesce(stored_at, created_at)) * 1000)::bigint"),
    [RESULTS_TOP_TEN] = COL("top_ten", NULL, NULL,
                            "(SELECT coalesce(jsonb_agg(t), '[]'::jsonb) FROM"
                            " (SELECT t FROM jsonb_array_elements(top_words) t LIMIT 10) s)::text"),
};

const char *
results_col_name(enum results_col c) {
    return (unsigned)c < RESULTS_NCOLS ? columns[c].name : NULL;
}

const char *
results_col_select(enum results_col c) {
    return (unsigned)c < RESULTS_NCOLS ? columns[c].select : NULL;
}

/* put appends to out[*at..len), keeping *at; false once out is full. */
static bool put(char *out, size_t len, size_t *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static bool
put(char *out, size_t len, size_t *at, const char *fmt, ...) {
    if (*at >= len) return false;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + *at, len - *at, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= len - *at) {
        *at = len;
        return false;
    }
    *at += (size_t)n;
    return true;
}

static const char *
wrap(int c) {
    return columns[c].wrap ? columns[c].wrap : "";
}

/* insert_head writes "INSERT INTO results (<every written column>)". */
static bool
insert_head(char *out, size_t len, size_t *at) {
    bool ok = put(out, len, at, "INSERT INTO results (");
    for (int c = 0; c < RESULTS_NWRITTEN; c++)
        ok = ok && put(out, len, at, "%s%s", c ? ", " : "", columns[c].name);
    return ok && put(out, len, at, ")");
}

int
results_insert_rows_sql(char *out, size_t len, int nrows) {
    size_t at = 0;
    bool ok = nrows > 0 && insert_head(out, len, &at) && put(out, len, &at, " VALUES ");
    for (int r = 0; r < nrows && ok; r++) {
        ok = put(out, len, &at, "%s(", r ? ", " : "");
        for (int c = 0; c < RESULTS_NWRITTEN; c++)
            ok = ok && put(out, len, &at, "%s%s$%d%s", c ? ", " : "", wrap(c),
                           r * RESULTS_NWRITTEN + c + 1, columns[c].cast);
        ok = ok && put(out, len, &at, ")");
    }
    ok = ok && put(out, len, &at, " ON CONFLICT (%s, %s) DO NOTHING", columns[RESULTS_JOB_ID].name,
                   columns[RESULTS_CREATED_AT].name);
    return ok ? 0 : -1;
}

int
results_insert_sql(char *out, size_t len) {
    return results_insert_rows_sql(out, len, 1);
}

int
results_copy_sql(char *out, size_t len) {
    size_t at = 0;
    bool ok = insert_head(out, len, &at) && put(out, len, &at, " SELECT ");
    for (int c = 0; c < RESULTS_NWRITTEN; c++) {
        bool own = c == RESULTS_JOB_ID || c == RESULTS_URL || c == RESULTS_URL_KEY ||
                   c == RESULTS_NOT_MODIFIED || c == RESULTS_CREATED_AT;
        ok = ok &&
             (own ? put(out, len, &at, "%s%s$%d%s", c ? ", " : "", wrap(c), c + 1, columns[c].cast)
                  : put(out, len, &at, "%scoalesce($%d%s, %s%s)", c ? ", " : "", c + 1,
                        columns[c].cast, columns[c].copy ? "" : "s.",
                        columns[c].copy ? columns[c].copy : columns[c].name));
    }
    ok = ok && put(out, len, &at,
                   " FROM results s WHERE s.%s = $%d::bigint ON CONFLICT (%s, %s) DO NOTHING",
                   columns[RESULTS_ID].name, RESULTS_NWRITTEN + 1, columns[RESULTS_JOB_ID].name,
                   columns[RESULTS_CREATED_AT].name);
    return ok ? 0 : -1;
}

int
results_select_sql(char *out, size_t len, const enum results_col *cols, size_t n,
                   const char *tail) {
    size_t at = 0;
    bool ok = n > 0 && put(out, len, &at, "SELECT ");
    for (size_t i = 0; i < n && ok; i++) {
        if ((unsigned)cols[i] >= RESULTS_NCOLS) return -1;
        const struct column *c = &columns[cols[i]];
        ok = put(out, len, &at, "%s%s AS %s", i ? ", " : "", c->select, c->name);
    }
    ok = ok && put(out, len, &at, "%s", tail ? tail : "");
    return ok ? 0 : -1;
}

const char *
results_text(const PGresult *res, int row, enum results_col c) {
    const char *name = results_col_name(c);
    int f = name ? PQfnumber(res, name) : -1;
    if (f < 0 || row < 0 || row >= PQntuples(res) || PQgetisnull(res, row, f)) return NULL;
    return PQgetvalue(res, row, f);
}

long long
results_int(const PGresult *res, int row, enum results_col c) {
    const char *v = results_text(res, row, c);
    return v ? strtoll(v, NULL, 10) : 0;
}
