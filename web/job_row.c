/* job_row.c — a job's results row for the handlers; see job_row.h. */
#include "web/job_row.h"

#include "web/pg_read.h"

/* Every column a handler shows but the row's own id and the two count
 * maps, which can be megabytes: web/result_stream.c streams those. */
static const enum results_col ROW_COLS[] = {
    RESULTS_URL,           RESULTS_CREATED_AT,     RESULTS_TOTAL_WORDS, RESULTS_UNIQUE_WORDS,
    RESULTS_TOTAL_NO_STOP, RESULTS_UNIQUE_NO_STOP, RESULTS_TOP_WORDS,   RESULTS_FINAL_URL,
    RESULTS_HTTP_STATUS,   RESULTS_CONTENT_TYPE,   RESULTS_CHARSET,     RESULTS_BYTES,
    RESULTS_FETCH_MS,      RESULTS_URL_KEY,        RESULTS_ETAG,        RESULTS_LAST_MODIFIED,
    RESULTS_NOT_MODIFIED,
};

int
job_row_read(struct app *app, const char *job_id, pg_uv_cb cb, void *arg) {
    char sql[1024];
    if (results_select_sql(sql, sizeof sql, ROW_COLS, sizeof ROW_COLS / sizeof *ROW_COLS,
                           " FROM results WHERE job_id = $1") < 0)
        return UV_E2BIG;
    const char *params[] = {job_id};
    return pg_read_query(app, PG_READ_ROW, sql, 1, params, cb, arg);
}

json_t *
job_row_json(const PGresult *res, enum results_col c) {
    const char *text = results_text(res, 0, c);
    json_t *v = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
    return v ? v : json_null();
}

json_t *
job_row_string(const PGresult *res, enum results_col c) {
    const char *text = results_text(res, 0, c);
    return text ? json_string(text) : json_null();
}

json_t *
job_row_top(const PGresult *res, int n) {
    json_t *all = job_row_json(res, RESULTS_TOP_WORDS);
    json_t *out = json_array();
    for (size_t i = 0; i < json_array_size(all) && (int)i < n; i++)
        json_array_append(out, json_array_get(all, i));
    json_decref(all);
    return out;
}

json_t *
job_row_summary(const PGresult *res) {
    return json_pack("{s:I, s:I, s:o}", "total_words",
                     (json_int_t)results_int(res, 0, RESULTS_TOTAL_WORDS), "unique_words",
                     (json_int_t)results_int(res, 0, RESULTS_UNIQUE_WORDS), "top",
                     job_row_top(res, 10));
}

json_t *
job_row_summary_at(const PGresult *res, int row) {
    const char *top = results_text(res, row, RESULTS_TOP_TEN);
    json_t *v = top ? json_loads(top, JSON_DECODE_ANY, NULL) : NULL;
    return json_pack("{s:I, s:I, s:o}", "total_words",
                     (json_int_t)results_int(res, row, RESULTS_TOTAL_WORDS), "unique_words",
                     (json_int_t)results_int(res, row, RESULTS_UNIQUE_WORDS), "top",
                     json_is_array(v) ? v : (json_decref(v), json_array()));
}
