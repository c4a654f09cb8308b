/* The results table's monthly partitions (migration 0004 and
 * `wordcount-migrate partitions`) on a real Postgres: a fresh database per
 * test, the project's migrations applied by the migrate module, rows
 * written with the worker's own INSERT (common/results.h).
 *
 * What must hold: rows stored before the migration stay, with their ids,
 * in results_legacy; a fresh database gets last month's to two months
 * on; a job's row is written once whatever the retries (job_id and
 * created_at unique across partitions); a row for a month without a
 * partition lands in results_default and moves when its month is made;
 * retention drops whole months older than asked and nothing younger;
 * lookups by job and by URL are index scans in every partition; the
 * command refuses a database whose schema predates the partitions. */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/results.h"
#include "common/xalloc.h"
#include "migrations/migrate.h"
#include "migrations/partitions.h"
#include "tests/lib/testdb.h"
#include "tests/lib/testenv.h"

static char db_url[512], db_name[128];
static char err[2048];
static char *out_text, *dir;
static size_t out_len;
static FILE *out;
static struct migrate_opts o;

static void
setup(void) {
    testdb_create(db_url, sizeof db_url, db_name, sizeof db_name);
    dir = xasprintf("%s/migrations", testenv_srcdir());
    out = open_memstream(&out_text, &out_len);
    o = (struct migrate_opts){.database_url = db_url, .dir = dir, .out = out};
    err[0] = '\0';
}

static void
teardown(void) {
    fclose(out);
    free(out_text);
    free(dir);
    testdb_drop(db_name);
}

TestSuite(partitions, .init = setup, .fini = teardown, .timeout = 60);

/* output returns what was printed so far (valid until the next call). */
static const char *
output(void) {
    static char *last;
    fclose(out);
    free(last);
    last = out_text ? out_text : xstrdup("");
    out_text = NULL;
    out = open_memstream(&out_text, &out_len);
    o.out = out;
    return last;
}

static char *
q(const char *sql) {
    char *v = testdb_query_value(db_url, sql);
    cr_assert_not_null(v, "query failed: %s", sql);
    return v;
}

static void
assert_q(const char *sql, const char *want) {
    testdb_assert_value(db_url, sql, want);
}

static void
exec(const char *sql) {
    free(q(sql));
}

static void
upgrade(const char *target) {
    cr_assert_eq(migrate_upgrade(&o, target, err, sizeof err), 0, "%s", err);
    output();
}

/* The partitions of results, by name, comma-separated. */
static const char PARTS_SQL[] =
    "SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_inherits"
    " JOIN pg_class c ON c.oid = inhrelid WHERE inhparent = 'results'::regclass";

/* insert writes one row the way the worker does, for job id (its last
 * hex digits) submitted at created (SQL timestamptz text, or NULL for
 * the write's own time); returns the rows inserted (0 on conflict). */
static int
insert(const char *id, const char *url, const char *created) {
    char sql[2048];
    cr_assert_eq(results_insert_sql(sql, sizeof sql), 0);
    char ms[32] = "";
    if (created) {
        char *e =
            xasprintf("SELECT (extract(epoch FROM '%s'::timestamptz) * 1000)::bigint", created);
        char *v = q(e);
        snprintf(ms, sizeof ms, "%s", v);
        free(v);
        free(e);
    }
    const char *v[RESULTS_NWRITTEN] = {0};
    char job[64];
    snprintf(job, sizeof job, "0192f3a1-7c2e-7abc-8def-%012d", atoi(id));
    v[RESULTS_JOB_ID] = job;
    v[RESULTS_URL] = url;
    v[RESULTS_URL_KEY] = url;
    v[RESULTS_ALL] = "{\"a\": 1}";
    v[RESULTS_NO_STOP] = "{\"a\": 1}";
    v[RESULTS_TOP_WORDS] = "[]";
    v[RESULTS_TOTAL_WORDS] = v[RESULTS_UNIQUE_WORDS] = "1";
    v[RESULTS_TOTAL_NO_STOP] = v[RESULTS_UNIQUE_NO_STOP] = "1";
    v[RESULTS_NOT_MODIFIED] = "false";
    v[RESULTS_CREATED_AT] = created ? ms : NULL;
    PGconn *c = PQconnectdb(db_url);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    PGresult *r = PQexecParams(c, sql, RESULTS_NWRITTEN, NULL, v, NULL, NULL, 0);
    cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
    int n = atoi(PQcmdTuples(r));
    PQclear(r);
    PQfinish(c);
    return n;
}

/* partition_of names the partition that holds job id's row. */
static char *
partition_of(const char *id) {
    char *sql = xasprintf("SELECT tableoid::regclass::text FROM results WHERE job_id ="
                          " '0192f3a1-7c2e-7abc-8def-%012d'",
                          atoi(id));
    char *v = q(sql);
    free(sql);
    return v;
}

Test(partitions, a_fresh_database_gets_last_month_to_two_months_on) {
    upgrade(NULL);
    char want[256], m[4][32];
    for (int i = 0; i < 4; i++) testdb_results_month(i - 1, m[i], sizeof m[i]);
    snprintf(want, sizeof want, "%s,%s,%s,%s,results_default", m[0], m[1], m[2], m[3]);
    assert_q(PARTS_SQL, want);
    assert_q("SELECT partstrat FROM pg_partitioned_table WHERE partrelid = 'results'::regclass",
             "r");
    /* The word maps stay lz4 (0002) in every partition. */
    assert_q("SELECT count(*) FROM pg_attribute a JOIN pg_inherits ON a.attrelid = inhrelid"
             " WHERE inhparent = 'results'::regclass AND a.attname = 'result_all'"
             " AND a.attcompression = 'l'",
             "5");
    /* Made again: nothing to do. */
    cr_assert_eq(partitions_upkeep(&o, 0, err, sizeof err), 0, "%s", err);
    const char *text = output();
    cr_assert(strstr(text, "made 0 partition(s)"), "%s", text);
    cr_assert(strstr(text, m[3]) && strstr(text, "results_default"), "listed: %s", text);
    assert_q(PARTS_SQL, want);
}

Test(partitions, rows_stored_before_stay_in_the_legacy_partition_with_their_ids) {
    upgrade("3");
    exec("INSERT INTO results (job_id, url, url_key, result_all, result_no_stop_words, top_words,"
         " total_words, unique_words, total_words_no_stop, unique_words_no_stop, created_at)"
         " SELECT gen_random_uuid(), 'http://x/' || g, 'http://x/' || g, '{}', '{}', '[]',"
         " 1, 1, 1, 1, '2025-03-10 12:00+00'::timestamptz - g * interval '1 day'"
         " FROM generate_series(1, 100) g");
    char *before = q("SELECT sum(id) || '/' || count(*) || '/' || max(id) FROM results");
    upgrade(NULL);
    char *after = q("SELECT sum(id) || '/' || count(*) || '/' || max(id) FROM results");
    cr_assert_str_eq(after, before, "the same rows and ids");
    free(after);
    assert_q("SELECT count(*) FROM results_legacy", "100");
    /* Its range ends with the month of its newest row. */
    assert_q("SELECT r.hi = '2025-04-01 00:00+00' AND r.lo IS NULL"
             " FROM results_partition_range('results_legacy'::regclass) r",
             "t");
    /* The ids go on from the same sequence, owned by the new table. */
    cr_assert_eq(insert("1", "http://y/", NULL), 1);
    char *last = strrchr(before, '/') + 1;
    char *sql = xasprintf("SELECT id > %s FROM results WHERE url = 'http://y/'", last);
    assert_q(sql, "t");
    free(sql);
    free(before);
    assert_q("SELECT pg_get_serial_sequence('results', 'id') IS NOT NULL", "t");
    /* When a row was stored: unknown (NULL) before, now() from then on. */
    assert_q("SELECT count(*) FROM results WHERE stored_at IS NULL", "100");
    assert_q("SELECT abs(extract(epoch FROM stored_at - now())) < 3600 FROM results"
             " WHERE url = 'http://y/'",
             "t");
    /* Months after the legacy's range were made; the months it covers not. */
    char m1[32];
    testdb_results_month(1, m1, sizeof m1);
    char *has = xasprintf("SELECT to_regclass('%s') IS NOT NULL", m1);
    assert_q(has, "t");
    free(has);
    /* And back down: one plain table with every row. */
    cr_assert_eq(migrate_downgrade(&o, "3", err, sizeof err), 0, "%s", err);
    output();
    assert_q("SELECT count(*) FROM results", "101");
    assert_q("SELECT count(*) FROM pg_partitioned_table", "0");
}

Test(partitions, a_job_is_stored_once_whatever_its_retries) {
    upgrade(NULL);
    cr_assert_eq(insert("7", "http://x/", "2026-01-05 10:00+00"), 1);
    cr_assert_eq(insert("7", "http://x/", "2026-01-05 10:00+00"), 0, "a retry of the job");
    assert_q("SELECT count(*) FROM results", "1");
    /* No partition for that month: it waits in results_default. */
    char *p = partition_of("7");
    cr_assert_str_eq(p, "results_default");
    free(p);
    /* A write with no submission time takes its own. */
    cr_assert_eq(insert("8", "http://x/", NULL), 1);
    assert_q("SELECT abs(extract(epoch FROM created_at - now())) < 3600 FROM results"
             " WHERE job_id = '0192f3a1-7c2e-7abc-8def-000000000008'",
             "t");
}

Test(partitions, a_month_made_later_takes_its_rows_from_the_default_partition) {
    upgrade(NULL);
    char m2[32];
    testdb_results_month(2, m2, sizeof m2);
    char *drop = xasprintf("DROP TABLE %s", m2);
    exec(drop);
    free(drop);
    /* A row for that month (a clock ahead, say) goes to the default. */
    char *when = q("SELECT (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '2 months'"
                   " + interval '3 days') AT TIME ZONE 'UTC'");
    cr_assert_eq(insert("9", "http://x/", when), 1);
    free(when);
    char *p = partition_of("9");
    cr_assert_str_eq(p, "results_default");
    free(p);
    cr_assert_eq(partitions_upkeep(&o, 0, err, sizeof err), 0, "%s", err);
    const char *text = output();
    cr_assert(strstr(text, "made 1 partition(s)"), "%s", text);
    p = partition_of("9");
    cr_assert_str_eq(p, m2, "moved into its month");
    free(p);
    assert_q("SELECT count(*) FROM results_default", "0");
    assert_q("SELECT count(*) FROM results", "1");
}

Test(partitions, retention_drops_whole_months_older_than_asked_and_nothing_younger) {
    upgrade(NULL);
    exec("CREATE TABLE results_2020_01 PARTITION OF results"
         " FOR VALUES FROM ('2020-01-01 00:00+00') TO ('2020-02-01 00:00+00')");
    cr_assert_eq(insert("1", "http://old/", "2020-01-15 00:00+00"), 1);
    cr_assert_eq(insert("2", "http://older/", "2019-06-01 00:00+00"), 1); /* in the default */
    cr_assert_eq(insert("3", "http://new/", NULL), 1);
    char *before = q(PARTS_SQL);
    /* Retention off: nothing goes. */
    cr_assert_eq(partitions_upkeep(&o, 0, err, sizeof err), 0, "%s", err);
    cr_assert_null(strstr(output(), "dropped"));
    assert_q("SELECT count(*) FROM results", "3");
    /* 30 days: the 2020 month goes, whole; this month's row and the
     * default partition (no bound) stay. */
    cr_assert_eq(partitions_upkeep(&o, 30, err, sizeof err), 0, "%s", err);
    const char *text = output();
    cr_assert(strstr(text, "dropped results_2020_01 (older than 30 days)"), "%s", text);
    assert_q("SELECT to_regclass('results_2020_01') IS NULL", "t");
    assert_q("SELECT string_agg(url, ',' ORDER BY url) FROM results", "http://new/,http://older/");
    char *after = q(PARTS_SQL);
    cr_assert_eq(strlen(after) + strlen("results_2020_01,"), strlen(before), "%s -> %s", before,
                 after);
    free(after);
    free(before);
    /* Bad input to the SQL itself is refused, not taken as "everything". */
    PGconn *c = PQconnectdb(db_url);
    cr_assert_eq(PQstatus(c), CONNECTION_OK);
    static const char *const bad[] = {"SELECT wordcount_results_retain(0)", /* this month too */
                                      "SELECT wordcount_results_retain(NULL)",
                                      "SELECT wordcount_results_partitions(-1)",
                                      "SELECT wordcount_results_partitions(121)"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        PGresult *r = PQexec(c, bad[i]);
        cr_assert_eq(PQresultStatus(r), PGRES_FATAL_ERROR, "%s", bad[i]);
        cr_assert(strstr(PQresultErrorMessage(r), "must be"), "%s", PQresultErrorMessage(r));
        PQclear(r);
    }
    PQfinish(c);
    assert_q("SELECT count(*) FROM results", "2");
}

Test(partitions, lookups_by_job_and_by_url_are_index_scans_in_every_partition) {
    upgrade(NULL);
    cr_assert_eq(insert("1", "http://x/", NULL), 1);
    static const char *const lookups[] = {
        "SELECT id FROM results WHERE job_id = '0192f3a1-7c2e-7abc-8def-000000000001'",
        "SELECT id FROM results WHERE url_key = 'http://x/' ORDER BY created_at DESC, id DESC"
        " LIMIT 1",
        /* A history page after a cursor (web/h_results.c; the index on
         * the URL as submitted went in migration 0005). */
        "SELECT id FROM results WHERE url_key = 'http://x/' AND (created_at, id) < (now(), 100)"
        " ORDER BY created_at DESC, id DESC LIMIT 20"};
    PGconn *c = PQconnectdb(db_url);
    cr_assert_eq(PQstatus(c), CONNECTION_OK);
    /* With sequential scans priced out, a plan still without one shows an
     * index serves the lookup in each partition. */
    PQclear(PQexec(c, "SET enable_seqscan = off"));
    for (size_t i = 0; i < sizeof lookups / sizeof *lookups; i++) {
        char *sql = xasprintf("EXPLAIN %s", lookups[i]);
        PGresult *r = PQexec(c, sql);
        cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
        int index_scans = 0;
        for (int row = 0; row < PQntuples(r); row++) {
            const char *line = PQgetvalue(r, row, 0);
            cr_assert_null(strstr(line, "Seq Scan"), "%s: %s", lookups[i], line);
            if (strstr(line, "Index")) index_scans++;
        }
        cr_assert_geq(index_scans, 5, "an index scan per partition: %s", lookups[i]);
        PQclear(r);
        free(sql);
    }
    PQfinish(c);
}

Test(partitions, the_command_refuses_a_schema_without_partitions) {
    upgrade("3");
    cr_assert_eq(partitions_upkeep(&o, 0, err, sizeof err), MIGRATE_EFAILED);
    cr_assert(strstr(err, "wordcount-migrate upgrade"), "%s", err);
    /* The program's exit codes: test_migrate.c's binary_exit_codes. */
}
