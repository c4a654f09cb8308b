/* Results written in batches keep the at-least-once promise: jobs whose
 * rows were waiting in the worker's batch, or in a statement that never
 * committed, when the worker died are rescued and stored exactly once
 * each; none was acknowledged before its commit.
 *
 * The real programs on the shared Redis and Postgres. The results table
 * is held by a lock so the worker's INSERT waits (seen in
 * pg_stat_activity, no sleeps); the worker is killed; the waiting
 * statements are ended by the server (as when a crash cuts the
 * connection), so nothing of that run commits. */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/wcsys.h"

#define NJOBS 6

static struct wcsys sys;

static void
start(void) {
    wcsys_init(&sys, NULL);
    wcsys_env(&sys, "JOB_RESCUE_AFTER", "3s");
    wcsys_env(&sys, "HEARTBEAT_INTERVAL", "500ms");
    wcsys_env(&sys, "WORKER_PROCESSES", "1");
}

static void
stop(void) {
    wcsys_free(&sys);
}

TestSuite(batch_rescue, .init = start, .fini = stop, .timeout = 120);

static void
pg_exec(PGconn *c, const char *sql) {
    PGresult *r = PQexec(c, sql);
    cr_assert(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
              "%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
}

/* sql_long runs a count query on the system's database. */
static long
sql_long(const char *sql) {
    char *v = wcsys_sql(&sys, sql);
    long n = v ? atol(v) : -1;
    free(v);
    return n;
}

#define WAITING_INSERTS                                                                            \
    " FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"       \
    " AND query LIKE 'INSERT INTO results%'"

Test(batch_rescue, jobs_not_committed_when_the_worker_died_are_stored_once_each) {
    wcsys_start_web(&sys);
    wcsys_start_worker(&sys, NULL);
    PGconn *lock = PQconnectdb(sys.db_url);
    cr_assert_eq(PQstatus(lock), CONNECTION_OK, "%s", PQerrorMessage(lock));
    pg_exec(lock, "BEGIN");
    pg_exec(lock, "LOCK TABLE results IN SHARE MODE");

    char url[160], *ids[NJOBS];
    for (int i = 0; i < NJOBS; i++) {
        char path[32];
        snprintf(path, sizeof path, "/slow/%d", 10 + i);
        ids[i] = wcsys_keep(&sys, wcsys_submit(&sys, wcsys_page_url(&sys, path, url, sizeof url)));
    }
    pid_t victim = wcsys_job_pid(&sys, ids[0], 1, 20000);
    for (int i = 1; i < NJOBS; i++)
        cr_assert_eq(wcsys_job_pid(&sys, ids[i], 1, 20000), victim, "one worker process");
    long waiting = 0;
    for (int i = 0; i < 400 && waiting < 1; i++) {
        waiting = sql_long("SELECT count(*)" WAITING_INSERTS);
        if (waiting < 1) usleep(50 * 1000);
    }
    cr_assert_geq(waiting, 1, "the worker's INSERT never waited on the lock");

    /* The worker dies; its statements are ended before they can commit. */
    cr_assert_eq(kill(victim, SIGKILL), 0);
    char *ended = wcsys_sql(&sys, "SELECT count(pg_terminate_backend(pid))" WAITING_INSERTS);
    free(ended);
    for (int i = 0; i < 400 && sql_long("SELECT count(*)" WAITING_INSERTS) > 0; i++)
        usleep(50 * 1000);
    cr_assert_eq(sql_long("SELECT count(*)" WAITING_INSERTS), 0);
    pg_exec(lock, "COMMIT");
    PQfinish(lock);
    cr_assert_eq(sql_long("SELECT count(*) FROM results"), 0, "nothing of that run committed");
    for (int i = 0; i < NJOBS; i++) {
        json_t *job = wcsys_keep_json(&sys, wcsys_job(&sys, ids[i]));
        cr_assert_str_neq(wcsys_status(job), "finished", "job %d acknowledged uncommitted", i);
    }

    /* The supervisor's new process rescues them all. */
    for (int i = 0; i < NJOBS; i++) {
        json_t *job =
            wcsys_keep_json(&sys, wcsys_wait_status(&sys, ids[i], "finished,failed", 60000));
        cr_assert_str_eq(wcsys_status(job), "finished", "%s", json_dumps(job, 0));
        cr_assert_geq(json_integer_value(json_object_get(job, "attempts")), 2, "it ran again");
        cr_assert_eq(wcsys_rows(&sys, ids[i]), 1, "job %d: exactly one row", i);
    }
    cr_assert_eq(sql_long("SELECT count(*) FROM results"), NJOBS);
}
