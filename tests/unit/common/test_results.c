/* The results table's column list: the INSERT the worker sends, and a row
 * written and read back by column on a real Postgres with the schema the
 * migrations make (so a column renamed on one side fails here). */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/results.h"
#include "tests/lib/testdb.h"
#include "tests/lib/testenv.h"

Test(results, insert_names_every_written_column_in_order) {
    char sql[1024];
    cr_assert_eq(results_insert_sql(sql, sizeof sql), 0);
    cr_assert_str_eq(sql,
                     "INSERT INTO results (job_id, url, counts, counts_no_stop, "
                     "top_words, total_words, unique_words, total_words_no_stop, "
                     "unique_words_no_stop, final_url, http_status, content_type, charset, bytes, "
                     "fetch_ms, url_key, etag, last_modified, not_modified, created_at) VALUES "
                     "($1, $2, $3::json, $4::json, $5::jsonb, $6, $7, $8, $9, $10, $11, $12, "
                     "$13, $14, $15, $16, $17, $18, $19::boolean, "
                     "coalesce(to_timestamp($20::double precision / 1000), now())) "
                     "ON CONFLICT (job_id, created_at) DO NOTHING");
    char tiny[64];
    cr_assert_eq(results_insert_sql(tiny, sizeof tiny), -1, "too small is refused, not cut");
}

Test(results, select_names_each_column) {
    enum results_col cols[] = {RESULTS_URL, RESULTS_CREATED_AT};
    char sql[256];
    cr_assert_eq(results_select_sql(sql, sizeof sql, cols, 2, " FROM results"), 0);
    cr_assert_str_eq(sql, "SELECT url AS url, (extract(epoch FROM created_at) * 1000)::bigint AS "
                          "created_at FROM results");
    cr_assert_eq(results_select_sql(sql, sizeof sql, cols, 0, ""), -1, "nothing to select");
    enum results_col bad[] = {RESULTS_NCOLS};
    cr_assert_eq(results_select_sql(sql, sizeof sql, bad, 1, ""), -1);
    cr_assert_eq(results_select_sql(sql, 20, cols, 2, " FROM results"), -1);
    cr_assert_null(results_col_name(RESULTS_NCOLS));
    for (int c = 0; c < RESULTS_NCOLS; c++) cr_assert_not_null(results_col_name(c));
}

static PGconn *
migrated_db(char *name, size_t len) {
    char url[512];
    testdb_create(url, sizeof url, name, len);
    PGconn *c = PQconnectdb(url);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    /* Every migration's up file, in order, as wordcount-migrate runs them. */
    static const char *const files[] = {"0001_create_results", "0002_results_lz4",
                                        "0003_fresh_results", "0004_results_partitioned",
                                        "0005_results_counts_json"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/migrations/%s.up.sql", testenv_srcdir(), files[i]);
        FILE *f = fopen(path, "rb");
        cr_assert_not_null(f, "%s", path);
        static char schema[16384];
        size_t n = fread(schema, 1, sizeof schema - 1, f);
        fclose(f);
        schema[n] = '\0';
        PGresult *r = PQexec(c, schema); /* the answer of its last statement */
        cr_assert(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
                  "%s: %s", files[i], PQresultErrorMessage(r));
        PQclear(r);
    }
    return c;
}

Test(results, a_row_goes_in_and_comes_out_by_column, .timeout = 60) {
    char name[64];
    PGconn *c = migrated_db(name, sizeof name);
    const char *v[RESULTS_NWRITTEN] = {0};
    v[RESULTS_JOB_ID] = "0192f3a1-7c2e-7abc-8def-0123456789ab";
    v[RESULTS_URL] = "http://example.com/";
    v[RESULTS_ALL] = "{\"b\":1,\"a\":3}"; /* as the worker writes it: compact, unsorted */
    v[RESULTS_NO_STOP] = "{\"b\":1}";
    v[RESULTS_TOP_WORDS] = "[{\"word\": \"b\", \"count\": 1}]";
    v[RESULTS_TOTAL_WORDS] = "4";
    v[RESULTS_UNIQUE_WORDS] = "2";
    v[RESULTS_TOTAL_NO_STOP] = "1";
    v[RESULTS_UNIQUE_NO_STOP] = "1";
    v[RESULTS_HTTP_STATUS] = "200";
    v[RESULTS_BYTES] = "1234";
    v[RESULTS_FETCH_MS] = "56";
    v[RESULTS_URL_KEY] = "http://example.com/";
    v[RESULTS_ETAG] = "\"v1\"";
    v[RESULTS_NOT_MODIFIED] = "false";
    v[RESULTS_CREATED_AT] = "1795000000123"; /* the job's submission: 2026-11-18 */
    /* final_url, content_type and charset stay NULL. */
    char sql[2048];
    cr_assert_eq(results_insert_sql(sql, sizeof sql), 0);
    for (int i = 0; i < 2; i++) { /* the second insert of one job does nothing */
        PGresult *r = PQexecParams(c, sql, RESULTS_NWRITTEN, NULL, v, NULL, NULL, 0);
        cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
        cr_assert_str_eq(PQcmdTuples(r), i == 0 ? "1" : "0");
        PQclear(r);
    }

    enum results_col all[RESULTS_NCOLS];
    for (int i = 0; i < RESULTS_NCOLS; i++) all[RESULTS_NCOLS - 1 - i] = (enum results_col)i;
    cr_assert_eq(results_select_sql(sql, sizeof sql, all, RESULTS_NCOLS, " FROM results"), 0);
    PGresult *r = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql, PQresultErrorMessage(r));
    cr_assert_eq(PQntuples(r), 1);
    cr_assert_str_eq(results_text(r, 0, RESULTS_JOB_ID), v[RESULTS_JOB_ID]);
    cr_assert_str_eq(results_text(r, 0, RESULTS_URL), v[RESULTS_URL]);
    cr_assert_eq(results_int(r, 0, RESULTS_TOTAL_WORDS), 4);
    cr_assert_eq(results_int(r, 0, RESULTS_UNIQUE_WORDS), 2);
    cr_assert_eq(results_int(r, 0, RESULTS_TOTAL_NO_STOP), 1);
    cr_assert_eq(results_int(r, 0, RESULTS_UNIQUE_NO_STOP), 1);
    cr_assert_eq(results_int(r, 0, RESULTS_HTTP_STATUS), 200);
    cr_assert_eq(results_int(r, 0, RESULTS_BYTES), 1234);
    cr_assert_eq(results_int(r, 0, RESULTS_FETCH_MS), 56);
    cr_assert_null(results_text(r, 0, RESULTS_FINAL_URL), "SQL NULL reads as NULL");
    cr_assert_str_eq(results_text(r, 0, RESULTS_URL_KEY), v[RESULTS_URL_KEY]);
    cr_assert_str_eq(results_text(r, 0, RESULTS_ETAG), "\"v1\"");
    cr_assert_null(results_text(r, 0, RESULTS_LAST_MODIFIED));
    cr_assert_str_eq(results_text(r, 0, RESULTS_NOT_MODIFIED), "false");
    cr_assert_eq(results_int(r, 0, RESULTS_CHARSET), 0);
    cr_assert_str_eq(results_text(r, 0, RESULTS_TOP_WORDS), "[{\"word\": \"b\", \"count\": 1}]");
    cr_assert_str_eq(results_text(r, 0, RESULTS_TOP_TEN), "[{\"word\": \"b\", \"count\": 1}]");
    cr_assert_str_eq(results_text(r, 0, RESULTS_ALL), "{\"b\":1,\"a\":3}", "kept as sent");
    cr_assert_gt(results_int(r, 0, RESULTS_ID), 0);
    cr_assert_eq(results_int(r, 0, RESULTS_CREATED_AT), 1795000000123LL, "as written, in ms");
    cr_assert_null(results_text(r, 1, RESULTS_URL), "no such row");
    PQclear(r);

    /* A column not selected is not there, whatever sits at its position. */
    enum results_col two[] = {RESULTS_TOTAL_WORDS, RESULTS_URL};
    cr_assert_eq(results_select_sql(sql, sizeof sql, two, 2, " FROM results"), 0);
    r = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
    cr_assert_str_eq(results_text(r, 0, RESULTS_URL), v[RESULTS_URL]);
    cr_assert_eq(results_int(r, 0, RESULTS_TOTAL_WORDS), 4);
    cr_assert_null(results_text(r, 0, RESULTS_JOB_ID));
    PQclear(r);

    /* A 304's row: its own job, URL, fetch metadata and not_modified; the
     * counts, content type and (absent from the 304) validators copied. */
    r = PQexec(c, "SELECT id FROM results");
    char src[24];
    snprintf(src, sizeof src, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    const char *w[RESULTS_NWRITTEN + 1] = {0};
    w[RESULTS_JOB_ID] = "0192f3a1-7c2e-7abc-8def-0123456789ac";
    w[RESULTS_URL] = "HTTP://example.com:80/";
    w[RESULTS_URL_KEY] = "http://example.com/";
    w[RESULTS_HTTP_STATUS] = "304";
    w[RESULTS_BYTES] = "0";
    w[RESULTS_FETCH_MS] = "3";
    w[RESULTS_LAST_MODIFIED] = "Tue, 01 Sep 2026 10:00:00 GMT";
    w[RESULTS_NOT_MODIFIED] = "true";
    w[RESULTS_CREATED_AT] = "1795000000456";
    w[RESULTS_NWRITTEN] = src;
    cr_assert_eq(results_copy_sql(sql, sizeof sql), 0);
    for (int i = 0; i < 2; i++) { /* idempotent by job id too */
        r = PQexecParams(c, sql, RESULTS_NWRITTEN + 1, NULL, w, NULL, NULL, 0);
        cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s: %s", sql, PQresultErrorMessage(r));
        cr_assert_str_eq(PQcmdTuples(r), i == 0 ? "1" : "0");
        PQclear(r);
    }
    enum results_col cols[] = {RESULTS_URL,           RESULTS_TOTAL_WORDS, RESULTS_ALL,
                               RESULTS_HTTP_STATUS,   RESULTS_BYTES,       RESULTS_ETAG,
                               RESULTS_LAST_MODIFIED, RESULTS_NOT_MODIFIED};
    cr_assert_eq(results_select_sql(sql, sizeof sql, cols, sizeof cols / sizeof *cols,
                                    " FROM results WHERE not_modified"),
                 0);
    r = PQexec(c, sql);
    cr_assert_eq(PQntuples(r), 1, "%s", PQresultErrorMessage(r));
    cr_assert_str_eq(results_text(r, 0, RESULTS_URL), w[RESULTS_URL]);
    cr_assert_eq(results_int(r, 0, RESULTS_TOTAL_WORDS), 4, "copied");
    cr_assert_str_eq(results_text(r, 0, RESULTS_ALL), "{\"b\":1,\"a\":3}");
    cr_assert_eq(results_int(r, 0, RESULTS_HTTP_STATUS), 304);
    cr_assert_eq(results_int(r, 0, RESULTS_BYTES), 0);
    cr_assert_str_eq(results_text(r, 0, RESULTS_ETAG), "\"v1\"", "kept when the 304 sent none");
    cr_assert_str_eq(results_text(r, 0, RESULTS_LAST_MODIFIED), w[RESULTS_LAST_MODIFIED]);
    cr_assert_str_eq(results_text(r, 0, RESULTS_NOT_MODIFIED), "true");
    PQclear(r);
    /* A row that is gone is copied as nothing. */
    w[RESULTS_JOB_ID] = "0192f3a1-7c2e-7abc-8def-0123456789ad";
    w[RESULTS_NWRITTEN] = "999999";
    cr_assert_eq(results_copy_sql(sql, sizeof sql), 0);
    r = PQexecParams(c, sql, RESULTS_NWRITTEN + 1, NULL, w, NULL, NULL, 0);
    cr_assert_str_eq(PQcmdTuples(r), "0", "%s", PQresultErrorMessage(r));
    PQclear(r);
    char tiny[64];
    cr_assert_eq(results_copy_sql(tiny, sizeof tiny), -1);
    PQfinish(c);
    testdb_drop(name);
}

/* A row stored before migration 0005 has its maps in the jsonb columns:
 * it reads the same by column, a 304 copies its maps into the json ones,
 * and a row with neither map is refused (the NOT VALID check holds for
 * new rows). */
Test(results, a_row_from_before_0005_reads_and_copies_the_same, .timeout = 60) {
    char name[64];
    PGconn *c = migrated_db(name, sizeof name);
    PGresult *r = PQexec(
        c, "INSERT INTO results (job_id, url, url_key, result_all, result_no_stop_words, top_words,"
           " total_words, unique_words, total_words_no_stop, unique_words_no_stop, created_at)"
           " VALUES ('0192f3a1-7c2e-7abc-8def-0123456789ab', 'http://old/', 'http://old/',"
           " '{\"a\": 3}', '{\"a\": 3}', '[]', 3, 1, 3, 1, now()) RETURNING id");
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
    char src[24];
    snprintf(src, sizeof src, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    const char *w[RESULTS_NWRITTEN + 1] = {0};
    w[RESULTS_JOB_ID] = "0192f3a1-7c2e-7abc-8def-0123456789ac";
    w[RESULTS_URL] = w[RESULTS_URL_KEY] = "http://old/";
    w[RESULTS_NOT_MODIFIED] = "true";
    w[RESULTS_NWRITTEN] = src;
    char sql[2048];
    cr_assert_eq(results_copy_sql(sql, sizeof sql), 0);
    r = PQexecParams(c, sql, RESULTS_NWRITTEN + 1, NULL, w, NULL, NULL, 0);
    cr_assert_str_eq(PQcmdTuples(r), "1", "%s", PQresultErrorMessage(r));
    PQclear(r);
    enum results_col cols[] = {RESULTS_JOB_ID, RESULTS_ALL, RESULTS_NO_STOP};
    cr_assert_eq(results_select_sql(sql, sizeof sql, cols, 3, " FROM results ORDER BY id"), 0);
    r = PQexec(c, sql);
    cr_assert_eq(PQntuples(r), 2, "%s", PQresultErrorMessage(r));
    for (int i = 0; i < 2; i++) {
        cr_assert_str_eq(results_text(r, i, RESULTS_ALL), "{\"a\": 3}", "row %d", i);
        cr_assert_str_eq(results_text(r, i, RESULTS_NO_STOP), "{\"a\": 3}", "row %d", i);
    }
    PQclear(r);
    r = PQexec(c, "SELECT count(*) FROM results WHERE counts IS NOT NULL AND result_all IS NULL");
    cr_assert_str_eq(PQgetvalue(r, 0, 0), "1", "the copy is in the json columns");
    PQclear(r);
    r = PQexec(c, "INSERT INTO results (job_id, url, url_key, top_words, total_words, unique_words,"
                  " total_words_no_stop, unique_words_no_stop) VALUES"
                  " ('0192f3a1-7c2e-7abc-8def-0123456789ad', 'http://x/', 'http://x/', '[]', 0, 0,"
                  " 0, 0)");
    cr_assert_eq(PQresultStatus(r), PGRES_FATAL_ERROR, "a row without maps is refused");
    cr_assert(strstr(PQresultErrorMessage(r), "results_counts_present"), "%s",
              PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
    testdb_drop(name);
}
