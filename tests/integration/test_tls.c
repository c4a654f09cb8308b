/* Managed Redis and Postgres speak TLS: the real programs against a private
 * redis-server that listens on its --tls-port only and a private Postgres
 * with ssl=on that refuses TCP clients without TLS, both with certificates
 * from a throwaway CA made at test time (tests/lib/testca). A job runs end
 * to end through web and worker over rediss:// and sslmode=verify-full;
 * /readyz and the admin CLI use the same settings; certificates that must
 * not be trusted are refused; bad TLS settings stop every program at start
 * with exit 78. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/pg_uv.h"
#include "tests/lib/run.h"
#include "tests/lib/servers.h"
#include "tests/lib/testca.h"
#include "tests/lib/testenv.h"
#include "tests/lib/wcsys.h"

static struct testca ca;
static struct redis_srv redis;
static struct pg_srv pg;
static struct wcsys sys;

static void
setup(void) {
    memset(&redis, 0, sizeof redis);
    memset(&pg, 0, sizeof pg);
    memset(&sys, 0, sizeof sys);
    testca_make(&ca);
}

static void
teardown(void) {
    wcsys_free(&sys);
    redis_srv_free(&redis);
    pg_srv_free(&pg);
    testca_free(&ca);
}

TestSuite(tls, .init = setup, .fini = teardown, .timeout = 240);

static void
start_redis(const char *cert, const char *key) {
    redis.tls_cert = cert;
    redis.tls_key = key;
    redis_srv_start(&redis, "127.0.0.1");
}

static void
start_pg(void) {
    pg.tls_cert = ca.server_crt;
    pg.tls_key = ca.server_key;
    pg.tls_ca = ca.ca;
    pg_srv_start(&pg, "127.0.0.1");
    cr_assert(strstr(pg.url, "sslmode=verify-full"), "%s", pg.url);
}

/* prog runs a program (argv[0] a name in BIN_DIR) with the system's
 * environment plus extra, and returns its exit code; err gets stderr. */
static int
prog(const char *name, const char *const *args, const char *const *extra, struct buf *err) {
    char bin[4096];
    snprintf(bin, sizeof bin, "%s", testenv_bin(name));
    const char *argv[8] = {bin};
    for (int i = 0; args && args[i] && i < 6; i++) argv[i + 1] = args[i];
    const char *env[WCSYS_MAX_ENV + 8];
    int n = 0;
    for (int i = 0; i < sys.nenv; i++) env[n++] = sys.env[i];
    for (int i = 0; extra && extra[i]; i++) env[n++] = extra[i];
    env[n] = NULL;
    buf_reset(err);
    return run_cmd(argv, env, NULL, 60000, NULL, err);
}

static long
readyz(void) {
    long status;
    json_t *v = wcsys_http(&sys, "GET", "/readyz", NULL, &status);
    json_decref(v);
    return status;
}

/* wait_ready polls /readyz until it answers 200 (both connections up). */
static void
wait_ready(int timeout_ms) {
    long long until = wcsys_now_ms() + timeout_ms;
    while (readyz() != 200 && wcsys_now_ms() < until) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    cr_assert_eq(readyz(), 200, "not ready; see %s", sys.web_log);
}

Test(tls, job_end_to_end_over_rediss_and_verify_full) {
    start_redis(ca.server_crt, ca.server_key);
    start_pg();
    struct wcsys_opts o = {.redis_url = redis.url, .pg_admin_url = pg.url};
    wcsys_init(&sys, &o);
    wcsys_env(&sys, "REDIS_TLS_CA_FILE", ca.ca);
    wcsys_start_web(&sys);
    wcsys_start_worker(&sys, NULL);
    char line[4096];
    cr_assert(
        wcsys_log_find(sys.web_log, "msg=\"redis connected\"", "tls=on", 15000, line, sizeof line),
        "web did not connect over TLS; see %s", sys.web_log);
    cr_assert(wcsys_log_find(sys.worker_logs[0], "msg=\"redis connected\" conn=redis-take",
                             "tls=on", 15000, line, sizeof line),
              "worker did not connect over TLS; see %s", sys.worker_logs[0]);

    wcsys_write_page(&sys, "tls.html", "<p>secure words travel secure roads</p>");
    char url[256];
    char *id = wcsys_submit(&sys, wcsys_page_url(&sys, "/tls.html", url, sizeof url));
    json_t *job = wcsys_wait_status(&sys, id, "finished,failed", 60000);
    cr_assert_str_eq(wcsys_status(job), "finished", "%s", json_dumps(job, 0));
    json_decref(job);
    cr_assert_eq(wcsys_rows(&sys, id), 1);
    free(id);
    wait_ready(15000);

    /* Every connection of the programs to this database is encrypted (the
     * server refuses the others, and says so here). */
    char *plain = wcsys_sql(&sys, "SELECT count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s "
                                  "USING (pid) WHERE a.datname = current_database() AND NOT s.ssl");
    char *tls = wcsys_sql(&sys, "SELECT count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s "
                                "USING (pid) WHERE a.datname = current_database() AND s.ssl");
    cr_assert_str_eq(plain, "0");
    cr_assert_gt(atoi(tls), 1, "web and worker connections: %s", tls);
    free(plain);
    free(tls);

    /* The admin CLI reads the same settings. */
    struct buf err;
    buf_init(&err);
    cr_assert_eq(prog("wordcount", (const char *[]){"info", "--json", NULL}, NULL, &err), 0, "%s",
                 err.data);
    buf_free(&err);
}

Test(tls, readyz_stays_503_while_the_certificate_is_refused) {
    /* No REDIS_TLS_CA_FILE: the system store does not know the test CA. */
    start_redis(ca.server_crt, ca.server_key);
    struct wcsys_opts o = {.redis_url = redis.url};
    wcsys_init(&sys, &o);
    wcsys_start_web(&sys);
    char line[4096];
    cr_assert(wcsys_log_find(sys.web_log, "msg=\"redis connect failed\"",
                             "certificate verify failed", 15000, line, sizeof line),
              "see %s", sys.web_log);
    cr_assert_eq(readyz(), 503);
    cr_assert_eq(wcsys_log_count(sys.web_log, "msg=\"redis connected\"", NULL), 0);

    /* The same with the CA but a server certificate for another name. */
    redis_srv_free(&redis);
    memset(&redis, 0, sizeof redis);
    start_redis(ca.other_crt, ca.other_key);
    wcsys_env(&sys, "REDIS_URL", redis.url);
    wcsys_env(&sys, "REDIS_TLS_CA_FILE", ca.ca);
    wcsys_start_web(&sys);
    cr_assert(wcsys_log_find(sys.web_log, "msg=\"redis connect failed\"", "IP address mismatch",
                             15000, line, sizeof line),
              "see %s", sys.web_log);
    cr_assert_eq(readyz(), 503);
}

Test(tls, opt_out_for_self_signed_servers) {
    start_redis(ca.self_crt, ca.self_key);
    struct wcsys_opts o = {.redis_url = redis.url};
    wcsys_init(&sys, &o);
    wcsys_env(&sys, "REDIS_TLS_VERIFY", "false");
    wcsys_start_web(&sys);
    char line[4096];
    cr_assert(wcsys_log_find(sys.web_log, "msg=\"redis connected\"", "tls=unverified", 15000, line,
                             sizeof line),
              "see %s", sys.web_log);
    wcsys_start_worker(&sys, NULL);
    struct buf err;
    buf_init(&err);
    cr_assert_eq(prog("wordcount", (const char *[]){"info", NULL}, NULL, &err), 0, "%s", err.data);
    buf_free(&err);
}

/* --- bad settings stop every program at start --- */

Test(tls, bad_tls_settings_exit_78) {
    struct wcsys_opts o = {0};
    wcsys_init(&sys, &o);
    struct {
        const char *env[3];
        const char *names;
    } cases[] = {
        {{"REDIS_URL=rediss://127.0.0.1:6380/0", "REDIS_TLS_CA_FILE=/nonexistent/ca.crt", NULL},
         "REDIS_TLS_CA_FILE"},
        {{"REDIS_URL=rediss://127.0.0.1:99999/0", NULL}, "REDIS_URL"},
        {{"REDIS_URL=redis+tls://127.0.0.1/0", NULL}, "REDIS_URL"},
        {{"REDIS_URL=rediss://127.0.0.1/0", "REDIS_TLS_VERIFY=sometimes", NULL},
         "REDIS_TLS_VERIFY"},
        {{"DATABASE_URL=postgresql://127.0.0.1/x?sslmode=verify-full&sslrootcert=/nonexistent",
          NULL},
         "DATABASE_URL"},
    };
    const char *progs[] = {"wordcount-web", "wordcount-worker", "wordcount-migrate", "wordcount"};
    const char *args[][3] = {{NULL}, {NULL}, {"current", NULL}, {"info", NULL}};
    struct buf err;
    buf_init(&err);
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        for (size_t p = 0; p < sizeof progs / sizeof *progs; p++) {
            int rc = prog(progs[p], args[p], cases[c].env, &err);
            cr_assert_eq(rc, 78, "%s with %s: exit %d: %s", progs[p], cases[c].env[0], rc,
                         err.data);
            cr_assert(strstr(err.data, cases[c].names), "%s: %s", progs[p], err.data);
        }
    }
    buf_free(&err);
}

/* --- pg_uv with sslmode=verify-full --- */

struct pg_wait {
    bool done;
    bool ok;
    char value[64];
    char err[512];
};

static void
on_row(pg_uv_t *p, PGresult *res, const char *errstr, void *arg) {
    (void)p;
    struct pg_wait *w = arg;
    w->ok = res && PQresultStatus(res) == PGRES_TUPLES_OK;
    if (w->ok) snprintf(w->value, sizeof w->value, "%s", PQgetvalue(res, 0, 0));
    else snprintf(w->err, sizeof w->err, "%s", res ? PQresultErrorMessage(res) : errstr);
    w->done = true;
}

/* pg_ask runs one query on a fresh pg_uv connection to conninfo. */
static struct pg_wait
pg_ask(uv_loop_t *loop, const char *conninfo, const char *sql) {
    struct pg_wait w = {0};
    pg_uv_t *p = pg_uv_new(loop, conninfo, "test", 5000, 4);
    cr_assert_eq(pg_uv_query(p, sql, 0, NULL, on_row, &w), 0);
    testenv_run_until(loop, &w.done, 20000);
    if (!w.ok && !w.err[0]) snprintf(w.err, sizeof w.err, "%s", pg_uv_last_error(p));
    bool closed = false;
    pg_uv_close(p, testenv_on_closed, &closed);
    cr_assert(testenv_run_until(loop, &closed, 5000));
    cr_assert(w.done, "no answer from %s", conninfo);
    return w;
}

Test(tls, postgres_verify_full) {
    start_pg();
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    struct pg_wait w =
        pg_ask(&loop, pg.url, "SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
    cr_assert(w.ok, "%s", w.err);
    cr_assert_str_eq(w.value, "true");

    /* Another name than the certificate's, on the same server: libpq
     * connects to hostaddr and checks host. */
    char url[512];
    snprintf(url, sizeof url,
             "postgresql://postgres@other.invalid:%d/postgres?hostaddr=127.0.0.1&sslmode=verify-"
             "full&sslrootcert=%s",
             pg.port, ca.ca);
    w = pg_ask(&loop, url, "SELECT 1");
    cr_assert_not(w.ok);
    cr_assert(strstr(w.err, "does not match host name"), "%s", w.err);

    /* A root the server's certificate does not chain to. */
    snprintf(url, sizeof url,
             "postgresql://postgres@127.0.0.1:%d/postgres?sslmode=verify-full&sslrootcert=%s",
             pg.port, ca.self_crt);
    w = pg_ask(&loop, url, "SELECT 1");
    cr_assert_not(w.ok);
    cr_assert(strstr(w.err, "certificate verify failed"), "%s", w.err);

    /* Without TLS the server refuses the client. */
    snprintf(url, sizeof url, "postgresql://postgres@127.0.0.1:%d/postgres?sslmode=disable",
             pg.port);
    w = pg_ask(&loop, url, "SELECT 1");
    cr_assert_not(w.ok);
    cr_assert(strstr(w.err, "no encryption"), "%s", w.err);
    cr_assert_eq(testenv_loop_close(&loop), 0);
}
