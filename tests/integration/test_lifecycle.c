/* The worker's life cycle: the supervisor restarts a dead child with a
 * growing backoff; on SIGTERM a worker finishes what it holds within
 * WORKER_GRACE, and hands back what it cannot finish so that it runs
 * again at once (not after JOB_RESCUE_AFTER). */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/wcsys.h"

static struct wcsys sys;

static void
start(void) {
    wcsys_init(&sys, NULL);
}

static void
stop(void) {
    wcsys_free(&sys);
}

TestSuite(lifecycle, .init = start, .fini = stop, .timeout = 120);

/* child_pid returns the pid of the nth start of child slot `child`. */
static pid_t
child_pid(int child, int nth, char *line, size_t n) {
    char needle[64];
    snprintf(needle, sizeof needle, "msg=\"worker started\" child=%d ", child);
    cr_assert(wcsys_log_nth(sys.worker_logs[0], needle, NULL, nth, 20000, line, n),
              "child %d was not started %d times; see %s", child, nth, sys.worker_logs[0]);
    const char *p = strstr(line, "msg=\"worker started\"");
    p = strstr(p, " pid=");
    return (pid_t)atol(p + 5);
}

/* restart_in_ms reads the wait a "worker died, restarting" line announces. */
static long long
restart_in_ms(const char *line) {
    const char *p = strstr(line, " restart_in_ms=");
    cr_assert(p, "no restart_in_ms in %s", line);
    return atoll(p + strlen(" restart_in_ms="));
}

/* The waits are steps of 1 s doubling (common/backoff.h), each a random
 * point in the upper half of its step. */
Test(lifecycle, supervisor_restarts_children_with_backoff) {
    wcsys_start_web(&sys);
    wcsys_start_worker(&sys, NULL);
    char line[8192];
    pid_t first = child_pid(0, 1, line, sizeof line);
    cr_assert_eq(kill(first, SIGKILL), 0);
    char died[8192];
    cr_assert(wcsys_log_nth(sys.worker_logs[0], "msg=\"worker died, restarting\" child=0 ", NULL, 1,
                            10000, died, sizeof died));
    cr_assert(strstr(died, "signal=9"), "%s", died);
    long long wait = restart_in_ms(died);
    cr_assert(wait >= 500 && wait <= 1000, "first restart in %lld ms, not 0.5 to 1 s: %s", wait,
              died);
    pid_t second = child_pid(0, 2, line, sizeof line);
    cr_assert_neq(second, first);
    long long gap = wcsys_line_ms(line) - wcsys_line_ms(died);
    cr_assert_geq(gap, wait - 100, "restarted after %lld ms, before its backoff", gap);

    /* Dying again soon after the restart doubles the wait. */
    char ready[32];
    snprintf(ready, sizeof ready, " pid=%d ", (int)second);
    cr_assert(wcsys_log_find(sys.worker_logs[0], "msg=\"worker ready\"", ready, 20000, NULL, 0),
              "the restarted child did not come up");
    cr_assert_eq(kill(second, SIGKILL), 0);
    cr_assert(wcsys_log_nth(sys.worker_logs[0], "msg=\"worker died, restarting\" child=0 ", NULL, 2,
                            10000, died, sizeof died));
    wait = restart_in_ms(died);
    cr_assert(wait >= 1000 && wait <= 2000, "second restart in %lld ms, not 1 to 2 s: %s", wait,
              died);
    pid_t third = child_pid(0, 3, line, sizeof line);
    gap = wcsys_line_ms(line) - wcsys_line_ms(died);
    cr_assert_geq(gap, wait - 100, "restarted after %lld ms, before its backoff", gap);
    cr_assert(third != first && third != second);

    /* The restarted children do work. */
    char url[160];
    wcsys_write_page(&sys, "a.html", "<p>one two three</p>");
    for (int i = 0; i < 4; i++) {
        char *id =
            wcsys_keep(&sys, wcsys_submit(&sys, wcsys_page_url(&sys, "/a.html", url, sizeof url)));
        json_t *job = wcsys_keep_json(&sys, wcsys_wait_status(&sys, id, "finished,failed", 30000));
        cr_assert_str_eq(wcsys_status(job), "finished");
    }
    cr_assert_eq(wcsys_log_count(sys.worker_logs[0], "msg=\"worker died", NULL), 2);
}

/* The job's page waits at the page server's gate, so the job is in flight
 * when the drain begins however fast or slow the machine is; the gate
 * opens once the drain has begun. */
Test(lifecycle, drain_finishes_jobs_within_grace) {
    wcsys_env(&sys, "WORKER_GRACE", "15s");
    wcsys_start_web(&sys);
    wcsys_start_worker(&sys, NULL); /* both children ready: each can drain */
    char url[160], running[32];
    char *id = wcsys_keep(&sys, wcsys_submit(&sys, wcsys_page_url(&sys, "/gate", url, sizeof url)));
    snprintf(running, sizeof running, " pid=%d ", (int)wcsys_job_pid(&sys, id, 1, 20000));
    /* Ctrl-C works as SIGTERM does: the supervisor forwards it. */
    cr_assert_eq(kill(sys.workers[0], SIGINT), 0);
    cr_assert(
        wcsys_log_find(sys.worker_logs[0], "msg=\"draining\" inflight=1 ", running, 20000, NULL, 0),
        "the process running the job did not begin draining with it; see %s", sys.worker_logs[0]);
    page_server_gate_open(sys.pages);
    int st = wcsys_stop_worker(&sys, 0, 0, 30000);
    cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "worker exit status %d", st);
    /* The supervisor has exited, so every child's lines are written. */
    cr_assert_eq(wcsys_log_count(sys.worker_logs[0], "msg=\"drained\"", NULL), 2);
    cr_assert_eq(wcsys_log_count(sys.worker_logs[0], "msg=\"job handed back\"", NULL), 0);
    json_t *job = wcsys_keep_json(&sys, wcsys_job(&sys, id));
    cr_assert_str_eq(wcsys_status(job), "finished", "%s", json_dumps(job, 0));
    cr_assert_eq(json_integer_value(json_object_get(job, "attempts")), 1);
    cr_assert_eq(wcsys_rows(&sys, id), 1);
}

Test(lifecycle, drain_hands_back_what_it_cannot_finish) {
    /* A rescue would take a minute: only a hand-back runs the jobs again
     * within the test's bounds. */
    wcsys_env(&sys, "WORKER_GRACE", "500ms");
    wcsys_env(&sys, "JOB_RESCUE_AFTER", "60s");
    wcsys_env(&sys, "HEARTBEAT_INTERVAL", "2s");
    /* Every job here is in flight when the drain begins; with robots.txt
     * on, one child's jobs could instead be waiting for the other's fetch
     * of it (robots_pending, a deferral: test_polite's matter). */
    wcsys_env(&sys, "FETCH_ROBOTS", "ignore");
    wcsys_start_web(&sys);
    wcsys_start_worker(&sys, NULL);
    enum { N = 3 };
    char *ids[N];
    char url[160];
    /* The pages wait at the gate: nothing can finish within the grace. */
    for (int i = 0; i < N; i++)
        ids[i] =
            wcsys_keep(&sys, wcsys_submit(&sys, wcsys_page_url(&sys, "/gate", url, sizeof url)));
    for (int i = 0; i < N; i++) wcsys_job_pid(&sys, ids[i], 1, 20000);
    long long t0 = wcsys_now_ms();
    int st = wcsys_stop_worker(&sys, 0, SIGTERM, 30000);
    cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "worker exit status %d", st);
    /* A take still blocking when the drain began may bring one back: it
     * is handed back again. */
    cr_assert_geq(wcsys_log_count(sys.worker_logs[0], "msg=\"job handed back\"", NULL), N);
    for (int i = 0; i < N; i++) {
        json_t *job = wcsys_keep_json(&sys, wcsys_job(&sys, ids[i]));
        cr_assert_str_eq(wcsys_status(job), "queued", "handed back: %s", json_dumps(job, 0));
        cr_assert_eq(json_integer_value(json_object_get(job, "attempts")), 0,
                     "an unfinished attempt is not counted");
    }

    /* A new worker runs them again: handed back, not rescued (a rescue
     * logs itself and adds a worker_lost entry to the job's errors). */
    page_server_gate_open(sys.pages);
    int w = wcsys_start_worker(&sys, NULL);
    for (int i = 0; i < N; i++) {
        json_t *job =
            wcsys_keep_json(&sys, wcsys_wait_status(&sys, ids[i], "finished,failed", 40000));
        cr_assert_str_eq(wcsys_status(job), "finished", "%s", json_dumps(job, 0));
        cr_assert_eq(json_integer_value(json_object_get(job, "attempts")), 1);
        cr_assert_eq(json_array_size(json_object_get(job, "errors")), 0, "%s", json_dumps(job, 0));
        cr_assert_eq(wcsys_rows(&sys, ids[i]), 1);
    }
    cr_assert_eq(wcsys_log_count(sys.worker_logs[w], "rescuing job", NULL), 0);
    cr_log_info("handed back and run again in %lld ms", wcsys_now_ms() - t0);
}

/* registered_pids polls GET /api/v1/stats until it lists n live workers
 * (up to timeout_ms) and writes their pids to out; returns how many it
 * saw last. */
static int
registered_pids(int n, pid_t *out, int timeout_ms) {
    long long until = wcsys_now_ms() + timeout_ms;
    for (;;) {
        long status = 0;
        json_t *s = wcsys_http(&sys, "GET", "/api/v1/stats", NULL, &status);
        json_t *w = json_object_get(s, "workers");
        int alive = (int)json_integer_value(json_object_get(w, "alive"));
        if (status == 200 && alive == n) {
            size_t i;
            json_t *p;
            json_array_foreach(json_object_get(w, "list"), i, p) {
                if (i < (size_t)n) out[i] = (pid_t)json_integer_value(json_object_get(p, "pid"));
            }
        }
        json_decref(s);
        if (alive == n || wcsys_now_ms() > until) return alive;
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

Test(lifecycle, workers_are_registered_as_soon_as_they_are_ready) {
    /* Heartbeats a minute apart: only a registration at start-up shows
     * the workers within the test's bounds. */
    wcsys_env(&sys, "HEARTBEAT_INTERVAL", "60s");
    wcsys_env(&sys, "JOB_RESCUE_AFTER", "120s");
    wcsys_start_web(&sys);
    wcsys_start_worker(&sys, NULL);
    char line[8192];
    pid_t kids[2] = {child_pid(0, 1, line, sizeof line), child_pid(1, 1, line, sizeof line)};
    for (int i = 0; i < 2; i++) {
        char ready[32];
        snprintf(ready, sizeof ready, " pid=%d ", (int)kids[i]);
        cr_assert(wcsys_log_find(sys.worker_logs[0], "msg=\"worker ready\"", ready, 20000, NULL, 0),
                  "worker process %d did not come up", (int)kids[i]);
    }
    pid_t seen[2] = {0, 0};
    int alive = registered_pids(2, seen, 20000);
    cr_assert_eq(alive, 2, "the registry shows %d workers, not 2, before the first heartbeat",
                 alive);
    cr_assert((seen[0] == kids[0] && seen[1] == kids[1]) ||
                  (seen[0] == kids[1] && seen[1] == kids[0]),
              "registered %d and %d, started %d and %d", (int)seen[0], (int)seen[1], (int)kids[0],
              (int)kids[1]);
}
