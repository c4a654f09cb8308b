/* The results table's partitions with the real programs (issue 20): the
 * worker keeps the monthly partitions made ahead and drops the months past
 * RESULT_RETENTION_DAYS by itself, and a result row carries its job's
 * submission time as created_at (the partition key), so a job submitted in
 * a month is stored in that month's partition whenever it runs. The SQL
 * itself is tested in tests/unit/migrations/test_partitions.c. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "tests/lib/testdb.h"
#include "tests/lib/wcsys.h"

static struct wcsys sys;

static void
start_system(void) {
    wcsys_init(&sys, NULL);
    wcsys_env(&sys, "WORKER_PROCESSES", "1");
    wcsys_env(&sys, "FETCH_ROBOTS", "ignore");
    wcsys_write_page(&sys, "page.html", "<html><body><p>one two two</p></body></html>\n");
}

static void
stop_system(void) {
    wcsys_free(&sys);
}

TestSuite(partitions, .init = start_system, .fini = stop_system, .timeout = 120);

static char *
sql(const char *q) {
    char *v = wcsys_sql(&sys, q);
    cr_assert_not_null(v, "query failed: %s", q);
    return wcsys_keep(&sys, v);
}

Test(partitions, the_worker_makes_months_ahead_and_drops_months_past_retention) {
    /* A month ahead is missing, and an old month holds a row. */
    char ahead[32];
    testdb_results_month(2, ahead, sizeof ahead);
    char *drop = xasprintf("DROP TABLE %s", ahead);
    sql(drop);
    free(drop);
    sql("CREATE TABLE results_2020_01 PARTITION OF results"
        " FOR VALUES FROM ('2020-01-01 00:00+00') TO ('2020-02-01 00:00+00')");
    sql("INSERT INTO results (job_id, url, url_key, result_all, result_no_stop_words, top_words,"
        " total_words, unique_words, total_words_no_stop, unique_words_no_stop, created_at)"
        " VALUES (gen_random_uuid(), 'http://old/', 'http://old/', '{}', '{}', '[]', 1, 1, 1, 1,"
        " '2020-01-15 00:00+00')");
    wcsys_env(&sys, "RESULT_RETENTION_DAYS", "30");
    int w = wcsys_start_worker(&sys, NULL);
    char line[1024];
    cr_assert(wcsys_log_find(sys.worker_logs[w], "results partitions made", NULL, 60000, line,
                             sizeof line),
              "the worker made the missing month");
    cr_assert(strstr(line, "count=1"), "%s", line);
    cr_assert(wcsys_log_find(sys.worker_logs[w], "results partition dropped",
                             "partition=results_2020_01", 60000, line, sizeof line),
              "the worker dropped the old month");
    char *has = xasprintf("SELECT to_regclass('%s') IS NOT NULL", ahead);
    cr_assert_str_eq(sql(has), "t");
    free(has);
    cr_assert_str_eq(sql("SELECT to_regclass('results_2020_01') IS NULL"), "t");
    cr_assert_str_eq(sql("SELECT count(*) FROM results WHERE url = 'http://old/'"), "0");
}

Test(partitions, a_row_carries_its_jobs_submission_time) {
    wcsys_start_web_ready(&sys);
    char url[256];
    wcsys_page_url(&sys, "/page.html", url, sizeof url);
    /* Two jobs wait in the queue before any worker runs; one of them is
     * back-dated to January 2020 (a job submitted long ago, retried since). */
    char *now_id = wcsys_keep(&sys, wcsys_submit(&sys, url));
    char fresh_url[300];
    snprintf(fresh_url, sizeof fresh_url, "%s?old", url);
    char *old_id = wcsys_keep(&sys, wcsys_submit(&sys, fresh_url));
    redisReply *r = redisCommand(wcsys_redis(&sys), "HSET %sjob:%s created_at 1579046400000",
                                 sys.prefix, old_id); /* 2020-01-15 00:00 UTC */
    cr_assert(r && r->type == REDIS_REPLY_INTEGER, "HSET");
    freeReplyObject(r);
    wcsys_start_worker(&sys, NULL);
    json_t *job = wcsys_wait_status(&sys, now_id, "finished", 60000);
    cr_assert_str_eq(wcsys_status(job), "finished");
    long long submitted = wcsys_time_ms(json_string_value(json_object_get(job, "created_at")));
    cr_assert_gt(submitted, 0);
    char *q = xasprintf("SELECT (extract(epoch FROM created_at) * 1000)::bigint FROM results"
                        " WHERE job_id = '%s'",
                        now_id);
    cr_assert_eq(atoll(sql(q)), submitted, "the row's created_at is the job's, to the ms");
    free(q);
    job = wcsys_wait_status(&sys, old_id, "finished", 60000);
    cr_assert_str_eq(wcsys_status(job), "finished");
    q = xasprintf("SELECT (extract(epoch FROM created_at) * 1000)::bigint || ' '"
                  " || tableoid::regclass::text FROM results WHERE job_id = '%s'",
                  old_id);
    cr_assert_str_eq(sql(q), "1579046400000 results_default",
                     "a month without a partition: the default one");
    free(q);
    cr_assert_eq(wcsys_rows(&sys, old_id), 1);
}
