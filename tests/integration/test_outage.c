/* Outages, on a private redis-server and Postgres that the test stops and
 * starts again on the same ports: the workers neither crash nor spin,
 * keep the jobs they hold, lose nothing, store each result once and
 * recover without a restart. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/http_client.h"
#include "tests/lib/servers.h"
#include "tests/lib/wcsys.h"

static struct wcsys sys;
static struct redis_srv redis;
static struct pg_srv pg;

static void
start(void) {
    redis_srv_start(&redis, "127.0.0.1");
    pg_srv_start(&pg, "127.0.0.1");
    struct wcsys_opts o = {.redis_url = redis.url, .pg_admin_url = pg.url};
    wcsys_init(&sys, &o);
    wcsys_env(&sys, "JOB_RESCUE_AFTER", "5s");
    wcsys_env(&sys, "HEARTBEAT_INTERVAL", "1s");
}

static void
stop(void) {
    wcsys_free(&sys);
    redis_srv_free(&redis);
    pg_srv_free(&pg);
}

TestSuite(outage, .init = start, .fini = stop, .timeout = 150);

/* The worker processes: pid of each child's first start. */
static void
children(pid_t out[2]) {
    char line[8192], needle[64];
    for (int i = 0; i < 2; i++) {
        snprintf(needle, sizeof needle, "msg=\"worker started\" child=%d ", i);
        cr_assert(wcsys_log_find(sys.worker_logs[0], needle, NULL, 10000, line, sizeof line));
        out[i] = (pid_t)atol(strstr(strstr(line, "msg="), " pid=") + 5);
    }
}

/* outage_wait sleeps through an outage of ms and checks the workers did
 * not die nor burn the CPU meanwhile. */
static void
outage_wait(const pid_t kids[2], int ms) {
    long cpu0[2];
    for (int i = 0; i < 2; i++) cpu0[i] = wcsys_cpu_ms(kids[i]);
    long long t0 = wcsys_now_ms();
    usleep((useconds_t)ms * 1000);
    long long wall = wcsys_now_ms() - t0;
    for (int i = 0; i < 2; i++) {
        cr_assert(proc_alive(kids[i]), "worker %d died in the outage", (int)kids[i]);
        long used = wcsys_cpu_ms(kids[i]) - cpu0[i];
        cr_log_info("worker %d used %ld ms of CPU in %lld ms", (int)kids[i], used, wall);
        /* A worker that spins on a dead server burns a whole CPU. */
        cr_assert_lt(used, wall / 4, "worker %d used %ld ms of CPU in %lld ms: spinning",
                     (int)kids[i], used, wall);
    }
    cr_assert_eq(wcsys_log_count(sys.worker_logs[0], "msg=\"worker died", NULL), 0);
}

/* expect_no_rescue checks that no job was taken from a live worker; when
 * one was, the workers' account of the outage goes to the test's output
 * (connections, rescue pauses, renewals, starts and ends of jobs). */
static void
expect_no_rescue(void) {
    if (wcsys_log_count(sys.worker_logs[0], "rescuing job", NULL) == 0) return;
    static const char *const story[] = {"rescuing job", "pausing rescues", "msg=\"redis ",
                                        "renew",        "lease",           "msg=\"job "};
    FILE *f = fopen(sys.worker_logs[0], "r");
    char line[8192];
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        for (size_t i = 0; i < sizeof story / sizeof *story; i++)
            if (strstr(line, story[i])) {
                cr_log_error("%.1000s", line);
                break;
            }
    }
    if (f) fclose(f);
    cr_assert_fail("a job was taken from a live worker (the workers' log above)");
}

static void
expect_finished_once(char **ids, int n) {
    for (int i = 0; i < n; i++) {
        json_t *job =
            wcsys_keep_json(&sys, wcsys_wait_status(&sys, ids[i], "finished,failed", 60000));
        cr_assert_str_eq(wcsys_status(job), "finished", "%s", json_dumps(job, 0));
        cr_assert_eq(json_integer_value(json_object_get(job, "attempts")), 1,
                     "kept by its worker: %s", json_dumps(job, 0));
        cr_assert_eq(wcsys_rows(&sys, ids[i]), 1);
    }
}

Test(outage, redis_down_and_back) {
    wcsys_start_web(&sys);
    wcsys_start_worker(&sys, NULL);
    pid_t kids[2];
    children(kids);
    enum { N = 6 };
    char *ids[N], url[160];
    for (int i = 0; i < N; i++)
        ids[i] = wcsys_keep(
            &sys, wcsys_submit(&sys, wcsys_page_url(&sys, "/slow/2000", url, sizeof url)));
    for (int i = 0; i < N; i++) wcsys_job_pid(&sys, ids[i], 1, 20000);

    /* Down for longer than JOB_RESCUE_AFTER: every lease looks lapsed. */
    redis_srv_stop(&redis, SIGTERM);
    char submit[256];
    snprintf(submit, sizeof submit, "%s/api/v1/jobs", sys.base);
    struct http_response r;
    cr_assert_eq(
        http_request("POST", submit, "application/json", "{\"url\": \"http://x.test/\"}", NULL, &r),
        0);
    cr_assert_eq(r.status, 503, "the web says the queue is down: %ld", r.status);
    http_response_free(&r);
    outage_wait(kids, 7000);
    redis_srv_start(&redis, "127.0.0.1");

    expect_finished_once(ids, N);
    expect_no_rescue();
    /* Recovered without a restart: new work runs. */
    char *after =
        wcsys_keep(&sys, wcsys_submit(&sys, wcsys_page_url(&sys, "/slow/10", url, sizeof url)));
    expect_finished_once(&after, 1);
    cr_assert(proc_alive(kids[0]) && proc_alive(kids[1]));
}

Test(outage, postgres_down_and_back) {
    wcsys_start_web(&sys);
    wcsys_start_worker(&sys, NULL);
    pid_t kids[2];
    children(kids);
    pg_srv_stop(&pg, SIGINT);
    enum { N = 6 };
    char *ids[N], url[160];
    for (int i = 0; i < N; i++)
        ids[i] =
            wcsys_keep(&sys, wcsys_submit(&sys, wcsys_page_url(&sys, "/slow/10", url, sizeof url)));
    for (int i = 0; i < N; i++) wcsys_job_pid(&sys, ids[i], 1, 20000);
    outage_wait(kids, 6000);

    /* Counted but not stored: nothing is acknowledged or finished. */
    redisReply *rep = redisCommand(wcsys_redis(&sys), "XPENDING %squeue workers", sys.prefix);
    long long pending =
        rep && rep->type == REDIS_REPLY_ARRAY && rep->element[0]->type == REDIS_REPLY_INTEGER
            ? rep->element[0]->integer
            : -1;
    freeReplyObject(rep);
    cr_assert_eq(pending, N, "every delivery still pending");
    for (int i = 0; i < N; i++) {
        json_t *job = wcsys_keep_json(&sys, wcsys_job(&sys, ids[i]));
        cr_assert_str_eq(wcsys_status(job), "started", "%s", json_dumps(job, 0));
    }
    cr_assert(
        wcsys_log_find(sys.worker_logs[0], "msg=\"will retry\" step=store", NULL, 20000, NULL, 0),
        "no store was tried and put off; see %s", sys.worker_logs[0]);

    pg_srv_start(&pg, "127.0.0.1");
    expect_finished_once(ids, N);
    char *after =
        wcsys_keep(&sys, wcsys_submit(&sys, wcsys_page_url(&sys, "/slow/10", url, sizeof url)));
    expect_finished_once(&after, 1);
}

/* A web process takes connections once its Redis connection is up, so
 * the first requests after a start are not refused while it connects;
 * with Redis down it takes them after its start wait, and answers 503
 * until Redis is back. */
Test(outage, web_listens_once_redis_is_up) {
    wcsys_start_web(&sys);
    cr_assert(wcsys_log_find(sys.web_log, "msg=listening", "redis=up", 0, NULL, 0), "see %s",
              sys.web_log);
    long status = 0;
    json_decref(wcsys_http(&sys, "GET", "/api/v1/stats", NULL, &status));
    cr_assert_eq(status, 200, "the first request after listening");

    redis_srv_stop(&redis, SIGTERM);
    wcsys_start_web(&sys);
    cr_assert(wcsys_log_find(sys.web_log, "msg=listening", "redis=down", 0, NULL, 0), "see %s",
              sys.web_log);
    json_decref(wcsys_http(&sys, "GET", "/api/v1/stats", NULL, &status));
    cr_assert_eq(status, 503, "statistics without Redis");
    json_decref(wcsys_http(&sys, "GET", "/readyz", NULL, &status));
    cr_assert_eq(status, 503, "not ready without Redis");
    redis_srv_start(&redis, "127.0.0.1");
    wcsys_wait_ready(&sys);
    json_decref(wcsys_http(&sys, "GET", "/api/v1/stats", NULL, &status));
    cr_assert_eq(status, 200, "statistics once Redis is back");
}

/* A worker process that starts right after Redis restarted has seen no
 * outage, but the leases of the others look lapsed (their renewals
 * stopped with Redis): it waits JOB_RESCUE_AFTER + 5 s from Redis's
 * start, as the others do after reconnecting, before it rescues. Here
 * the other worker is frozen, so the job is rescued after that pause. */
Test(outage, fresh_worker_keeps_the_rescue_pause_after_a_redis_restart) {
    wcsys_env(&sys, "WORKER_PROCESSES", "1");
    wcsys_start_web(&sys);
    wcsys_start_worker(&sys, NULL);
    char url[160];
    char *id = wcsys_keep(&sys, wcsys_submit(&sys, wcsys_page_url(&sys, "/gate", url, sizeof url)));
    pid_t holder = wcsys_job_pid(&sys, id, 1, 20000);
    cr_assert_eq(kill(holder, SIGSTOP), 0);
    redis_srv_stop(&redis, SIGTERM);
    long long restart = wcsys_now_ms();
    redis_srv_start(&redis, "127.0.0.1");
    int fresh = wcsys_start_worker(&sys, NULL);
    char line[8192], needle[96];
    bool paused = wcsys_log_find(sys.worker_logs[fresh], "msg=\"redis restarted recently", NULL,
                                 10000, line, sizeof line);
    snprintf(needle, sizeof needle, "msg=\"rescuing job from a lost worker\" job=%s", id);
    bool rescued = wcsys_log_find(sys.worker_logs[fresh], needle, NULL, 60000, line, sizeof line);
    long long waited = rescued ? wcsys_line_ms(line) - restart : -1;
    kill(holder, SIGCONT);
    cr_assert(rescued, "the frozen worker's job was never rescued");
    cr_log_info("rescued %lld ms after the restart", waited);
    cr_assert_geq(waited, 5000 + 5000 - 100, "rescued %lld ms after Redis started", waited);
    cr_assert(paused, "the fresh worker did not say it paused; see %s", sys.worker_logs[fresh]);
    page_server_gate_open(sys.pages);
    json_t *job = wcsys_keep_json(&sys, wcsys_wait_status(&sys, id, "finished,failed", 60000));
    cr_assert_str_eq(wcsys_status(job), "finished", "%s", json_dumps(job, 0));
    cr_assert_eq(wcsys_rows(&sys, id), 1);
}
