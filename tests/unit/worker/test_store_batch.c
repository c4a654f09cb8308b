/* store_batch on real Postgres (a fresh migrated database per test): rows
 * added together share a statement; one bad row does not lose or corrupt
 * the others; the same job stored twice (a redelivery) keeps one row and
 * its first values; rows still waiting when the batch closes (a worker
 * going away before the commit) are reported unstored and are not in the
 * table, so their jobs stay unacknowledged for a rescue; rows that queue
 * behind a statement go together, and no sooner than the pace allows. */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/pg_uv.h"
#include "tests/lib/run.h"
#include "tests/lib/testdb.h"
#include "tests/lib/testenv.h"
#include "worker/store_batch.h"

#define NROWS 5

static uv_loop_t loop;
static char db_url[512], db_name[64];
static pg_uv_t *pg;
static store_batch_t *batch;

struct answer {
    int calls;
    int status;
    char err[256];
    uint64_t at; /* uv_hrtime when answered */
};

struct fixture_row {
    char job_id[40];
    char url[64];
    char all[64];
    char total[24];
    struct store_row row;
    struct answer answer;
};

static struct fixture_row rows[NROWS];

/* migrate applies the project's migrations with the real program, so the
 * rows go into the table as deployed (lz4 word maps included). */
static void
migrate(void) {
    char bin[4096];
    snprintf(bin, sizeof bin, "%s", testenv_bin("wordcount-migrate"));
    const char *argv[] = {bin, "upgrade", "--database-url", db_url, NULL};
    struct buf err;
    buf_init(&err);
    int rc = run_cmd(argv, NULL, NULL, 60000, NULL, &err);
    cr_assert_eq(rc, 0, "wordcount-migrate upgrade: %s", err.data ? err.data : "");
    buf_free(&err);
}

static void
setup(void) {
    cr_assert_eq(uv_loop_init(&loop), 0);
    testdb_create(db_url, sizeof db_url, db_name, sizeof db_name);
    migrate();
    pg = pg_uv_new(&loop, db_url, "postgres", 15000, 64);
    batch = store_batch_new(&loop, pg);
}

static bool batch_closed, pg_closed;

static void
teardown(void) {
    if (batch) store_batch_close(batch, testenv_on_closed, &batch_closed);
    pg_uv_close(pg, testenv_on_closed, &pg_closed);
    testenv_run_until(&loop, &pg_closed, 10000);
    cr_assert(pg_closed);
    cr_assert_eq(testenv_loop_close(&loop), 0, "handles leaked");
    testdb_drop(db_name);
}

TestSuite(store_batch, .init = setup, .fini = teardown, .timeout = 120);

/* fill makes row i of job i (total_words as given: "-1" breaks a CHECK). */
static void
fill(int i, const char *total) {
    struct fixture_row *r = &rows[i];
    memset(r, 0, sizeof *r);
    snprintf(r->job_id, sizeof r->job_id, "0192f3a1-7c2e-7abc-8def-0000000000%02d", i);
    snprintf(r->url, sizeof r->url, "http://example.com/%d", i);
    snprintf(r->all, sizeof r->all, "{\"w%d\": %d, \"\\\"q\": 1}", i, i + 1);
    snprintf(r->total, sizeof r->total, "%s", total);
    char **v = r->row.value;
    v[RESULTS_JOB_ID] = r->job_id;
    v[RESULTS_URL] = r->url;
    v[RESULTS_URL_KEY] = r->url; /* already normal */
    v[RESULTS_NOT_MODIFIED] = "false";
    v[RESULTS_ALL] = r->all;
    v[RESULTS_NO_STOP] = r->all;
    v[RESULTS_TOP_WORDS] = "[]";
    v[RESULTS_TOTAL_WORDS] = r->total;
    v[RESULTS_UNIQUE_WORDS] = "2";
    v[RESULTS_TOTAL_NO_STOP] = "2";
    v[RESULTS_UNIQUE_NO_STOP] = "2";
    v[RESULTS_BYTES] = "10";
    v[RESULTS_FETCH_MS] = "1";
    v[RESULTS_CREATED_AT] = "1795000000000"; /* the job's submission, as the worker writes it */
}

static void
on_stored(int status, const char *errstr, void *arg) {
    struct answer *a = arg;
    a->calls++;
    a->status = status;
    a->at = uv_hrtime();
    snprintf(a->err, sizeof a->err, "%s", errstr ? errstr : "");
}

static bool
all_answered(void *arg) {
    int n = *(int *)arg;
    for (int i = 0; i < n; i++)
        if (rows[i].answer.calls == 0) return false;
    return true;
}

static void
add_all(int n) {
    for (int i = 0; i < n; i++) memset(&rows[i].answer, 0, sizeof rows[i].answer);
    for (int i = 0; i < n; i++)
        cr_assert_eq(store_insert(pg, &rows[i].row, on_stored, &rows[i].answer), 0);
    for (int i = 0; i < n; i++) cr_assert_eq(rows[i].answer.calls, 0, "never from inside the add");
    cr_assert(testenv_run_until_pred(&loop, all_answered, &n, 30000), "not every row answered");
}

static long
count_rows(const char *where) {
    char sql[4200];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM results %s", where);
    char *v = testdb_query_value(db_url, sql);
    cr_assert_not_null(v);
    long n = atol(v);
    free(v);
    return n;
}

Test(store_batch, one_bad_row_loses_none_of_the_others) {
    for (int i = 0; i < NROWS; i++) fill(i, i == 2 ? "-1" : "3");
    add_all(NROWS);
    for (int i = 0; i < NROWS; i++) {
        cr_assert_eq(rows[i].answer.calls, 1, "row %d answered once", i);
        if (i == 2) {
            cr_assert_eq(rows[i].answer.status, UV_EPROTO, "the bad row is refused");
            cr_assert_not_null(strstr(rows[i].answer.err, "check"), "%s", rows[i].answer.err);
        } else {
            cr_assert_eq(rows[i].answer.status, 0, "row %d: %s", i, rows[i].answer.err);
        }
    }
    cr_assert_eq(count_rows(""), NROWS - 1);
    char *lz4 =
        testdb_query_value(db_url, "SELECT string_agg(attname || '=' || attcompression::text, ',' "
                                   "ORDER BY attname) FROM pg_attribute WHERE attrelid = "
                                   "'results'::regclass AND attcompression <> ''");
    cr_assert_not_null(lz4);
    cr_assert_str_eq(lz4,
                     "counts=l,counts_no_stop=l,result_all=l,result_no_stop_words=l,top_words=l",
                     "migrations 0002 and 0005");
    free(lz4);
    cr_assert_eq(count_rows("WHERE job_id = '0192f3a1-7c2e-7abc-8def-000000000002'"), 0);
    /* Each good row holds its own values, not a neighbour's. */
    for (int i = 0; i < NROWS; i++) {
        if (i == 2) continue;
        char where[4096];
        snprintf(where, sizeof where,
                 "WHERE job_id = '%s' AND url = '%s' AND counts::jsonb = '%s'::jsonb AND "
                 "total_words = 3",
                 rows[i].job_id, rows[i].url, rows[i].all);
        cr_assert_eq(count_rows(where), 1, "row %d stored as written", i);
    }
}

Test(store_batch, a_job_stored_again_keeps_one_row_and_its_first_values) {
    fill(0, "3");
    fill(1, "3");
    fill(2, "3");
    /* Rows 1 and 2 are job 0 delivered again, with other counts. */
    for (int i = 1; i < 3; i++) {
        memcpy(rows[i].job_id, rows[0].job_id, sizeof rows[i].job_id);
        snprintf(rows[i].total, sizeof rows[i].total, "%d", 100 + i);
    }
    add_all(3); /* one statement with the job three times */
    for (int i = 0; i < 3; i++) cr_assert_eq(rows[i].answer.status, 0, "%s", rows[i].answer.err);
    cr_assert_eq(count_rows(""), 1);
    add_all(2); /* and again, later */
    cr_assert_eq(rows[1].answer.status, 0, "%s", rows[1].answer.err);
    cr_assert_eq(count_rows(""), 1);
    cr_assert_eq(count_rows("WHERE total_words = 3"), 1, "the first write stands");
}

Test(store_batch, rows_waiting_at_close_are_not_stored_and_say_so) {
    for (int i = 0; i < NROWS; i++) fill(i, "3");
    for (int i = 0; i < NROWS; i++)
        cr_assert_eq(store_insert(pg, &rows[i].row, on_stored, &rows[i].answer), 0);
    store_batch_close(batch, testenv_on_closed, &batch_closed);
    batch = NULL;
    int n = NROWS;
    cr_assert(testenv_run_until_pred(&loop, all_answered, &n, 10000));
    cr_assert(testenv_run_until(&loop, &batch_closed, 10000));
    for (int i = 0; i < NROWS; i++) {
        cr_assert_eq(rows[i].answer.calls, 1);
        cr_assert_lt(rows[i].answer.status, 0, "row %d reported unstored", i);
    }
    /* Without its batch the connection writes a row on its own. */
    fill(0, "3");
    cr_assert_eq(store_insert(pg, &rows[0].row, on_stored, &rows[0].answer), 0);
    n = 1;
    cr_assert(testenv_run_until_pred(&loop, all_answered, &n, 30000));
    cr_assert_eq(rows[0].answer.status, 0, "%s", rows[0].answer.err);
    cr_assert_eq(count_rows(""), 1, "only the row written after the close");
}

static uv_timer_t behind_timer;
static bool behind_closed;

static void
on_behind_closed(uv_handle_t *h) {
    (void)h;
    behind_closed = true;
}

static void
add_behind(uv_timer_t *t) {
    (void)t;
    for (int i = 1; i < 4; i++)
        cr_assert_eq(store_insert(pg, &rows[i].row, on_stored, &rows[i].answer), 0);
}

static bool
connected(void *arg) {
    (void)arg;
    return pg_uv_connected(pg);
}

/* Rows 1 to 3 arrive while row 0's statement runs (a timer due with the
 * batch's own, started after it, runs right after it has sent row 0).
 * They go together in one statement, and not before STORE_BATCH_PACE_MS
 * after row 0's went: a lower bound only, which a busy machine cannot
 * break (the rows may go later, never sooner). */
Test(store_batch, rows_behind_a_statement_go_together_at_the_pace) {
    cr_assert(testenv_run_until_pred(&loop, connected, NULL, 15000));
    for (int i = 0; i < 4; i++) fill(i, "3");
    uv_update_time(&loop);
    uint64_t before = uv_hrtime();
    cr_assert_eq(store_insert(pg, &rows[0].row, on_stored, &rows[0].answer), 0);
    uv_timer_init(&loop, &behind_timer);
    uv_timer_start(&behind_timer, add_behind, STORE_BATCH_DELAY_MS, 0);
    int n = 4;
    cr_assert(testenv_run_until_pred(&loop, all_answered, &n, 30000), "not every row answered");
    uv_close((uv_handle_t *)&behind_timer, on_behind_closed);
    cr_assert(testenv_run_until(&loop, &behind_closed, 10000));
    for (int i = 0; i < 4; i++) cr_assert_eq(rows[i].answer.status, 0, "%s", rows[i].answer.err);
    for (int i = 1; i < 4; i++)
        cr_assert_geq((rows[i].answer.at - before) / 1000000, STORE_BATCH_PACE_MS - 1,
                      "row %d stored %.1f ms after row 0 could go", i,
                      (double)(rows[i].answer.at - before) / 1e6);
    char *xmins =
        testdb_query_value(db_url, "SELECT count(DISTINCT xmin::text) || ' ' || "
                                   "count(DISTINCT xmin::text) FILTER (WHERE job_id <> "
                                   "'0192f3a1-7c2e-7abc-8def-000000000000') FROM results");
    cr_assert_not_null(xmins);
    cr_assert_str_eq(xmins, "2 1", "row 0 alone, rows 1 to 3 in one transaction");
    free(xmins);
}
