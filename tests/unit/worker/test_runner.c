/* The runner's task bookkeeping when a delivery cannot start. The worker
 * process runs forked from the test (worker/child.c, as
 * `wordcount-worker --child` runs it) against real Redis, Postgres, web
 * and page servers, with one seam set: task_queue_start_fn refuses one
 * start, as queue_start does while the command connection is down and
 * the blocking one has just delivered. The tasks already in flight must
 * keep their leases (no rescue takes them), finish once, and the process
 * must still drain and stop cleanly on SIGTERM; the refused delivery is
 * rescued by lease and runs too. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common/config.h"
#include "common/log.h"
#include "tests/lib/wcsys.h"
#include "worker/child.h"
#include "worker/task.h"

static struct wcsys sys;
enum { RUNNING = 3 };
static char *ids[RUNNING + 1];

static void
start(void) {
    wcsys_init(&sys, NULL);
}

static void
stop(void) {
    for (int i = 0; i <= RUNNING; i++) free(ids[i]);
    wcsys_free(&sys);
}

TestSuite(runner, .init = start, .fini = stop, .timeout = 120);

/* --- the forked worker process --- */

static int starts;     /* queue_start calls so far (in the worker process) */
static int refuse_nth; /* the start to refuse */

static int
refusing_start(struct queue *q, const struct queue_entry *e, const char *consumer, int max_attempts,
               queue_job_cb cb, void *arg) {
    if (++starts == refuse_nth) return UV_ENOTCONN;
    return queue_start(q, e, consumer, max_attempts, cb, arg);
}

static int
worker_process(void *arg) {
    (void)arg;
    task_queue_start_fn = refusing_start;
    log_init("worker", LOG_INFO);
    struct config cfg;
    char err[512];
    if (config_load(&cfg, NULL, err, sizeof err) < 0) {
        fprintf(stderr, "bad configuration: %s\n", err);
        return EX_CONFIG_CODE;
    }
    int status = child_run(&cfg, 0);
    config_free(&cfg);
    return status;
}

/* --- the test --- */

static void
expect_finished_once(const char *id) {
    json_t *job = wcsys_wait_status(&sys, id, "finished,failed", 60000);
    char status[32];
    snprintf(status, sizeof status, "%s", wcsys_status(job));
    long long attempts = json_integer_value(json_object_get(job, "attempts"));
    json_decref(job);
    cr_assert_str_eq(status, "finished", "job %s", id);
    cr_assert_eq(attempts, 1, "job %s ran %lld times", id, attempts);
    cr_assert_eq(wcsys_rows(&sys, id), 1, "job %s", id);
}

Test(runner, a_start_refused_leaves_the_other_tasks_held) {
    /* Jobs longer than JOB_RESCUE_AFTER (3 s): had the runner lost track
     * of them, its own rescue scan would take them over. */
    wcsys_env(&sys, "WORKER_GRACE", "20s");
    wcsys_start_web(&sys);
    refuse_nth = RUNNING + 1;
    int w = wcsys_fork_worker(&sys, worker_process, NULL);
    const char *log = sys.worker_logs[w];
    cr_assert(proc_wait_log(log, "msg=\"worker ready\"", 20000, NULL, 0), "see %s", log);

    char url[160];
    for (int i = 0; i < RUNNING; i++) {
        ids[i] = wcsys_submit(&sys, wcsys_page_url(&sys, "/slow/6000", url, sizeof url));
        wcsys_job_pid(&sys, ids[i], 1, 20000);
    }
    /* While those run, the next start is refused. */
    ids[RUNNING] = wcsys_submit(&sys, wcsys_page_url(&sys, "/slow/1500", url, sizeof url));
    cr_assert(wcsys_log_find(log, "msg=\"cannot start job\"", ids[RUNNING], 20000, NULL, 0),
              "the start was not refused; see %s", log);
    /* The refused delivery stays pending and is rescued by lease. */
    cr_assert(wcsys_log_find(log, "msg=\"rescuing job from a lost worker\"", ids[RUNNING], 30000,
                             NULL, 0),
              "the refused delivery was not rescued; see %s", log);
    wcsys_job_pid(&sys, ids[RUNNING], 1, 20000);

    /* SIGTERM drains: everything finishes within the grace period. */
    int st = wcsys_stop_worker(&sys, w, SIGTERM, 40000);
    cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "worker exit status %d; see %s",
              st, log);
    cr_assert_eq(wcsys_log_count(log, "msg=\"drained\"", NULL), 1);
    cr_assert_eq(wcsys_log_count(log, "msg=\"worker stopped\"", NULL), 1);
    cr_assert_eq(wcsys_log_count(log, "msg=\"job handed back\"", NULL), 0);
    for (int i = 0; i < RUNNING; i++) {
        cr_assert_eq(wcsys_log_count(log, "msg=\"rescuing job", ids[i]), 0,
                     "job %s was taken from its own live task: its lease was not renewed", ids[i]);
        expect_finished_once(ids[i]);
    }
    expect_finished_once(ids[RUNNING]);
}
