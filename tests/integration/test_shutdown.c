/* Everything stops at once: Redis, the web server and the worker
 * supervisor get SIGTERM together, the supervisor is SIGKILLed half a
 * second later, and Postgres is stopped at the same moment (what a plain
 * host's process manager or a careless script does). The worker
 * processes, orphaned with jobs in flight that they can neither finish
 * nor hand back, must still end within WORKER_GRACE plus a few seconds;
 * what they held is rescued by lease once the servers are back. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/servers.h"
#include "tests/lib/wcsys.h"

static struct wcsys sys;
static struct redis_srv redis;
static struct pg_srv pg;
static pid_t kids[2]; /* the first supervisor's worker processes, until gone */
enum { JOBS = 300 };
static char *ids[JOBS];

static void
start(void) {
    redis_srv_start(&redis, "127.0.0.1");
    pg_srv_start(&pg, "127.0.0.1");
    struct wcsys_opts o = {.redis_url = redis.url, .pg_admin_url = pg.url};
    wcsys_init(&sys, &o);
}

static void
stop(void) {
    /* Orphans that did not stop (the test failed) must not outlive it. */
    for (int i = 0; i < 2; i++)
        if (proc_alive(kids[i])) kill(kids[i], SIGKILL);
    for (int i = 0; i < JOBS; i++) free(ids[i]);
    wcsys_free(&sys);
    redis_srv_free(&redis);
    pg_srv_free(&pg);
}

TestSuite(shutdown, .init = start, .fini = stop, .timeout = 240);

/* child_pids reads the pids of the supervisor's two worker processes. */
static void
child_pids(int worker, pid_t out[2]) {
    char line[8192], needle[64];
    for (int i = 0; i < 2; i++) {
        snprintf(needle, sizeof needle, "msg=\"worker started\" child=%d ", i);
        cr_assert(wcsys_log_find(sys.worker_logs[worker], needle, NULL, 20000, line, sizeof line));
        out[i] = (pid_t)atol(strstr(strstr(line, "msg="), " pid=") + 5);
    }
}

/* wait_gone waits until pid has exited (not our child: an orphan now, so
 * it cannot be waited for) and returns when, or -1 after timeout_ms. */
static long long
wait_gone(pid_t pid, int timeout_ms) {
    long long until = wcsys_now_ms() + timeout_ms;
    while (proc_alive(pid)) {
        if (wcsys_now_ms() > until) return -1;
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return wcsys_now_ms();
}

Test(shutdown, orphaned_workers_stop_when_redis_and_postgres_stop_with_them) {
    enum { IN_FLIGHT = 80, GRACE_MS = 2000 };
    wcsys_env(&sys, "WORKER_PROCESSES", "2");
    wcsys_env(&sys, "WORKER_CONCURRENCY", "40");
    wcsys_env(&sys, "WORKER_GRACE", "2s");
    wcsys_env(&sys, "JOB_RESCUE_AFTER", "3s");
    wcsys_start_web(&sys);
    int first = wcsys_start_worker(&sys, NULL);
    child_pids(first, kids);

    char url[160];
    for (int i = 0; i < JOBS; i++)
        ids[i] = wcsys_submit(&sys, wcsys_page_url(&sys, "/slow/1500", url, sizeof url));
    cr_assert(wcsys_log_nth(sys.worker_logs[first], "msg=\"job started\"", NULL, IN_FLIGHT, 30000,
                            NULL, 0),
              "%d jobs did not start; see %s", IN_FLIGHT, sys.worker_logs[first]);

    /* The sequence: SIGTERM to Redis, web and supervisor and a fast stop
     * of Postgres at one moment; SIGKILL to the supervisor 0.5 s later. */
    long long t0 = wcsys_now_ms();
    pid_t sup = sys.workers[first];
    cr_assert_eq(kill(redis.pid, SIGTERM), 0);
    cr_assert_eq(kill(sys.web_pid, SIGTERM), 0);
    cr_assert_eq(kill(sup, SIGTERM), 0);
    cr_assert_eq(kill(pg.pid, SIGINT), 0);
    struct timespec half = {0, 500 * 1000000L};
    nanosleep(&half, NULL);
    cr_assert_eq(kill(sup, SIGKILL), 0);
    cr_assert_neq(proc_wait_exit(sup, 10000), -1);
    sys.workers[first] = 0;

    /* Each worker process ends on its own within the grace period, the
     * hand-back window and a margin for a busy machine; one that waited
     * for Redis to take its jobs back would loop on connect() forever. */
    int bound_ms = GRACE_MS + 3000 + 15000;
    for (int i = 0; i < 2; i++) {
        long long gone = wait_gone(kids[i], bound_ms - (int)(wcsys_now_ms() - t0));
        cr_assert_neq(gone, -1, "worker process %d still runs %d ms after the stop; see %s",
                      (int)kids[i], bound_ms, sys.worker_logs[first]);
        cr_log_info("worker process %d ended %lld ms after the stop", (int)kids[i], gone - t0);
        char pid[32];
        snprintf(pid, sizeof pid, " pid=%d ", (int)kids[i]);
        kids[i] = 0; /* gone: its pid may be reused */
        cr_assert(
            wcsys_log_find(sys.worker_logs[first], "msg=\"worker stopped\"", pid, 1000, NULL, 0),
            "worker process%sdid not stop cleanly; see %s", pid, sys.worker_logs[first]);
    }
    /* Under ASan the processes' leak check ran at exit, into the log. */
    cr_assert_eq(wcsys_log_count(sys.worker_logs[first], "Sanitizer", NULL), 0,
                 "a sanitizer reported on the stop; see %s", sys.worker_logs[first]);
    /* Usually Redis is gone before the hand-back; then both gave up on it. */
    cr_log_info(
        "%d worker processes gave up handing back",
        wcsys_log_count(sys.worker_logs[first], "msg=\"jobs not handed back in time", NULL));

    /* The rest of the stop finishes; then everything comes back. */
    redis_srv_stop(&redis, SIGTERM);
    pg_srv_stop(&pg, SIGINT);
    cr_assert_neq(proc_wait_exit(sys.web_pid, 20000), -1, "the web server did not stop");
    sys.web_pid = 0;
    redis_srv_start(&redis, "127.0.0.1");
    pg_srv_start(&pg, "127.0.0.1");
    wcsys_start_web(&sys);
    wcsys_start_worker(&sys, NULL);

    /* Nothing was lost and nothing was stored twice: what the stopped
     * workers held was rescued by lease. */
    for (int i = 0; i < JOBS; i++) {
        json_t *job = wcsys_wait_status(&sys, ids[i], "finished,failed", 120000);
        char status[32];
        snprintf(status, sizeof status, "%s", wcsys_status(job));
        json_decref(job);
        cr_assert_str_eq(status, "finished", "job %s", ids[i]);
    }
    char *rows = wcsys_sql(&sys, "SELECT count(*) || ' ' || count(DISTINCT job_id) FROM results");
    cr_assert_not_null(rows);
    char want[32];
    snprintf(want, sizeof want, "%d %d", JOBS, JOBS);
    cr_assert_str_eq(rows, want, "one row per job");
    free(rows);
    cr_assert_geq(wcsys_log_count(sys.worker_logs[first + 1], "rescuing job", NULL), 1,
                  "the abandoned jobs were rescued");
}
