/* Reads on a streaming replica (DATABASE_READ_URL): a private primary and
 * a hot standby made from it by pg_basebackup -R, both on loopback. The
 * web process reads history and results on the replica; a result the
 * replica has not replayed yet is read on the primary; a replica that is
 * down sends every read to the primary, and a primary that is down leaves
 * what the replica has readable. */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/servers.h"
#include "tests/lib/testdb.h"
#include "tests/lib/wcsys.h"

static struct wcsys sys;
static struct redis_srv redis;
static struct pg_srv primary, replica;
static char replica_db[512]; /* the system's database, on the replica */

/* replica_has_results tells whether the replica has replayed the
 * system's database and its results table (quietly: until then the
 * database does not exist there). */
static bool
replica_has_results(void) {
    PGconn *c = PQconnectdb(replica_db);
    bool there = false;
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, "SELECT to_regclass('results') IS NOT NULL");
        there = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
                !strcmp(PQgetvalue(r, 0, 0), "t");
        PQclear(r);
    }
    PQfinish(c);
    return there;
}

static void
start(void) {
    redis_srv_start(&redis, "127.0.0.1");
    pg_srv_start(&primary, "127.0.0.1");
    replica.replica_of = &primary;
    pg_srv_start(&replica, "127.0.0.1");
    struct wcsys_opts o = {.redis_url = redis.url, .pg_admin_url = primary.url};
    wcsys_init(&sys, &o); /* the database (made on the primary) streams over */
    snprintf(replica_db, sizeof replica_db, "postgresql://postgres@127.0.0.1:%d/%s", replica.port,
             sys.db_name);
    wcsys_env(&sys, "DATABASE_READ_URL", replica_db);
    /* The database and its migrated tables reach the replica when it has
     * replayed them: wait for the results table there. */
    long long until = wcsys_now_ms() + 60000;
    while (!replica_has_results()) {
        cr_assert_lt(wcsys_now_ms(), until, "the replica never replayed the migrated database");
        usleep(50 * 1000);
    }
}

static void
stop(void) {
    wcsys_free(&sys);
    pg_srv_free(&replica);
    pg_srv_free(&primary);
    redis_srv_free(&redis);
}

TestSuite(replica, .init = start, .fini = stop, .timeout = 180);

/* replica_value runs sql on the replica's copy of the database. */
static char *
replica_value(const char *sql) {
    return testdb_query_value(replica_db, sql);
}

/* wait_replayed waits until the replica has job id's row. */
static void
wait_replayed(const char *id) {
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM results WHERE job_id = '%s'", id);
    long long until = wcsys_now_ms() + 30000;
    for (;;) {
        char *v = replica_value(sql);
        bool there = v && !strcmp(v, "1");
        free(v);
        if (there) return;
        cr_assert_lt(wcsys_now_ms(), until, "the replica never replayed job %s", id);
        usleep(20 * 1000);
    }
}

/* history_count is how many results GET /api/v1/results lists for url. */
static size_t
history_count(const char *url, long *status) {
    char path[512];
    snprintf(path, sizeof path, "/api/v1/results?url=%s", url);
    json_t *v = wcsys_http(&sys, "GET", path, NULL, status);
    size_t n = json_array_size(json_object_get(v, "results"));
    json_decref(v);
    return n;
}

/* result_status is GET /api/v1/jobs/{id}/result's status; *total gets its
 * total_words (-1 when absent). */
static long
result_status(const char *id, long long *total) {
    char path[128];
    long status = 0;
    snprintf(path, sizeof path, "/api/v1/jobs/%s/result?top=3", id);
    json_t *v = wcsys_http(&sys, "GET", path, NULL, &status);
    json_t *t = json_object_get(v, "total_words");
    *total = json_is_integer(t) ? json_integer_value(t) : -1;
    cr_assert(status != 200 || json_object_size(json_object_get(v, "counts")) > 0,
              "a 200 result without its streamed counts");
    json_decref(v);
    return status;
}

Test(replica, reads_go_to_the_replica_and_to_the_primary_when_it_lags) {
    char *in_recovery = replica_value("SELECT pg_is_in_recovery()");
    cr_assert_str_eq(in_recovery, "t", "the replica is a standby");
    free(in_recovery);
    wcsys_write_page(&sys, "r.html", "<html><body><p>alpha beta gamma beta</p></body></html>");
    wcsys_start_web_ready(&sys);
    wcsys_start_worker(&sys, NULL);
    char url[160];
    wcsys_page_url(&sys, "/r.html", url, sizeof url);
    long status;

    /* A first job: finished, replayed, then read with the primary down:
     * the answers can only come from the replica. */
    char *first = wcsys_keep(&sys, wcsys_submit(&sys, url));
    json_t *job = wcsys_keep_json(&sys, wcsys_wait_status(&sys, first, "finished,failed", 30000));
    cr_assert_str_eq(wcsys_status(job), "finished");
    wait_replayed(first);
    pg_srv_stop(&primary, SIGINT);
    cr_assert_eq(history_count(url, &status), 1);
    cr_assert_eq(status, 200, "history with the primary down");
    long long total;
    cr_assert_eq(result_status(first, &total), 200, "a result with the primary down");
    cr_assert_eq(total, 4);
    json_t *ready = wcsys_keep_json(&sys, wcsys_http(&sys, "GET", "/readyz", NULL, &status));
    cr_assert_eq(status, 503, "the primary is what makes the web ready");
    cr_assert_str_eq(json_string_value(json_object_get(ready, "postgres_read")), "up");
    pg_srv_start(&primary, "127.0.0.1");
    wcsys_wait_ready(&sys); /* the web's primary connection is back */

    /* Replay paused: the replica lags. A finished job's result is read on
     * the primary; the history, read on the replica, does not list it
     * until the replica catches up. */
    char *paused = replica_value("SELECT pg_wal_replay_pause()");
    cr_assert_not_null(paused);
    free(paused);
    char *second = wcsys_keep(&sys, wcsys_submit(&sys, url));
    job = wcsys_keep_json(&sys, wcsys_wait_status(&sys, second, "finished,failed", 30000));
    cr_assert_str_eq(wcsys_status(job), "finished");
    cr_assert_eq(wcsys_rows(&sys, second), 1, "committed on the primary");
    cr_assert_eq(result_status(second, &total), 200, "a result the replica has not replayed");
    cr_assert_eq(total, 4);
    job = wcsys_keep_json(&sys, wcsys_job(&sys, second));
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(job, "result"), "total_words")),
                 4, "the job's summary, read on the primary");
    cr_assert_eq(history_count(url, &status), 1, "the history is the replica's, behind");
    cr_assert_eq(status, 200);
    char *resumed = replica_value("SELECT pg_wal_replay_resume()");
    cr_assert_not_null(resumed);
    free(resumed);
    wait_replayed(second);
    cr_assert_eq(history_count(url, &status), 2);

    /* The replica down: every read goes to the primary, whether the web
     * has noticed yet (a read fails, and is asked again) or not (reads go
     * straight to the primary). */
    pg_srv_stop(&replica, SIGINT);
    cr_assert_eq(history_count(url, &status), 2);
    cr_assert_eq(status, 200, "history with the replica down");
    cr_assert_eq(result_status(second, &total), 200, "a result with the replica down");
    cr_assert_eq(total, 4);
    long long until = wcsys_now_ms() + 20000;
    for (;;) {
        json_t *r = wcsys_http(&sys, "GET", "/readyz", NULL, &status);
        bool down = !strcmp(json_string_value(json_object_get(r, "postgres_read")) ?: "", "down");
        json_decref(r);
        cr_assert_eq(status, 200, "a replica down does not make the web unready");
        if (down) break;
        cr_assert_lt(wcsys_now_ms(), until, "/readyz never saw the replica down");
        usleep(50 * 1000);
    }
    cr_assert_eq(history_count(url, &status), 2);
    cr_assert_eq(status, 200, "history once the replica is known down");
    wcsys_stop_clean(&sys);
}
