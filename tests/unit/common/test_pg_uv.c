/* pg_uv on real Postgres: the shared server from tests/run.sh for the
 * plain cases, and a private cluster (initdb'd here, as user postgres when
 * running as root) for the case that kills and restarts the server. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/pg_uv.h"
#include "tests/lib/proc.h"
#include "tests/lib/testenv.h"

static uv_loop_t loop;
static void cluster_cleanup(void);

static void
setup(void) {
    cr_assert_eq(uv_loop_init(&loop), 0);
}

static void
teardown(void) {
    /* A private cluster is stopped even when its test failed half-way. */
    cluster_cleanup();
    cr_assert_eq(testenv_loop_close(&loop), 0, "handles leaked");
}

TestSuite(pg_uv, .init = setup, .fini = teardown, .timeout = 120);

/* --- recording callbacks --- */

struct rec {
    int calls;
    int nulls;
    ExecStatusType status;
    int ntuples;
    char val[3][128];
    bool isnull[3];
    char err[256];
    int *order; /* appends seq here, for ordering checks */
    int *order_n;
    int seq;
    pg_uv_t *close_me;
};

static void
on_result(pg_uv_t *pg, PGresult *res, const char *errstr, void *arg) {
    (void)pg;
    struct rec *rec = arg;
    rec->calls++;
    if (!res) {
        rec->nulls++;
        cr_assert_not_null(errstr);
        snprintf(rec->err, sizeof rec->err, "%s", errstr);
    } else {
        cr_assert_null(errstr);
        rec->status = PQresultStatus(res);
        rec->ntuples = PQntuples(res);
        snprintf(rec->err, sizeof rec->err, "%s", PQresultErrorMessage(res));
        for (int i = 0; i < 3 && i < PQnfields(res) && rec->ntuples > 0; i++) {
            rec->isnull[i] = PQgetisnull(res, 0, i);
            snprintf(rec->val[i], sizeof rec->val[i], "%s", PQgetvalue(res, 0, i));
        }
    }
    if (rec->order) rec->order[(*rec->order_n)++] = rec->seq;
    if (rec->close_me) {
        pg_uv_t *c = rec->close_me;
        rec->close_me = NULL;
        pg_uv_close(c, NULL, NULL);
    }
}

struct state {
    int ups, downs;
    bool up;
};

static void
on_state(pg_uv_t *pg, bool connected, void *arg) {
    (void)pg;
    struct state *st = arg;
    if (connected) st->ups++;
    else st->downs++;
    st->up = connected;
}

static pg_uv_t *
open_conn(const char *url, int timeout_ms, struct state *st) {
    pg_uv_t *pg = pg_uv_new(&loop, url, "test", timeout_ms, 0);
    cr_assert_not_null(pg);
    pg_uv_on_state(pg, on_state, st);
    /* A first connection to a fresh private cluster on a busy machine can
     * take a while: the bound is for a connection that never comes. */
    cr_assert(testenv_run_until(&loop, &st->up, 30000), "not connected: %s", pg_uv_last_error(pg));
    cr_assert(pg_uv_connected(pg));
    return pg;
}

static bool closed;

static void
close_conn(pg_uv_t *pg) {
    closed = false;
    pg_uv_close(pg, testenv_on_closed, &closed);
    cr_assert(testenv_run_until(&loop, &closed, 5000), "close callback never ran");
}

static void
wait_calls(struct rec *rec, int n, int timeout_ms) {
    uint64_t until = uv_now(&loop) + (uint64_t)timeout_ms;
    while (rec->calls < n && uv_now(&loop) < until) testenv_run_ms(&loop, 20);
    cr_assert_eq(rec->calls, n);
}

static void
query(pg_uv_t *pg, struct rec *rec, const char *sql, int n, const char *const *params) {
    cr_assert_eq(pg_uv_query(pg, sql, n, params, on_result, rec), 0);
}

static int
free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* --- plain cases on the shared server --- */

Test(pg_uv, parameters_null_and_quotes) {
    struct state st = {0};
    pg_uv_t *pg = open_conn(testenv_database_url(), 5000, &st);
    char text[64];
    snprintf(text, sizeof text, "it's \"quoted\"'); DROP TABLE x; --");
    const char *params[] = {NULL, text, "42"};
    struct rec rec = {0};
    query(pg, &rec, "SELECT $1::text IS NULL, $2::text, $3::int + 1", 3, params);
    /* The parameters were copied: changing ours now changes nothing. */
    memset(text, 'z', sizeof text - 1);
    wait_calls(&rec, 1, 5000);
    cr_assert_eq(rec.status, PGRES_TUPLES_OK, "%s", rec.err);
    cr_assert_str_eq(rec.val[0], "t");
    cr_assert_str_eq(rec.val[1], "it's \"quoted\"'); DROP TABLE x; --");
    cr_assert_str_eq(rec.val[2], "43");

    struct rec nul = {0};
    const char *one_null[] = {NULL};
    query(pg, &nul, "SELECT $1::text", 1, one_null);
    wait_calls(&nul, 1, 5000);
    cr_assert(nul.isnull[0]);
    close_conn(pg);
}

Test(pg_uv, sql_error_is_a_result) {
    struct state st = {0};
    pg_uv_t *pg = open_conn(testenv_database_url(), 5000, &st);
    struct rec bad = {0}, cast = {0}, after = {0};
    query(pg, &bad, "SELECT * FROM no_such_table_at_all", 0, NULL);
    const char *params[] = {"not a number"};
    query(pg, &cast, "SELECT $1::int", 1, params);
    query(pg, &after, "SELECT 'still here'", 0, NULL);
    wait_calls(&after, 1, 5000);
    cr_assert_eq(bad.nulls, 0);
    cr_assert_eq(bad.status, PGRES_FATAL_ERROR);
    cr_assert(strstr(bad.err, "does not exist"), "%s", bad.err);
    cr_assert_eq(cast.status, PGRES_FATAL_ERROR);
    cr_assert(strstr(cast.err, "invalid input syntax"), "%s", cast.err);
    cr_assert_eq(after.status, PGRES_TUPLES_OK);
    cr_assert_str_eq(after.val[0], "still here");
    cr_assert_eq(st.downs, 0);
    close_conn(pg);
}

Test(pg_uv, queued_queries_run_in_order) {
    /* Submitted while the connection is still being made. */
    struct state st = {0};
    pg_uv_t *pg = pg_uv_new(&loop, testenv_database_url(), "test", 5000, 0);
    pg_uv_on_state(pg, on_state, &st);
    char table[64], sql[256];
    testenv_name(table, sizeof table);
    int order[40], n = 0;
    struct rec recs[40] = {{0}};
    snprintf(sql, sizeof sql, "CREATE TABLE %s (i int, at timestamptz default clock_timestamp())",
             table);
    recs[0] = (struct rec){.order = order, .order_n = &n, .seq = 0};
    query(pg, &recs[0], sql, 0, NULL);
    snprintf(sql, sizeof sql, "INSERT INTO %s (i) VALUES ($1::int)", table);
    for (int i = 1; i < 39; i++) {
        char num[16];
        snprintf(num, sizeof num, "%d", i);
        const char *params[] = {num};
        recs[i] = (struct rec){.order = order, .order_n = &n, .seq = i};
        query(pg, &recs[i], sql, 1, params);
    }
    snprintf(sql, sizeof sql, "SELECT string_agg(i::text, ',' ORDER BY at), count(*) FROM %s; ",
             table);
    recs[39] = (struct rec){.order = order, .order_n = &n, .seq = 39};
    query(pg, &recs[39], sql, 0, NULL);
    wait_calls(&recs[39], 1, 10000);
    cr_assert_eq(n, 40);
    for (int i = 0; i < 40; i++) {
        cr_assert_eq(order[i], i);
        cr_assert_eq(recs[i].calls, 1);
        cr_assert_eq(recs[i].nulls, 0, "%d: %s", i, recs[i].err);
    }
    cr_assert_eq(recs[39].status, PGRES_TUPLES_OK, "%s", recs[39].err);
    cr_assert_str_eq(recs[39].val[1], "38");
    cr_assert(strncmp(recs[39].val[0], "1,2,3,4,5,6,7,8,9,10,11,", 24) == 0, "%s", recs[39].val[0]);
    struct rec drop = {0};
    snprintf(sql, sizeof sql, "DROP TABLE %s", table);
    query(pg, &drop, sql, 0, NULL);
    wait_calls(&drop, 1, 5000);
    cr_assert_eq(drop.status, PGRES_COMMAND_OK);
    close_conn(pg);
}

Test(pg_uv, large_parameter_and_many_rows) {
    struct state st = {0};
    pg_uv_t *pg = open_conn(testenv_database_url(), 10000, &st);
    /* 4 MiB does not fit the socket buffer: PQflush must finish it on
     * writable events. */
    size_t len = 4u << 20;
    char *big = malloc(len + 1);
    memset(big, 'w', len);
    big[len] = '\0';
    const char *params[] = {big};
    struct rec a = {0}, b = {0};
    query(pg, &a, "SELECT length($1), md5($1) = md5(repeat('w', 4194304))", 1, params);
    free(big);
    query(pg, &b, "SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g", 0, NULL);
    wait_calls(&b, 1, 10000);
    cr_assert_eq(a.status, PGRES_TUPLES_OK, "%s", a.err);
    cr_assert_str_eq(a.val[0], "4194304");
    cr_assert_str_eq(a.val[1], "t");
    cr_assert_eq(b.ntuples, 20000);
    close_conn(pg);
}

Test(pg_uv, bad_arguments_are_refused) {
    struct state st = {0};
    pg_uv_t *pg = open_conn(testenv_database_url(), 5000, &st);
    struct rec rec = {0};
    cr_assert_eq(pg_uv_query(pg, "SELECT 1", -1, NULL, on_result, &rec), UV_EINVAL);
    cr_assert_eq(pg_uv_query(pg, "SELECT $1", 1, NULL, on_result, &rec), UV_EINVAL);
    cr_assert_eq(pg_uv_query(pg, "SELECT 1", 70000, (const char *[]){"1"}, on_result, &rec),
                 UV_EINVAL);
    /* Two statements in one parameterised query is an SQL error result. */
    query(pg, &rec, "SELECT 1; SELECT 2", 0, NULL);
    wait_calls(&rec, 1, 5000);
    cr_assert_eq(rec.status, PGRES_FATAL_ERROR);
    close_conn(pg);
    cr_assert_eq(rec.calls, 1);
}

Test(pg_uv, queue_limit) {
    pg_uv_t *pg = pg_uv_new(&loop, testenv_database_url(), "test", 5000, 2);
    struct rec a = {0}, b = {0}, c = {0};
    query(pg, &a, "SELECT 1", 0, NULL);
    query(pg, &b, "SELECT 2", 0, NULL);
    cr_assert_eq(pg_uv_query(pg, "SELECT 3", 0, NULL, on_result, &c), UV_ENOBUFS);
    wait_calls(&b, 1, 5000);
    cr_assert_str_eq(b.val[0], "2");
    close_conn(pg);
    cr_assert_eq(c.calls, 0);
}

Test(pg_uv, server_down) {
    char url[128];
    snprintf(url, sizeof url, "postgresql://postgres@127.0.0.1:%d/postgres", free_port());
    struct state st = {0};
    pg_uv_t *pg = pg_uv_new(&loop, url, "test", 2000, 0);
    pg_uv_on_state(pg, on_state, &st);
    /* While the first attempt runs, a query waits; the attempt fails it. */
    struct rec early = {0};
    int rc = pg_uv_query(pg, "SELECT 1", 0, NULL, on_result, &early);
    if (rc == 0) {
        wait_calls(&early, 1, 3000);
        cr_assert_eq(early.nulls, 1);
        cr_assert(strstr(early.err, "refused"), "%s", early.err);
    } else {
        cr_assert_eq(rc, UV_ENOTCONN); /* refused before pg_uv_new returned */
    }
    /* Known down: refused at once, never called. */
    struct rec later = {0};
    cr_assert_eq(pg_uv_query(pg, "SELECT 1", 0, NULL, on_result, &later), UV_ENOTCONN);
    cr_assert_not(pg_uv_connected(pg));
    cr_assert(strstr(pg_uv_last_error(pg), "refused"), "%s", pg_uv_last_error(pg));
    testenv_run_ms(&loop, 300);
    close_conn(pg);
    cr_assert_eq(later.calls, 0);
    cr_assert_leq(early.calls, 1);
    cr_assert_eq(st.ups + st.downs, 0);
}

Test(pg_uv, query_timeout_drops_and_reconnects) {
    struct state st = {0};
    pg_uv_t *pg = open_conn(testenv_database_url(), 300, &st);
    struct rec slow = {0}, queued = {0};
    uint64_t t0 = uv_now(&loop);
    query(pg, &slow, "SELECT pg_sleep(5)", 0, NULL);
    query(pg, &queued, "SELECT 1", 0, NULL);
    wait_calls(&slow, 1, 3000);
    uint64_t waited = uv_now(&loop) - t0;
    cr_assert_eq(slow.nulls, 1);
    cr_assert_str_eq(slow.err, "timeout");
    cr_assert_eq(queued.calls, 1);
    cr_assert_str_eq(queued.err, "timeout");
    cr_assert_geq(waited, 290);
    cr_assert_leq(waited, 2000);
    cr_assert_eq(st.downs, 1);
    st.up = false;
    cr_assert(testenv_run_until(&loop, &st.up, 30000), "no reconnect: %s", pg_uv_last_error(pg));
    struct rec again = {0};
    query(pg, &again, "SELECT 'again'", 0, NULL);
    wait_calls(&again, 1, 5000);
    cr_assert_str_eq(again.val[0], "again");
    close_conn(pg);
    cr_assert_eq(slow.calls, 1);
}

Test(pg_uv, close_with_queries_pending) {
    struct state st = {0};
    pg_uv_t *pg = open_conn(testenv_database_url(), 20000, &st);
    struct rec recs[4] = {{0}};
    query(pg, &recs[0], "SELECT pg_sleep(10)", 0, NULL);
    for (int i = 1; i < 4; i++) query(pg, &recs[i], "SELECT 1", 0, NULL);
    testenv_run_ms(&loop, 100);
    closed = false;
    pg_uv_close(pg, testenv_on_closed, &closed);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(recs[i].calls, 1);
        cr_assert_eq(recs[i].nulls, 1);
        cr_assert_str_eq(recs[i].err, "closing");
    }
    cr_assert(testenv_run_until(&loop, &closed, 5000));
    for (int i = 0; i < 4; i++) cr_assert_eq(recs[i].calls, 1);
    cr_assert_eq(st.downs, 0);
}

Test(pg_uv, close_inside_a_result_callback) {
    struct state st = {0};
    pg_uv_t *pg = open_conn(testenv_database_url(), 5000, &st);
    struct rec first = {.close_me = pg}, later[3] = {{0}};
    query(pg, &first, "SELECT 1", 0, NULL);
    for (int i = 0; i < 3; i++) query(pg, &later[i], "SELECT 2", 0, NULL);
    wait_calls(&first, 1, 5000);
    cr_assert_eq(first.nulls, 0);
    cr_assert_str_eq(first.val[0], "1");
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(later[i].calls, 1);
        cr_assert_str_eq(later[i].err, "closing");
    }
    testenv_run_ms(&loop, 50);
}

Test(pg_uv, close_before_the_loop_runs) {
    pg_uv_t *pg = pg_uv_new(&loop, testenv_database_url(), "test", 5000, 0);
    struct rec rec = {0};
    query(pg, &rec, "SELECT 1", 0, NULL);
    close_conn(pg);
    cr_assert_eq(rec.calls, 1);
    cr_assert_str_eq(rec.err, "closing");
}

/* --- the private cluster --- */

/* The server runs as a direct child of the test (not daemonized by
 * pg_ctl), so the test reaps it itself and leaves no orphan behind. */
struct cluster {
    char dir[64];
    int port;
    char url[160];
    pid_t pid;
};

/* The test's cluster, for teardown. */
static struct cluster cluster;

#define PG_BIN "/usr/lib/postgresql/15/bin"

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
sh(const char *fmt, ...) {
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

/* cluster_start initdb's a cluster the first time (as user postgres when
 * we are root: initdb refuses root), then starts the server and waits
 * until it accepts connections. */
static void
cluster_start(struct cluster *c) {
    bool root = geteuid() == 0;
    const char *as = root ? "runuser -u postgres -- " : "";
    if (!c->port) {
        c->port = free_port();
        snprintf(c->dir, sizeof c->dir, "/tmp/wc-pg-uv.XXXXXX");
        cr_assert_not_null(mkdtemp(c->dir));
        cr_assert_eq(sh("chmod 755 %s", c->dir), 0);
        if (root) cr_assert_eq(sh("chown postgres: %s", c->dir), 0);
        cr_assert_eq(sh("%s" PG_BIN "/initdb -D %s/data -U postgres -E UTF8 --no-locale "
                        "--auth=trust >%s/initdb.log 2>&1",
                        as, c->dir, c->dir),
                     0, "initdb failed (see %s/initdb.log)", c->dir);
        snprintf(c->url, sizeof c->url, "postgresql://postgres@127.0.0.1:%d/postgres", c->port);
    }
    char data[96], port[16], sockdir[96], logf[96];
    snprintf(data, sizeof data, "%s/data", c->dir);
    snprintf(port, sizeof port, "%d", c->port);
    snprintf(sockdir, sizeof sockdir, "unix_socket_directories=%s", c->dir);
    snprintf(logf, sizeof logf, "%s/postgres.log", c->dir);
    const char *server[] = {PG_BIN "/postgres",           "-D", data,    "-p", port,        "-c",
                            "listen_addresses=127.0.0.1", "-c", sockdir, "-c", "fsync=off", NULL};
    const char *as_postgres[] = {"/usr/sbin/runuser",
                                 "-u",
                                 "postgres",
                                 "--",
                                 PG_BIN "/postgres",
                                 "-D",
                                 data,
                                 "-p",
                                 port,
                                 "-c",
                                 "listen_addresses=127.0.0.1",
                                 "-c",
                                 sockdir,
                                 "-c",
                                 "fsync=off",
                                 NULL};
    if (root) {
        /* The log file must be writable by postgres too. */
        FILE *f = fopen(logf, "a");
        if (f) fclose(f);
        sh("chown postgres: %s", logf);
    }
    c->pid = proc_start(root ? as_postgres : server, NULL, logf);
    cr_assert(c->pid > 0);
    for (int i = 0; i < 200 && PQping(c->url) != PQPING_OK; i++) usleep(50000);
    cr_assert_eq(PQping(c->url), PQPING_OK, "private postgres did not start (see %s)", logf);
}

/* postmaster_signal sends sig to the postmaster named in postmaster.pid
 * (our child may be runuser, which does not forward signals). */
static int
postmaster_signal(const struct cluster *c, int sig) {
    char path[96];
    snprintf(path, sizeof path, "%s/data/postmaster.pid", c->dir);
    FILE *f = fopen(path, "r");
    long pm = 0;
    if (!f) return -1;
    int n = fscanf(f, "%ld", &pm);
    fclose(f);
    return n == 1 && pm > 0 ? kill((pid_t)pm, sig) : -1;
}

/* cluster_crash stops the server at once, as a crash would (SIGQUIT, what
 * pg_ctl's immediate mode sends): every backend exits and clients lose
 * their connections. */
static void
cluster_crash(struct cluster *c) {
    cr_assert_eq(postmaster_signal(c, SIGQUIT), 0);
    cr_assert_neq(proc_wait_exit(c->pid, 10000), -1, "postgres did not exit");
    c->pid = 0;
}

static void
cluster_cleanup(void) {
    struct cluster *c = &cluster;
    if (!c->dir[0]) return;
    if (c->pid > 0) {
        postmaster_signal(c, SIGQUIT);
        proc_stop(c->pid, SIGTERM, 10000);
        c->pid = 0;
    }
    sh("rm -rf %s", c->dir);
    c->dir[0] = '\0';
}

Test(pg_uv, reconnects_after_restart) {
    struct cluster *c = &cluster;
    cluster_start(c);
    struct state st = {0};
    pg_uv_t *pg = open_conn(c->url, 20000, &st);
    struct rec sleeping = {0}, queued = {0};
    query(pg, &sleeping, "SELECT pg_sleep(30)", 0, NULL);
    query(pg, &queued, "SELECT 1", 0, NULL);
    testenv_run_ms(&loop, 200);
    cr_assert_eq(sleeping.calls, 0);
    cluster_crash(c);
    wait_calls(&queued, 1, 5000);
    cr_assert_eq(sleeping.calls, 1);
    cr_assert_eq(sleeping.nulls, 1);
    cr_assert_eq(queued.nulls, 1);
    cr_assert_neq(sleeping.err[0], '\0');
    cr_assert_eq(st.downs, 1);
    cr_assert_not(pg_uv_connected(pg));
    struct rec refused = {0};
    cr_assert_eq(pg_uv_query(pg, "SELECT 1", 0, NULL, on_result, &refused), UV_ENOTCONN);
    testenv_run_ms(&loop, 500);
    cr_assert_eq(sleeping.calls, 1);
    cr_assert_eq(queued.calls, 1);

    cluster_start(c);
    st.up = false;
    cr_assert(testenv_run_until(&loop, &st.up, 30000), "no reconnect: %s", pg_uv_last_error(pg));
    cr_assert_eq(st.ups, 2);
    cr_assert_str_eq(pg_uv_last_error(pg), "");
    struct rec again = {0};
    const char *params[] = {"back"};
    query(pg, &again, "SELECT $1::text", 1, params);
    wait_calls(&again, 1, 5000);
    cr_assert_str_eq(again.val[0], "back");
    close_conn(pg);
    cr_assert_eq(refused.calls, 0);
}

/* conn_then_crash starts the private cluster, connects to it, and
 * crashes it without running the loop: the connection has not seen the
 * server go. */
static pg_uv_t *
conn_then_crash(int timeout_ms, struct state *st) {
    cluster_start(&cluster);
    pg_uv_t *pg = open_conn(cluster.url, timeout_ms, st);
    cluster_crash(&cluster);
    return pg;
}

/* A query sent on a connection whose server has just died, before the
 * loop saw it go: the write meets a closed socket (the kernel answers
 * with a reset, and libuv reports the error and stops the poll), and the
 * query fails at once, not when its 60 s timeout ends. */
Test(pg_uv, a_query_on_a_connection_whose_server_died_fails_at_once) {
    struct state st = {0};
    pg_uv_t *pg = conn_then_crash(60000, &st);
    struct rec r = {0};
    query(pg, &r, "SELECT 1", 0, NULL);
    wait_calls(&r, 1, 10000);
    cr_assert_eq(r.nulls, 1, "a result from a server that is gone");
    cr_assert_neq(r.err[0], '\0');
    cr_assert_not(pg_uv_connected(pg));
    cr_assert_eq(st.downs, 1);
    close_conn(pg);
}

/* A connection waiting out its backoff after the server went away tries
 * at once when told the server is back (pg_uv_retry_now), and a query
 * sent then waits for that attempt instead of being refused. The loop
 * does not run between the restart and the query, so the backoff's
 * timer cannot have fired: the connection is still waiting. */
Test(pg_uv, retry_now_cuts_the_backoff_short) {
    struct state st = {0};
    pg_uv_t *pg = conn_then_crash(20000, &st);
    /* Until it is known down and waiting (an attempt in progress takes
     * queries, and fails them). */
    struct rec probe = {0};
    int probes = 0;
    for (;;) {
        int rc = pg_uv_query(pg, "SELECT 1", 0, NULL, on_result, &probe);
        if (rc == UV_ENOTCONN) break;
        cr_assert_eq(rc, 0);
        wait_calls(&probe, ++probes, 10000);
        cr_assert_lt(probes, 100, "never found waiting out its backoff");
    }
    cr_assert_eq(probe.nulls, probes, "a query ran with the server down");
    cluster_start(&cluster);
    struct rec refused = {0};
    cr_assert_eq(pg_uv_query(pg, "SELECT 1", 0, NULL, on_result, &refused), UV_ENOTCONN,
                 "not waiting out its backoff");
    cr_assert(pg_uv_retry_now(pg));
    struct rec back = {0};
    const char *params[] = {"now"};
    query(pg, &back, "SELECT $1::text", 1, params);
    wait_calls(&back, 1, 30000);
    cr_assert_eq(back.status, PGRES_TUPLES_OK, "%s", back.err);
    cr_assert_str_eq(back.val[0], "now");
    cr_assert(pg_uv_connected(pg));
    cr_assert(pg_uv_retry_now(pg), "up: nothing to do, and says so");
    close_conn(pg);
    cr_assert_eq(refused.calls, 0);
}

/* --- prepared statements (common/pg_stmts.h) --- */

/* count_prepared asks the connection how many of its prepared statements
 * have the text sql. */
static int
count_prepared(pg_uv_t *pg, const char *sql) {
    struct rec rec = {0};
    const char *params[] = {sql};
    query(pg, &rec, "SELECT count(*) FROM pg_prepared_statements WHERE statement = $1", 1, params);
    wait_calls(&rec, 1, 5000);
    cr_assert_eq(rec.status, PGRES_TUPLES_OK, "%s", rec.err);
    return atoi(rec.val[0]);
}

static struct rec
run(pg_uv_t *pg, const char *sql, int n, const char *const *params) {
    struct rec rec = {0};
    query(pg, &rec, sql, n, params);
    wait_calls(&rec, 1, 5000);
    return rec;
}

Test(pg_uv, a_statement_is_prepared_once_per_connection) {
    struct state st = {0};
    pg_uv_t *pg = open_conn(testenv_database_url(), 5000, &st);
    const char *sql = "SELECT $1::int + 1";
    const char *one[] = {"1"}, *two[] = {"2"};
    struct rec a = run(pg, sql, 1, one), b = run(pg, sql, 1, two);
    cr_assert_str_eq(a.val[0], "2");
    cr_assert_str_eq(b.val[0], "3", "the second run has its own parameters");
    cr_assert_eq(count_prepared(pg, sql), 1, "prepared once, run twice");
    /* An SQL error in the statement itself: each run gets it, nothing is
     * kept prepared. */
    const char *bad = "SELECT * FROM no_such_table_for_prepare";
    for (int i = 0; i < 2; i++) {
        struct rec r = run(pg, bad, 0, NULL);
        cr_assert_eq(r.status, PGRES_FATAL_ERROR);
        cr_assert(strstr(r.err, "does not exist"), "%s", r.err);
    }
    cr_assert_eq(count_prepared(pg, bad), 0);
    /* A bad parameter fails its run only; the statement stays. */
    const char *nan[] = {"not a number"};
    cr_assert_eq(run(pg, sql, 1, nan).status, PGRES_FATAL_ERROR);
    cr_assert_str_eq(run(pg, sql, 1, one).val[0], "2");
    cr_assert_eq(count_prepared(pg, sql), 1);
    cr_assert_eq(st.downs, 0);
    close_conn(pg);
}

Test(pg_uv, a_statement_whose_table_changed_is_prepared_again) {
    struct state st = {0};
    pg_uv_t *pg = open_conn(testenv_database_url(), 5000, &st);
    cr_assert_eq(run(pg, "CREATE TEMP TABLE prep_t (a int)", 0, NULL).status, PGRES_COMMAND_OK);
    cr_assert_eq(run(pg, "INSERT INTO prep_t VALUES (7)", 0, NULL).status, PGRES_COMMAND_OK);
    const char *sql = "SELECT * FROM prep_t";
    cr_assert_str_eq(run(pg, sql, 0, NULL).val[0], "7");
    cr_assert_eq(run(pg, "ALTER TABLE prep_t ADD COLUMN b int", 0, NULL).status, PGRES_COMMAND_OK);
    /* The server refuses the old plan once (its result has another
     * shape); the next run prepares it afresh and sees both columns. */
    struct rec r = run(pg, sql, 0, NULL);
    cr_assert_eq(r.status, PGRES_FATAL_ERROR);
    cr_assert(strstr(r.err, "cached plan must not change result type"), "%s", r.err);
    r = run(pg, sql, 0, NULL);
    cr_assert_eq(r.status, PGRES_TUPLES_OK, "%s", r.err);
    cr_assert_str_eq(r.val[0], "7");
    cr_assert(r.isnull[1], "the new column");
    close_conn(pg);
}

Test(pg_uv, statements_are_prepared_again_on_a_new_connection) {
    struct state st = {0};
    pg_uv_t *pg = open_conn(testenv_database_url(), 5000, &st);
    const char *sql = "SELECT $1::text || '!'";
    const char *hi[] = {"hi"};
    cr_assert_str_eq(run(pg, sql, 1, hi).val[0], "hi!");
    /* The server ends this session: its statements are gone with it. */
    struct rec kill = run(pg, "SELECT pg_terminate_backend(pg_backend_pid())", 0, NULL);
    cr_assert_eq(kill.nulls, 1, "the connection went down under the query");
    cr_assert(testenv_run_until(&loop, &st.up, 30000), "reconnected");
    cr_assert_eq(st.downs, 1);
    struct rec r = run(pg, sql, 1, hi);
    cr_assert_eq(r.status, PGRES_TUPLES_OK, "prepared on the new connection: %s", r.err);
    cr_assert_str_eq(r.val[0], "hi!");
    close_conn(pg);
}

Test(pg_uv, preparing_can_be_turned_off) {
    struct state st = {0};
    pg_uv_t *pg = open_conn(testenv_database_url(), 5000, &st);
    pg_uv_set_prepare(pg, false);
    const char *sql = "SELECT $1::int * 2";
    const char *three[] = {"3"};
    cr_assert_str_eq(run(pg, sql, 1, three).val[0], "6");
    cr_assert_str_eq(run(pg, sql, 1, three).val[0], "6");
    struct rec r = run(pg, "SELECT count(*) FROM pg_prepared_statements", 0, NULL);
    cr_assert_str_eq(r.val[0], "0", "nothing prepared (for a transaction-pooling pgbouncer)");
    close_conn(pg);
}
