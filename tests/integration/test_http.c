/* The HTTP front end on its own: the real wordcount-web against real
 * Redis and Postgres (tests/run.sh), spoken to byte by byte. HTTP/1.1
 * behaviour, malformed requests, limits and timeouts, the request id,
 * idempotency, rate limiting, CORS, the original app's routes, Redis
 * going away and coming back, and stopping with a request in flight. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "tests/lib/proc.h"
#include "tests/lib/raw_http.h"
#include "tests/lib/testdb.h"
#include "tests/lib/testenv.h"

TestSuite(http, .timeout = 120);

static char workdir[128], web_log[256];
static char db_url[512], db_name[128], prefix[96];
static pid_t web_pid;
static int port;

static bool
is_extra(const char *const *extra, const char *s) {
    for (int i = 0; extra[i]; i++)
        if (extra[i] == s) return true;
    return false;
}

/* start_web runs migrate and wordcount-web with the given extra
 * environment ("K=V" strings, NULL-terminated; may be NULL). */
static void
start_web(const char *const *extra) {
    snprintf(workdir, sizeof workdir, "/tmp/wc-http-XXXXXX");
    cr_assert_not_null(mkdtemp(workdir));
    snprintf(web_log, sizeof web_log, "%s/web.log", workdir);
    testdb_create(db_url, sizeof db_url, db_name, sizeof db_name);
    testenv_prefix(prefix, sizeof prefix);
    const char *env[40];
    int n = 0;
    env[n++] = "APP_ENV=testing";
    env[n++] = xasprintf("DATABASE_URL=%s", db_url);
    env[n++] = xasprintf("REDIS_KEY_PREFIX=%s", prefix);
    env[n++] = "PORT=0";
    env[n++] = "WEB_GRACE=5s";
    bool redis_given = false;
    for (int i = 0; extra && extra[i]; i++) {
        env[n++] = extra[i];
        if (!strncmp(extra[i], "REDIS_URL=", 10)) redis_given = true;
    }
    if (!redis_given) env[n++] = xasprintf("REDIS_URL=%s", testenv_redis_url());
    env[n] = NULL;

    char bin[4096], log[256];
    snprintf(bin, sizeof bin, "%s", testenv_bin("wordcount-migrate"));
    snprintf(log, sizeof log, "%s/migrate.log", workdir);
    const char *margv[] = {bin, "upgrade", NULL};
    pid_t m = proc_start(margv, env, log);
    int st = proc_wait_exit(m, 30000);
    cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "migrate failed: %s", log);
    snprintf(bin, sizeof bin, "%s", testenv_bin("wordcount-web"));
    const char *wargv[] = {bin, NULL};
    web_pid = proc_start(wargv, env, web_log);
    cr_assert_gt(web_pid, 0);
    char line[4096];
    cr_assert(proc_wait_log(web_log, "msg=listening", 10000, line, sizeof line), "see %s", web_log);
    port = atoi(strstr(line, "port=") + 5);
    cr_assert_gt(port, 0);
    for (int i = 0; i < n; i++)
        if (strncmp(env[i], "APP_ENV=", 8) && strncmp(env[i], "PORT=", 5) &&
            strncmp(env[i], "WEB_GRACE=", 10) && !(extra && is_extra(extra, env[i])))
            free((void *)env[i]);
    if (redis_given) return;
    /* Listening comes before Redis and Postgres are connected: wait for
     * readiness, so a test's first request does not meet a 503. */
    for (int i = 0; i < 200; i++) {
        struct raw_response r;
        memset(&r, 0, sizeof r);
        int fd = raw_connect(port);
        bool ready = fd >= 0 && raw_send_str(fd, "GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n") == 0 &&
                     raw_read(fd, &r, 2000) == 0 && r.status == 200;
        if (fd >= 0) close(fd);
        raw_response_free(&r);
        if (ready) return;
        usleep(50 * 1000);
    }
    cr_assert_fail("wordcount-web did not become ready; see %s", web_log);
}

static void
stop_web(void) {
    if (web_pid > 0) proc_stop(web_pid, SIGTERM, 10000);
    web_pid = 0;
    if (db_name[0]) testdb_drop(db_name);
    db_name[0] = '\0';
    if (getenv("KEEP_TMP") && !strcmp(getenv("KEEP_TMP"), "1")) return;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", workdir);
    if (system(cmd) != 0) cr_log_warn("could not remove %s", workdir);
}

static void
start_default(void) {
    start_web(NULL);
}

/* one sends req on a new connection and reads one response. */
static int
one(const char *req, struct raw_response *r) {
    int fd = raw_connect(port);
    cr_assert_geq(fd, 0);
    cr_assert_eq(raw_send_str(fd, req), 0);
    cr_assert_eq(raw_read(fd, r, 5000), 0, "no answer to %.60s", req);
    return fd;
}

#define expect_problem(r, status) expect_problem_at(r, status, __LINE__, -1)

static void
expect_problem_at(const struct raw_response *r, int status, int line, long index) {
    cr_assert_eq(r->status, status, "line %d case %ld: %s%s", line, index, r->head.data,
                 r->body.data);
    char ct[128];
    cr_assert(raw_header(r, "Content-Type", ct, sizeof ct));
    cr_assert_str_eq(ct, "application/problem+json");
    json_t *p = json_loads(r->body.data, 0, NULL);
    cr_assert_not_null(p, "%s", r->body.data);
    cr_assert_eq(json_integer_value(json_object_get(p, "status")), status);
    cr_assert(json_string_length(json_object_get(p, "title")) > 0);
    json_decref(p);
}

static char *
post_json(int fd, const char *path, const char *body, const char *extra_headers) {
    char *req = xasprintf("POST %s HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                          "Content-Length: %zu\r\n%s\r\n%s",
                          path, strlen(body), extra_headers ? extra_headers : "", body);
    cr_assert_eq(raw_send_str(fd, req), 0);
    free(req);
    return NULL;
}

static char *
job_id_of(const struct raw_response *r) {
    json_t *v = json_loads(r->body.data, 0, NULL);
    cr_assert_not_null(v, "%s", r->body.data);
    char *id = xstrdup(json_string_value(json_object_get(v, "id")));
    json_decref(v);
    return id;
}

Test(http, keep_alive_and_pipelining_in_order, .init = start_default, .fini = stop_web) {
    int fd = raw_connect(port);
    /* Four requests in one write: answered one by one, in order. */
    const char *reqs =
        "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
        "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n"
        "POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"
        "GET /api/v1/jobs/01a21300-0000-7000-8000-000000000000 HTTP/1.1\r\nHost: t\r\n\r\n";
    cr_assert_eq(raw_send_str(fd, reqs), 0);
    int want[] = {200, 404, 405, 404};
    for (int i = 0; i < 4; i++) {
        struct raw_response r;
        cr_assert_eq(raw_read(fd, &r, 5000), 0, "response %d", i);
        cr_assert_eq(r.status, want[i], "response %d: %s", i, r.head.data);
        if (want[i] == 405) {
            char allow[64];
            cr_assert(raw_header(&r, "Allow", allow, sizeof allow));
            cr_assert_str_eq(allow, "GET, HEAD");
        }
        raw_response_free(&r);
    }
    /* The connection is still open for more. */
    cr_assert_eq(raw_send_str(fd, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    struct raw_response r;
    cr_assert_eq(raw_read(fd, &r, 5000), 0);
    cr_assert_eq(r.status, 200);
    raw_response_free(&r);
    close(fd);
}

Test(http, http10_and_connection_close, .init = start_default, .fini = stop_web) {
    struct raw_response r;
    int fd = one("GET /healthz HTTP/1.0\r\n\r\n", &r);
    cr_assert_eq(r.status, 200);
    cr_assert(raw_closed(fd, 3000), "HTTP/1.0 without keep-alive: closed after the answer");
    raw_response_free(&r);
    close(fd);

    fd = one("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &r);
    char conn[32];
    cr_assert(raw_header(&r, "Connection", conn, sizeof conn));
    cr_assert_str_eq(conn, "keep-alive");
    raw_response_free(&r);
    cr_assert_eq(raw_send_str(fd, "GET /healthz HTTP/1.0\r\n\r\n"), 0);
    cr_assert_eq(raw_read(fd, &r, 5000), 0);
    cr_assert_eq(r.status, 200);
    raw_response_free(&r);
    close(fd);

    fd = one("GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &r);
    cr_assert(raw_header(&r, "Connection", conn, sizeof conn));
    cr_assert_str_eq(conn, "close");
    cr_assert(raw_closed(fd, 3000));
    raw_response_free(&r);
    close(fd);

    /* HEAD: the headers of GET, no body. */
    fd = raw_connect(port);
    cr_assert_eq(raw_send_str(fd, "HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    cr_assert_eq(raw_read_head(fd, &r, 5000), 0);
    cr_assert_eq(r.status, 200);
    char cl[16];
    cr_assert(raw_header(&r, "Content-Length", cl, sizeof cl));
    cr_assert_gt(atoi(cl), 0, "HEAD tells the length of the GET body");
    cr_assert_eq(raw_send_str(fd, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    raw_response_free(&r);
    cr_assert_eq(raw_read(fd, &r, 5000), 0);
    cr_assert_eq(r.status, 200, "no body bytes came after the HEAD answer");
    cr_assert_eq(r.body.len, (size_t)atoi(cl));
    raw_response_free(&r);
    close(fd);
}

Test(http, chunked_body_and_expect_continue, .init = start_default, .fini = stop_web) {
    struct raw_response r;
    int fd = one("POST /api/v1/jobs HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n"
                 "8\r\n{\"url\": \r\n1d\r\n\"http://example.com/chunked\"}\r\n0\r\n\r\n",
                 &r);
    cr_assert_eq(r.status, 202, "%s%s", r.head.data, r.body.data);
    raw_response_free(&r);
    close(fd);

    const char body[] = "{\"url\": \"http://example.com/continue\"}";
    char head[256];
    snprintf(head, sizeof head,
             "POST /api/v1/jobs HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\nExpect: 100-continue\r\n\r\n",
             sizeof body - 1);
    fd = one(head, &r);
    cr_assert_eq(r.status, 100, "the server asks for the body: %s", r.head.data);
    raw_response_free(&r);
    cr_assert_eq(raw_send_str(fd, body), 0);
    cr_assert_eq(raw_read(fd, &r, 5000), 0);
    cr_assert_eq(r.status, 202);
    raw_response_free(&r);
    close(fd);
}

/* Malformed and refused requests: each gets its status as problem+json
 * and, for a broken request, the connection is closed after the answer. */
Test(http, malformed_requests_table, .init = start_default, .fini = stop_web) {
    char big_line[10000];
    snprintf(big_line, sizeof big_line, "GET /%09000d HTTP/1.1\r\nHost: t\r\n\r\n", 0);
    char big_body[70000 + 200];
    int n = snprintf(big_body, 200,
                     "POST /api/v1/jobs HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                     "Content-Length: 70000\r\n\r\n");
    memset(big_body + n, 'a', 70000);
    big_body[n + 70000] = '\0';
    struct {
        const char *req;
        int status;
        bool closes;
    } cases[] = {
        {"BROKEN\r\n\r\n", 400, true},
        {"GET / HTTP/9.9\r\n\r\n", 505, true},
        {"GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n", 400, true},
        {"POST /api/v1/jobs HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: "
         "chunked\r\n\r\n0\r\n\r\n",
         400, true},
        {"POST /api/v1/jobs HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: "
         "6\r\n\r\nhello!",
         400, true},
        {"POST /api/v1/jobs HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400,
         true},
        {"GET /healthz HTTP/1.1\r\nHost: t\r\nExpect: 200-ok\r\n\r\n", 400, true},
        {big_line, 431, true},
        {big_body, 413, true},
        {"GET /no/such/route HTTP/1.1\r\nHost: t\r\n\r\n", 404, false},
        {"DELETE /healthz HTTP/1.1\r\nHost: t\r\n\r\n", 405, false},
        {"POST /api/v1/jobs HTTP/1.1\r\nHost: t\r\nContent-Type: text/xml\r\nContent-Length: "
         "5\r\n\r\n<a/>\n",
         415, false},
        {"POST /api/v1/jobs HTTP/1.1\r\nHost: t\r\nContent-Type: "
         "application/json\r\nContent-Length: 8\r\n\r\n{\"url\": ",
         400, false},
        {"POST /api/v1/jobs HTTP/1.1\r\nHost: t\r\nContent-Type: "
         "application/json\r\nContent-Length: 23\r\n\r\n"
         "{\"url\": \"ftp://x.org/\"}",
         422, false},
        {"GET /api/v1/jobs/not-an-id HTTP/1.1\r\nHost: t\r\n\r\n", 404, false},
        {"GET /api/v1/jobs/01a21300-0000-7000-8000-000000000000/result?top=0 HTTP/1.1\r\nHost: "
         "t\r\n\r\n",
         400, false},
        {"GET /api/v1/results HTTP/1.1\r\nHost: t\r\n\r\n", 400, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct raw_response r;
        int fd = raw_connect(port);
        cr_assert_eq(raw_send_str(fd, cases[i].req), 0);
        cr_assert_eq(raw_read(fd, &r, 5000), 0, "case %zu: no answer", i);
        expect_problem_at(&r, cases[i].status, __LINE__, (long)i);
        if (cases[i].closes) cr_assert(raw_closed(fd, 3000), "case %zu: connection left open", i);
        raw_response_free(&r);
        close(fd);
    }
    /* NUL bytes inside a header */
    const char nul[] = "GET /healthz HTTP/1.1\r\nHost: t\0x\r\n\r\n";
    int fd = raw_connect(port);
    cr_assert_eq(raw_send(fd, nul, sizeof nul - 1), 0);
    struct raw_response r;
    cr_assert_eq(raw_read(fd, &r, 5000), 0);
    expect_problem(&r, 400);
    raw_response_free(&r);
    close(fd);
    /* And the server is still fine. */
    fd = one("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", &r);
    cr_assert_eq(r.status, 200);
    raw_response_free(&r);
    close(fd);
}

Test(http, request_id_echoed_or_made, .init = start_default, .fini = stop_web) {
    struct raw_response r;
    char id[80];
    int fd = one("GET /healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: abc-123.x\r\n\r\n", &r);
    cr_assert(raw_header(&r, "X-Request-Id", id, sizeof id));
    cr_assert_str_eq(id, "abc-123.x");
    raw_response_free(&r);
    close(fd);
    fd = one("GET /healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: bad id with spaces\r\n\r\n", &r);
    cr_assert(raw_header(&r, "X-Request-Id", id, sizeof id));
    cr_assert(strlen(id) > 20 && !strchr(id, ' '), "a fresh id replaces an unusable one: %s", id);
    char id2[80];
    raw_response_free(&r);
    close(fd);
    fd = one("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", &r);
    cr_assert(raw_header(&r, "X-Request-Id", id2, sizeof id2));
    cr_assert_str_neq(id, id2, "each request gets its own id");
    raw_response_free(&r);
    close(fd);
    cr_assert(proc_wait_log(web_log, "request_id=abc-123.x", 3000, NULL, 0),
              "logged with the access line");
}

static void
start_slow_limits(void) {
    const char *env[] = {"HTTP_HEADER_TIMEOUT=1s", "HTTP_BODY_TIMEOUT=1s", "HTTP_IDLE_TIMEOUT=1s",
                         "HTTP_MAX_CONNECTIONS=3", NULL};
    start_web(env);
}

Test(http, slow_clients_are_cut_off, .init = start_slow_limits, .fini = stop_web) {
    /* Headers dribbled and never finished: 408, then closed. */
    int fd = raw_connect(port);
    cr_assert_eq(raw_send_str(fd, "GET /healthz HTTP/1.1\r\nHo"), 0);
    struct raw_response r;
    cr_assert_eq(raw_read(fd, &r, 5000), 0);
    expect_problem(&r, 408);
    cr_assert(raw_closed(fd, 3000));
    raw_response_free(&r);
    close(fd);
    /* A body that stops halfway: 408. */
    fd = raw_connect(port);
    cr_assert_eq(
        raw_send_str(fd,
                     "POST /api/v1/jobs HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                     "Content-Length: 50\r\n\r\n{\"url\""),
        0);
    cr_assert_eq(raw_read(fd, &r, 5000), 0);
    expect_problem(&r, 408);
    raw_response_free(&r);
    close(fd);
    /* An idle keep-alive connection is closed quietly. */
    fd = one("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", &r);
    raw_response_free(&r);
    cr_assert(raw_closed(fd, 4000), "idle connection closed");
    close(fd);
    /* A connection that sends nothing at all is closed too. */
    fd = raw_connect(port);
    cr_assert(raw_closed(fd, 4000));
    close(fd);
}

Test(http, connection_limit_answers_503, .init = start_slow_limits, .fini = stop_web) {
    int held[3];
    for (int i = 0; i < 3; i++) {
        held[i] = raw_connect(port);
        cr_assert_geq(held[i], 0);
    }
    /* The server accepts in order: the three come first, however late. */
    struct raw_response r;
    int fd = raw_connect(port);
    cr_assert_eq(raw_read(fd, &r, 5000), 0, "the fourth connection gets an answer");
    expect_problem(&r, 503);
    cr_assert(raw_closed(fd, 3000));
    raw_response_free(&r);
    close(fd);
    for (int i = 0; i < 3; i++) close(held[i]);
}

Test(http, idempotency_key, .init = start_default, .fini = stop_web) {
    const char *body = "{\"url\": \"http://example.com/idem\"}";
    int fd = raw_connect(port);
    post_json(fd, "/api/v1/jobs", body, "Idempotency-Key: key-1\r\n");
    struct raw_response r;
    cr_assert_eq(raw_read(fd, &r, 5000), 0);
    cr_assert_eq(r.status, 202, "%s", r.body.data);
    char *first = job_id_of(&r);
    raw_response_free(&r);
    /* The same key and body: the same job, 200. */
    post_json(fd, "/api/v1/jobs", body, "Idempotency-Key: key-1\r\n");
    cr_assert_eq(raw_read(fd, &r, 5000), 0);
    cr_assert_eq(r.status, 200, "%s", r.body.data);
    char *second = job_id_of(&r);
    cr_assert_str_eq(first, second);
    raw_response_free(&r);
    /* The same key, another body: 422, and no new job. */
    post_json(fd, "/api/v1/jobs", "{\"url\": \"http://example.com/other\"}",
              "Idempotency-Key: key-1\r\n");
    cr_assert_eq(raw_read(fd, &r, 5000), 0);
    expect_problem(&r, 422);
    raw_response_free(&r);
    /* Another key: another job (fresh: not joining the first). */
    post_json(fd, "/api/v1/jobs", "{\"url\": \"http://example.com/idem\", \"fresh\": true}",
              "Idempotency-Key: key-2\r\n");
    cr_assert_eq(raw_read(fd, &r, 5000), 0);
    cr_assert_eq(r.status, 202);
    char *third = job_id_of(&r);
    cr_assert_str_neq(first, third);
    raw_response_free(&r);
    /* An unusable key is refused. */
    char longkey[400] = "Idempotency-Key: ";
    memset(longkey + strlen(longkey), 'k', 300);
    strcat(longkey, "\r\n");
    post_json(fd, "/api/v1/jobs", body, longkey);
    cr_assert_eq(raw_read(fd, &r, 5000), 0);
    expect_problem(&r, 400);
    raw_response_free(&r);
    free(first);
    free(second);
    free(third);
    close(fd);
}

/* expect_job_error: the problem body carries error.code and a message. */
static void
expect_job_error(const struct raw_response *r, const char *code) {
    json_t *p = json_loads(r->body.data, 0, NULL);
    json_t *err = json_object_get(p, "error");
    bool ok = json_is_string(json_object_get(err, "code")) &&
              !strcmp(json_string_value(json_object_get(err, "code")), code) &&
              json_string_length(json_object_get(err, "message")) > 0;
    json_decref(p);
    cr_assert(ok, "no error {code: %s, message} in %s", code, r->body.data);
}

Test(http, compatibility_routes, .init = start_default, .fini = stop_web) {
    /* POST /start: raw JSON whatever the content type; http:// prepended. */
    struct raw_response r;
    int fd = one(
        "POST /start HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: 24\r\n\r\n"
        "{\"url\": \"example.com/a\"}",
        &r);
    cr_assert_eq(r.status, 200, "%s", r.body.data);
    cr_assert_eq(r.body.len, 36, "the body is the job id: %s", r.body.data);
    char id[40];
    snprintf(id, sizeof id, "%s", r.body.data);
    raw_response_free(&r);
    char req[256];
    snprintf(req, sizeof req, "GET /api/v1/jobs/%s HTTP/1.1\r\nHost: t\r\n\r\n", id);
    cr_assert_eq(raw_send_str(fd, req), 0);
    cr_assert_eq(raw_read(fd, &r, 5000), 0);
    json_t *job = json_loads(r.body.data, 0, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(job, "url")), "http://example.com/a");
    json_decref(job);
    raw_response_free(&r);
    /* No worker runs here: the job stays queued, so "Nay!" with 202. */
    snprintf(req, sizeof req, "GET /results/%s HTTP/1.1\r\nHost: t\r\n\r\n", id);
    cr_assert_eq(raw_send_str(fd, req), 0);
    cr_assert_eq(raw_read(fd, &r, 5000), 0);
    cr_assert_eq(r.status, 202);
    cr_assert_str_eq(r.body.data, "Nay!");
    raw_response_free(&r);
    /* Canceled: 410, a problem that carries the job's error, so the
     * original page's $http error callback runs. /api/v1 is unchanged. */
    snprintf(req, sizeof req, "DELETE /api/v1/jobs/%s HTTP/1.1\r\nHost: t\r\n\r\n", id);
    cr_assert_eq(raw_send_str(fd, req), 0);
    cr_assert_eq(raw_read(fd, &r, 5000), 0);
    cr_assert_eq(r.status, 200, "%s", r.body.data);
    raw_response_free(&r);
    snprintf(req, sizeof req, "GET /results/%s HTTP/1.1\r\nHost: t\r\n\r\n", id);
    cr_assert_eq(raw_send_str(fd, req), 0);
    cr_assert_eq(raw_read(fd, &r, 5000), 0);
    expect_problem(&r, 410);
    expect_job_error(&r, "canceled");
    raw_response_free(&r);
    snprintf(req, sizeof req, "GET /api/v1/jobs/%s HTTP/1.1\r\nHost: t\r\n\r\n", id);
    cr_assert_eq(raw_send_str(fd, req), 0);
    cr_assert_eq(raw_read(fd, &r, 5000), 0);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body.data, "\"status\":\"canceled\""), "%s", r.body.data);
    raw_response_free(&r);
    cr_assert_eq(
        raw_send_str(
            fd, "GET /results/01a21300-0000-7000-8000-000000000000 HTTP/1.1\r\nHost: t\r\n\r\n"),
        0);
    cr_assert_eq(raw_read(fd, &r, 5000), 0);
    expect_problem(&r, 404);
    raw_response_free(&r);
    cr_assert_eq(
        raw_send_str(fd, "POST /start HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\n{x}"), 0);
    cr_assert_eq(raw_read(fd, &r, 5000), 0);
    expect_problem(&r, 400);
    raw_response_free(&r);
    close(fd);
}

static void
start_limited(void) {
    const char *env[] = {"SUBMIT_RATE=1", "SUBMIT_BURST=2", "CORS_ORIGINS=http://allowed.example",
                         NULL};
    start_web(env);
}

Test(http, submit_rate_limit_and_cors, .init = start_limited, .fini = stop_web) {
    int fd = raw_connect(port);
    const char *body = "{\"url\": \"http://example.com/r\", \"fresh\": true}";
    int statuses[3];
    struct raw_response r;
    for (int i = 0; i < 3; i++) {
        post_json(fd, "/api/v1/jobs", body, NULL);
        cr_assert_eq(raw_read(fd, &r, 5000), 0);
        statuses[i] = r.status;
        if (r.status == 429) {
            char ra[16];
            cr_assert(raw_header(&r, "Retry-After", ra, sizeof ra));
            cr_assert_geq(atoi(ra), 1);
            expect_problem(&r, 429);
        }
        raw_response_free(&r);
    }
    cr_assert_eq(statuses[0], 202);
    cr_assert_eq(statuses[1], 202);
    cr_assert_eq(statuses[2], 429, "the burst is 2");
    /* Reading is not limited. */
    cr_assert_eq(raw_send_str(fd, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    cr_assert_eq(raw_read(fd, &r, 5000), 0);
    cr_assert_eq(r.status, 200);
    raw_response_free(&r);
    close(fd);

    char v[128];
    fd = one("GET /healthz HTTP/1.1\r\nHost: t\r\nOrigin: http://allowed.example\r\n\r\n", &r);
    cr_assert(raw_header(&r, "Access-Control-Allow-Origin", v, sizeof v));
    cr_assert_str_eq(v, "http://allowed.example");
    raw_response_free(&r);
    close(fd);
    fd = one("GET /healthz HTTP/1.1\r\nHost: t\r\nOrigin: http://evil.example\r\n\r\n", &r);
    cr_assert_not(raw_header(&r, "Access-Control-Allow-Origin", v, sizeof v));
    raw_response_free(&r);
    close(fd);
    fd = one("OPTIONS /api/v1/jobs HTTP/1.1\r\nHost: t\r\nOrigin: http://allowed.example\r\n"
             "Access-Control-Request-Method: POST\r\n\r\n",
             &r);
    cr_assert_eq(r.status, 204);
    cr_assert(raw_header(&r, "Access-Control-Allow-Methods", v, sizeof v));
    cr_assert(strstr(v, "POST"));
    raw_response_free(&r);
    close(fd);
}

/* --- Redis going away --- */

static int redis_port;
static pid_t redis_pid;

static void
start_redis(void) {
    char p[16], log[256];
    snprintf(p, sizeof p, "%d", redis_port);
    snprintf(log, sizeof log, "%s/redis.log", workdir);
    const char *argv[] = {
        "/usr/bin/redis-server", "--port", p,   "--bind", "127.0.0.1", "--save", "",
        "--appendonly",          "no",     NULL};
    redis_pid = proc_start(argv, NULL, log);
    cr_assert_gt(redis_pid, 0);
    cr_assert(proc_wait_log(log, "Ready to accept connections", 10000, NULL, 0), "see %s", log);
}

static void
start_without_redis(void) {
    redis_port = testenv_free_port();
    static char url[64];
    snprintf(url, sizeof url, "REDIS_URL=redis://127.0.0.1:%d/0", redis_port);
    const char *env[] = {url, NULL};
    start_web(env);
}

static void
stop_all(void) {
    if (redis_pid > 0) proc_stop(redis_pid, SIGTERM, 5000);
    redis_pid = 0;
    stop_web();
}

Test(http, redis_down_then_back, .init = start_without_redis, .fini = stop_all) {
    const char *body = "{\"url\": \"http://example.com/down\"}";
    struct raw_response r;
    int fd = raw_connect(port);
    post_json(fd, "/api/v1/jobs", body, NULL);
    cr_assert_eq(raw_read(fd, &r, 3000), 0, "an answer at once, not a hang");
    expect_problem(&r, 503);
    char ra[16];
    cr_assert(raw_header(&r, "Retry-After", ra, sizeof ra));
    raw_response_free(&r);
    cr_assert_eq(raw_send_str(fd, "GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
    cr_assert_eq(raw_read(fd, &r, 3000), 0);
    cr_assert_eq(r.status, 503);
    raw_response_free(&r);

    start_redis();
    /* The server reconnects by itself (backoff): wait for a 202. */
    int status = 0;
    for (int i = 0; i < 100 && status != 202; i++) {
        post_json(fd, "/api/v1/jobs", body, NULL);
        cr_assert_eq(raw_read(fd, &r, 3000), 0);
        status = r.status;
        raw_response_free(&r);
        if (status != 202) usleep(200 * 1000);
    }
    cr_assert_eq(status, 202, "submissions work again once Redis is back");
    close(fd);
    cr_assert(proc_alive(web_pid));
}

/* SIGTERM while a request waits on Postgres: it is answered, then the
 * server exits 0. The wait is made real by locking the results table. */
Test(http, sigterm_finishes_requests_in_flight, .init = start_default, .fini = stop_web) {
    PGconn *lock = PQconnectdb(db_url);
    cr_assert_eq(PQstatus(lock), CONNECTION_OK);
    PGresult *res = PQexec(lock, "BEGIN; LOCK TABLE results IN ACCESS EXCLUSIVE MODE");
    cr_assert_eq(PQresultStatus(res), PGRES_COMMAND_OK, "%s", PQerrorMessage(lock));
    PQclear(res);

    int fd = raw_connect(port);
    cr_assert_eq(
        raw_send_str(
            fd, "GET /results/01a21300-0000-7000-8000-000000000000 HTTP/1.1\r\nHost: t\r\n\r\n"),
        0);
    /* Wait until the web's query waits on the lock. */
    bool waiting = false;
    for (int i = 0; i < 400 && !waiting; i++) {
        res = PQexec(lock, "SELECT count(*) FROM pg_stat_activity WHERE datname ="
                           " current_database() AND wait_event_type = 'Lock'");
        waiting = PQresultStatus(res) == PGRES_TUPLES_OK && atoi(PQgetvalue(res, 0, 0)) == 1;
        PQclear(res);
        if (!waiting) usleep(25 * 1000);
    }
    cr_assert(waiting, "the request never waited on the lock; see %s", web_log);
    cr_assert_eq(kill(web_pid, SIGTERM), 0);
    cr_assert(proc_wait_log(web_log, "msg=stopping", 10000, NULL, 0), "see %s", web_log);
    /* New connections are refused while draining (the listener closes
     * right after the log line). */
    int late = 0;
    for (int i = 0; i < 200 && late >= 0; i++) {
        late = raw_connect(port);
        if (late >= 0) {
            close(late);
            usleep(25 * 1000);
        }
    }
    cr_assert_lt(late, 0, "the listener is closed");
    cr_assert(proc_alive(web_pid), "still finishing the request in flight");
    struct raw_response r;

    res = PQexec(lock, "COMMIT");
    PQclear(res);
    PQfinish(lock);
    cr_assert_eq(raw_read(fd, &r, 5000), 0, "the request in flight is answered");
    cr_assert_eq(r.status, 404);
    raw_response_free(&r);
    close(fd);
    int st = proc_wait_exit(web_pid, 10000);
    web_pid = 0;
    cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d", st);
}

static void
start_two_processes(void) {
    const char *env[] = {"WEB_CONCURRENCY=2", NULL};
    start_web(env);
}

Test(http, web_concurrency_processes_share_the_port, .init = start_two_processes,
     .fini = stop_web) {
    char line[4096];
    cr_assert(
        proc_wait_log(web_log, "msg=\"web process started\" index=1", 10000, line, sizeof line));
    int child1 = atoi(strstr(line, "pid=") + 4);
    cr_assert(
        proc_wait_log(web_log, "msg=\"web process started\" index=0", 10000, line, sizeof line));
    int child0 = atoi(strstr(line, "pid=") + 4);
    cr_assert(proc_wait_log(web_log, "role=web-1", 10000, NULL, 0));
    for (int i = 0; i < 20; i++) {
        struct raw_response r;
        int fd = one("GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &r);
        cr_assert_eq(r.status, 200);
        raw_response_free(&r);
        close(fd);
    }
    int st = proc_stop(web_pid, SIGTERM, 10000);
    web_pid = 0;
    cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d", st);
    cr_assert_not(proc_alive(child0));
    cr_assert_not(proc_alive(child1));
}

Test(http, cancel_a_queued_job, .init = start_default, .fini = stop_web) {
    int fd = raw_connect(port);
    post_json(fd, "/api/v1/jobs", "{\"url\": \"http://example.com/cancel\"}", NULL);
    struct raw_response r;
    cr_assert_eq(raw_read(fd, &r, 5000), 0);
    cr_assert_eq(r.status, 202);
    char *id = job_id_of(&r);
    raw_response_free(&r);
    char req[256];
    snprintf(req, sizeof req, "DELETE /api/v1/jobs/%s HTTP/1.1\r\nHost: t\r\n\r\n", id);
    cr_assert_eq(raw_send_str(fd, req), 0);
    cr_assert_eq(raw_read(fd, &r, 5000), 0);
    cr_assert_eq(r.status, 200, "%s", r.body.data);
    json_t *job = json_loads(r.body.data, 0, NULL);
    cr_assert_str_eq(json_string_value(json_object_get(job, "status")), "canceled");
    json_decref(job);
    raw_response_free(&r);
    /* Twice: DELETE is idempotent, the job stays canceled. */
    cr_assert_eq(raw_send_str(fd, req), 0);
    cr_assert_eq(raw_read(fd, &r, 5000), 0);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body.data, "\"status\":\"canceled\""), "%s", r.body.data);
    raw_response_free(&r);
    cr_assert_eq(
        raw_send_str(
            fd,
            "DELETE /api/v1/jobs/01a21300-0000-7000-8000-000000000000 HTTP/1.1\r\nHost: t\r\n\r\n"),
        0);
    cr_assert_eq(raw_read(fd, &r, 5000), 0);
    expect_problem(&r, 404);
    raw_response_free(&r);
    free(id);
    close(fd);
}

/* A client that hangs up while the server is still writing to it: the
 * writes fail with EPIPE or ECONNRESET, and the server lives on. */
Test(http, client_gone_mid_response, .init = start_default, .fini = stop_web) {
    for (int round = 0; round < 5; round++) {
        int fd = raw_connect(port);
        cr_assert_geq(fd, 0);
        struct buf reqs;
        buf_init(&reqs);
        for (int i = 0; i < 200; i++)
            buf_append_str(&reqs, "GET /api/v1/openapi.json HTTP/1.1\r\nHost: t\r\n\r\n");
        cr_assert_eq(raw_send(fd, reqs.data, reqs.len), 0);
        buf_free(&reqs);
        /* Mid-response: the first answer has begun, 199 are to come. */
        struct raw_response head;
        int rc = raw_read_head(fd, &head, 5000);
        raw_response_free(&head);
        cr_assert_eq(rc, 0, "no answer began");
        struct linger lg = {.l_onoff = 1, .l_linger = 0}; /* close with a reset */
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(fd);
    }
    /* The resets reach the server before this connection does. */
    struct raw_response r;
    int fd = one("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", &r);
    cr_assert_eq(r.status, 200);
    raw_response_free(&r);
    close(fd);
    cr_assert(proc_alive(web_pid), "the web server died when clients hung up (SIGPIPE?)");
}
