/* The worker's memory budget with the real programs: pages whose counts
 * do not fit the budget together run one after the other (the later
 * downloads pause until an earlier job gives its memory back) and are
 * all counted right; a job keeps its memory while its row is stored, and
 * one that waits for it does not time out. */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "tests/lib/wcsys.h"

/* Distinct words per page: about 45 MB of estimate each (membudget.h),
 * so two do not fit in a 64 MB budget. */
#define NWORDS 120000
#define NPAGES 4

static struct wcsys sys;

static void
start(void) {
    wcsys_init(&sys, NULL);
}

static void
stop(void) {
    wcsys_free(&sys);
}

TestSuite(memory, .init = start, .fini = stop, .timeout = 180);

Test(memory, pages_over_the_budget_wait_their_turn) {
    wcsys_env(&sys, "WORKER_PROCESSES", "1");
    wcsys_env(&sys, "WORKER_CONCURRENCY", "8");
    wcsys_env(&sys, "WORKER_MEMORY_MB", "64");
    wcsys_env(&sys, "JOB_TIMEOUT", "120s");
    wcsys_env(&sys, "FETCH_TIMEOUT", "120s");
    for (int p = 0; p < NPAGES; p++) {
        struct buf b;
        buf_init(&b);
        buf_append_str(&b, "<html><body><p>");
        for (int i = 0; i < NWORDS; i++) buf_printf(&b, "p%dw%06d ", p, i);
        buf_append_str(&b, "</p></body></html>");
        char name[32];
        snprintf(name, sizeof name, "big-%d.html", p);
        wcsys_write_page(&sys, name, b.data);
        buf_free(&b);
    }
    wcsys_start_web(&sys);
    wcsys_start_worker(&sys, NULL);
    char *ids[NPAGES], url[160], path[32];
    for (int p = 0; p < NPAGES; p++) {
        snprintf(path, sizeof path, "/big-%d.html", p);
        ids[p] = wcsys_keep(&sys, wcsys_submit(&sys, wcsys_page_url(&sys, path, url, sizeof url)));
    }
    for (int p = 0; p < NPAGES; p++) {
        json_t *job =
            wcsys_keep_json(&sys, wcsys_wait_status(&sys, ids[p], "finished,failed", 150000));
        cr_assert_str_eq(wcsys_status(job), "finished", "%s", json_dumps(job, 0));
        cr_assert_eq(json_integer_value(json_object_get(job, "attempts")), 1,
                     "waiting for memory is not a failed attempt");
        json_t *res = json_object_get(job, "result");
        cr_assert_eq(json_integer_value(json_object_get(res, "unique_words")), NWORDS);
    }
    cr_assert_gt(wcsys_log_count(sys.worker_logs[0], "msg=\"memory budget full", NULL), 0,
                 "no download waited: the budget was not applied");
}

/* write_words writes a page of n distinct words: prefix and a number. */
static void
write_words(const char *name, const char *prefix, int n) {
    struct buf b;
    buf_init(&b);
    buf_append_str(&b, "<html><body><p>");
    for (int i = 0; i < n; i++) {
        buf_printf(&b, "%s%06d ", prefix, i);
    }
    buf_append_str(&b, "</p></body></html>");
    wcsys_write_page(&sys, name, b.data);
    buf_free(&b);
}

static void
pg_exec(PGconn *c, const char *sql) {
    PGresult *r = PQexec(c, sql);
    cr_assert(PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
}

static double
now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Job A's row (300,000 words: about 7 MB, 30 MB of budget while it is
 * stored) waits on a lock the test holds; job B's page (200,000 words,
 * its worst case about 52 MB) does not fit beside it in 64 MB, so its
 * download pauses until A is stored. B waits three times JOB_TIMEOUT
 * (and more than FETCH_TIMEOUT): the wait is not its site's fault, it
 * must neither time out nor lose an attempt. */
Test(memory, a_job_waiting_for_memory_does_not_time_out) {
    wcsys_env(&sys, "WORKER_PROCESSES", "1");
    wcsys_env(&sys, "WORKER_CONCURRENCY", "8");
    wcsys_env(&sys, "WORKER_MEMORY_MB", "64");
    wcsys_env(&sys, "FETCH_TIMEOUT", "5s");
    wcsys_env(&sys, "JOB_TIMEOUT", "6s");
    write_words("a.html", "a", 300000);
    write_words("b.html", "bb", 200000);
    wcsys_start_web(&sys);
    wcsys_start_worker(&sys, NULL);
    PGconn *lock = PQconnectdb(sys.db_url);
    cr_assert_eq(PQstatus(lock), CONNECTION_OK, "%s", PQerrorMessage(lock));
    pg_exec(lock, "BEGIN");
    pg_exec(lock, "LOCK TABLE results IN SHARE MODE");

    char url[160];
    char *a =
        wcsys_keep(&sys, wcsys_submit(&sys, wcsys_page_url(&sys, "/a.html", url, sizeof url)));
    bool stuck = wcsys_wait_insert_blocked(&sys, 60000);
    cr_assert(stuck, "job A's INSERT never waited on the lock");

    char *b =
        wcsys_keep(&sys, wcsys_submit(&sys, wcsys_page_url(&sys, "/b.html", url, sizeof url)));
    cr_assert(wcsys_log_find(sys.worker_logs[0], "msg=\"memory budget full", NULL, 30000, NULL, 0),
              "job B did not wait for A's memory");
    /* Three JOB_TIMEOUTs of waiting, the job's state watched throughout. */
    for (double until = now_s() + 18; now_s() < until;) {
        json_t *job = wcsys_job(&sys, b);
        cr_assert_str_eq(wcsys_status(job), "started", "%s", json_dumps(job, 0));
        json_decref(job);
        usleep(200 * 1000);
    }
    pg_exec(lock, "COMMIT");
    PQfinish(lock);
    const char *ids[] = {a, b};
    for (int i = 0; i < 2; i++) {
        json_t *job =
            wcsys_keep_json(&sys, wcsys_wait_status(&sys, ids[i], "finished,failed", 120000));
        cr_assert_str_eq(wcsys_status(job), "finished", "%s", json_dumps(job, 0));
        cr_assert_eq(json_integer_value(json_object_get(job, "attempts")), 1, "%s",
                     json_dumps(job, 0));
        json_t *res = json_object_get(job, "result");
        cr_assert_eq(json_integer_value(json_object_get(res, "unique_words")), i ? 200000 : 300000);
    }
    cr_assert_eq(wcsys_log_count(sys.worker_logs[0], "code=timeout", NULL), 0);
}

/* write_worst writes a page of about bytes of random words (5 to 9
 * letters, nearly every one new: the most CPU and memory per byte). */
static void
write_worst(const char *name, size_t bytes) {
    struct buf b;
    buf_init(&b);
    buf_reserve(&b, bytes + 64);
    buf_append_str(&b, "<html><body><p>");
    unsigned long long x = 14;
    while (b.len < bytes - 32) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        int len = 5 + (int)((x >> 33) % 5);
        for (int i = 0; i < len; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            buf_append_char(&b, (char)('a' + (x >> 33) % 26));
        }
        buf_append_char(&b, ' ');
    }
    buf_append_str(&b, "</p></body></html>\n");
    wcsys_write_page(&sys, name, b.data);
    buf_free(&b);
}

/* A 10 MB page of new words takes seconds of CPU to count (a dozen under
 * ASan on a busy machine). It is counted on the worker's threads, so its
 * process goes on meanwhile: the heartbeats renew its lease (the other
 * worker process would take over a lease not renewed for
 * JOB_RESCUE_AFTER, and the job would run twice), and a small job on
 * another host is fetched, counted, stored and finished. */
Test(memory, a_big_page_counts_while_the_loop_goes_on) {
    wcsys_env(&sys, "WORKER_PROCESSES", "2");
    wcsys_env(&sys, "WORKER_CONCURRENCY", "4");
    wcsys_env(&sys, "WORKER_MEMORY_MB", "2048");
    wcsys_env(&sys, "JOB_RESCUE_AFTER", "2s");
    wcsys_env(&sys, "HEARTBEAT_INTERVAL", "250ms");
    wcsys_env(&sys, "JOB_TIMEOUT", "170s");
    wcsys_env(&sys, "FETCH_TIMEOUT", "170s");
    write_worst("worst.html", (10u << 20) - 4096);
    wcsys_write_page(&sys, "small.html", "<html><body><p>one small page</p></body></html>");
    wcsys_start_web(&sys);
    wcsys_start_worker(&sys, NULL);
    char url[160], small_url[160];
    char *big =
        wcsys_keep(&sys, wcsys_submit(&sys, wcsys_page_url(&sys, "/worst.html", url, sizeof url)));
    /* The same page server under another name: another host. */
    wcsys_page_url(&sys, "/small.html", url, sizeof url);
    const char *at = strstr(url, "127.0.0.1");
    cr_assert_not_null(at, "%s", url);
    snprintf(small_url, sizeof small_url, "%.*slocalhost%s", (int)(at - url), url, at + 9);
    char *small = wcsys_keep(&sys, wcsys_submit(&sys, small_url));
    json_t *job = wcsys_keep_json(&sys, wcsys_wait_status(&sys, small, "finished,failed", 170000));
    cr_assert_str_eq(wcsys_status(job), "finished", "%s", json_dumps(job, 0));
    job = wcsys_keep_json(&sys, wcsys_wait_status(&sys, big, "finished,failed", 170000));
    cr_assert_str_eq(wcsys_status(job), "finished", "%s", json_dumps(job, 0));
    cr_assert_eq(json_integer_value(json_object_get(job, "attempts")), 1,
                 "the big job ran again: its lease was not renewed while it was counted");
    cr_assert_gt(
        json_integer_value(json_object_get(json_object_get(job, "result"), "unique_words")),
        1000000);
    cr_assert_eq(wcsys_log_count(sys.worker_logs[0], "msg=\"lease lost", NULL), 0);
    cr_assert_eq(wcsys_log_count(sys.worker_logs[0], "msg=\"job started\"", big), 1,
                 "the big job was started twice");
}
