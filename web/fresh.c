/* fresh.c — fresh results by normalised URL; see fresh.h. */
#include "web/fresh.h"

#include <stdio.h>

#include "common/buf.h"
#include "common/results.h"
#include "web/pg_read.h"

/* For each key, its newest result stored less than $2 seconds ago (by
 * stored_at; created_at is its job's submission): one index probe per
 * key, over (url_key, created_at DESC, id DESC). The subquery is called results so that the column
 * expressions of results_select_sql name its columns. */
static const char FRESH_FROM[] =
    " FROM unnest($1::text[]) AS want(key), LATERAL (SELECT * FROM results"
    " WHERE url_key = want.key"
    " AND coalesce(stored_at, created_at) > now() - make_interval(secs => $2::int)"
    " ORDER BY created_at DESC, id DESC LIMIT 1) AS results";

int
fresh_lookup(struct app *app, const char *const *url_keys, size_t n, long max_age_s, pg_uv_cb cb,
             void *arg) {
    static const enum results_col cols[] = {RESULTS_JOB_ID, RESULTS_URL_KEY};
    char sql[1024], age[24];
    if (n == 0 || results_select_sql(sql, sizeof sql, cols, 2, FRESH_FROM) < 0) return UV_EINVAL;
    /* A Postgres array literal: every key quoted, '"' and '\' escaped. */
    struct buf keys;
    buf_init(&keys);
    buf_append_char(&keys, '{');
    for (size_t i = 0; i < n; i++) {
        buf_append_str(&keys, i ? ",\"" : "\"");
        for (const char *p = url_keys[i]; *p; p++) {
            if (*p == '"' || *p == '\\') buf_append_char(&keys, '\\');
            buf_append_char(&keys, *p);
        }
        buf_append_char(&keys, '"');
    }
    buf_append_char(&keys, '}');
    snprintf(age, sizeof age, "%ld", max_age_s);
    const char *params[] = {keys.data, age};
    int rc = pg_read_query(app, PG_READ_LIST, sql, 2, params, cb, arg);
    buf_free(&keys);
    return rc;
}
