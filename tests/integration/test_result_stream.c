/* GET /api/v1/jobs/{id}/result of a large result: the count maps are
 * streamed from Postgres in pieces (web/result_stream.h), the answer is
 * the same JSON a client always got; fields= and counts=false pick
 * members; HTTP/1.0, HEAD, pipelining and a client that leaves mid-body
 * are served as HTTP says. The real web, worker, Redis and Postgres. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "tests/lib/http_client.h"
#include "tests/lib/raw_http.h"
#include "tests/lib/testdb.h"
#include "tests/lib/wcsys.h"

/* Distinct words on the page: their counts are far larger than a piece
 * (RESULT_STREAM_PIECE, 32 KiB). */
#define NWORDS 30000

static struct wcsys sys;
static char job[40];

static void
start(void) {
    wcsys_init(&sys, NULL);
    struct buf b;
    buf_init(&b);
    buf_append_str(&b, "<html><body><p>");
    for (int i = 0; i < NWORDS; i++) buf_printf(&b, "w%05dx ", i);
    buf_append_str(&b, "the the the zebra zebra</p></body></html>");
    wcsys_write_page(&sys, "big.html", b.data);
    buf_free(&b);
    wcsys_start_web(&sys);
    wcsys_start_worker(&sys, NULL);
    char url[160];
    char *id = wcsys_submit(&sys, wcsys_page_url(&sys, "/big.html", url, sizeof url));
    snprintf(job, sizeof job, "%s", id);
    free(id);
    json_t *j = wcsys_keep_json(&sys, wcsys_wait_status(&sys, job, "finished,failed", 60000));
    cr_assert_str_eq(wcsys_status(j), "finished", "%s", json_dumps(j, 0));
}

static void
stop(void) {
    wcsys_free(&sys);
}

TestSuite(result_stream, .init = start, .fini = stop, .timeout = 120);

static int
web_port(void) {
    return atoi(strrchr(sys.base, ':') + 1);
}

/* get_result returns the parsed answer to GET path (200 expected) and
 * copies its Transfer-Encoding header (empty when absent). */
static json_t *
get_result(const char *query, char *te, size_t n) {
    char url[512];
    snprintf(url, sizeof url, "%s/api/v1/jobs/%s/result%s", sys.base, job, query);
    struct http_response r;
    cr_assert_eq(http_request("GET", url, NULL, NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200, "%s: %ld %.300s", query, r.status, r.body.data);
    if (te && http_header(&r, "Transfer-Encoding", te, n) < 0) te[0] = '\0';
    json_error_t err;
    json_t *v = json_loads(r.body.data, 0, &err);
    cr_assert_not_null(v, "%s: not JSON (%s at %d): %.200s", query, err.text, err.position,
                       r.body.data);
    http_response_free(&r);
    return wcsys_keep_json(&sys, v);
}

static void
expect_members(const json_t *v, const char *const *want, size_t n) {
    cr_assert_eq(json_object_size(v), n, "%zu members, not %zu", json_object_size(v), n);
    for (size_t i = 0; i < n; i++) cr_assert(json_object_get(v, want[i]), "no %s", want[i]);
}

Test(result_stream, counts_are_streamed_whole) {
    char te[64];
    json_t *v = get_result("?top=3", te, sizeof te);
    cr_assert_str_eq(te, "chunked", "the counts were not streamed");
    json_t *all = json_object_get(v, "counts"), *ns = json_object_get(v, "counts_no_stop_words");
    cr_assert_eq(json_object_size(all), NWORDS + 2);
    cr_assert_eq(json_object_size(ns), NWORDS + 1, "without 'the'");
    cr_assert_eq(json_integer_value(json_object_get(all, "the")), 3);
    cr_assert_eq(json_integer_value(json_object_get(all, "w29999x")), 1);
    cr_assert_null(json_object_get(ns, "the"));
    cr_assert_eq(json_integer_value(json_object_get(v, "total_words")), NWORDS + 5);
    cr_assert_eq(json_integer_value(json_object_get(v, "unique_words")), NWORDS + 2);
    json_t *top = json_object_get(v, "top");
    cr_assert_eq(json_array_size(top), 3);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(top, 0), "word")), "zebra");
    cr_assert(json_is_object(json_object_get(v, "fetch")));
    cr_assert_str_eq(json_string_value(json_object_get(v, "job_id")), job);
    cr_assert(json_is_string(json_object_get(v, "created_at")));
}

Test(result_stream, fields_and_counts_false_pick_members) {
    char te[64];
    json_t *v = get_result("?counts=false", te, sizeof te);
    cr_assert_str_eq(te, "", "a small answer has a Content-Length");
    const char *small[] = {"job_id",
                           "url",
                           "normalized_url",
                           "total_words",
                           "unique_words",
                           "total_words_no_stop",
                           "unique_words_no_stop",
                           "top",
                           "fetch",
                           "created_at"};
    expect_members(v, small, sizeof small / sizeof *small);
    v = get_result("?fields=total_words,top&top=2", NULL, 0);
    const char *two[] = {"total_words", "top"};
    expect_members(v, two, 2);
    cr_assert_eq(json_array_size(json_object_get(v, "top")), 2);
    v = get_result("?fields=counts_no_stop_words", NULL, 0);
    const char *one[] = {"counts_no_stop_words"};
    expect_members(v, one, 1);
    cr_assert_eq(json_object_size(json_object_get(v, "counts_no_stop_words")), NWORDS + 1);
    v = get_result("?fields=counts,unique_words&counts=false", NULL, 0);
    const char *u[] = {"unique_words"};
    expect_members(v, u, 1);
    v = get_result("?fields=counts,counts_no_stop_words", NULL, 0);
    const char *maps[] = {"counts", "counts_no_stop_words"};
    expect_members(v, maps, 2);

    /* Bad values are 400 problems that say what is wrong. */
    const char *bad[] = {"?fields=counts,bogus", "?fields=", "?fields=,",
                         "?counts=maybe",        "?counts=", "?fields=COUNTS"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char path[256];
        snprintf(path, sizeof path, "/api/v1/jobs/%s/result%s", job, bad[i]);
        long status;
        json_t *p = wcsys_keep_json(&sys, wcsys_http(&sys, "GET", path, NULL, &status));
        cr_assert_eq(status, 400, "%s: %ld", bad[i], status);
        cr_assert(json_is_string(json_object_get(p, "detail")), "%s", bad[i]);
    }
}

/* read_all reads fd until the server closes it (or timeout_ms of silence). */
static void
read_all(int fd, struct buf *out, int timeout_ms) {
    char chunk[65536];
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, timeout_ms) <= 0) break;
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n <= 0) break;
        buf_append(out, chunk, (size_t)n);
    }
}

Test(result_stream, http10_head_and_pipelining) {
    char req[512];
    /* HTTP/1.0: no chunks; the body ends with the connection. */
    int fd = raw_connect(web_port());
    cr_assert_geq(fd, 0);
    snprintf(req, sizeof req, "GET /api/v1/jobs/%s/result HTTP/1.0\r\n\r\n", job);
    cr_assert_eq(raw_send_str(fd, req), 0);
    struct buf all;
    buf_init(&all);
    read_all(fd, &all, 10000);
    close(fd);
    char *body = strstr(all.data, "\r\n\r\n");
    cr_assert_not_null(body);
    *body = '\0';
    bool chunked = strstr(all.data, "chunked") != NULL;
    bool close_hdr = strstr(all.data, "Connection: close") != NULL;
    json_t *v = json_loads(body + 4, 0, NULL);
    buf_free(&all);
    cr_assert_not(chunked, "chunked to an HTTP/1.0 client");
    cr_assert(close_hdr);
    cr_assert_not_null(v, "the HTTP/1.0 body is not whole JSON");
    cr_assert_eq(json_object_size(json_object_get(v, "counts")), NWORDS + 2);
    json_decref(v);

    /* HEAD: the head only, and the connection goes on. Then two GETs
     * pipelined on it: both answered, in order. */
    fd = raw_connect(web_port());
    cr_assert_geq(fd, 0);
    snprintf(req, sizeof req, "HEAD /api/v1/jobs/%s/result HTTP/1.1\r\nHost: x\r\n\r\n", job);
    cr_assert_eq(raw_send_str(fd, req), 0);
    struct raw_response r;
    cr_assert_eq(raw_read_head(fd, &r, 10000), 0);
    cr_assert_eq(r.status, 200);
    raw_response_free(&r);
    snprintf(req, sizeof req,
             "GET /api/v1/jobs/%s/result?fields=counts HTTP/1.1\r\nHost: x\r\n\r\n"
             "GET /api/v1/jobs/%s/result?counts=false HTTP/1.1\r\nHost: x\r\n"
             "Connection: close\r\n\r\n",
             job, job);
    cr_assert_eq(raw_send_str(fd, req), 0);
    buf_init(&all);
    read_all(fd, &all, 10000);
    close(fd);
    /* The first answer is chunked, ends with its last chunk, and the
     * second (a Content-Length one) follows it. */
    char *end = strstr(all.data, "\r\n0\r\n\r\n");
    bool first_ended = end != NULL;
    bool second = first_ended && strncmp(end + 7, "HTTP/1.1 200", 12) == 0;
    bool has_top = first_ended && strstr(end, "\"top\"") != NULL;
    buf_free(&all);
    cr_assert(first_ended, "the streamed answer has no last chunk");
    cr_assert(second && has_top, "the pipelined second answer did not follow");
}

Test(result_stream, a_client_that_leaves_mid_body) {
    for (int round = 0; round < 5; round++) {
        int fd = raw_connect(web_port());
        cr_assert_geq(fd, 0);
        char req[256];
        snprintf(req, sizeof req, "GET /api/v1/jobs/%s/result HTTP/1.1\r\nHost: x\r\n\r\n", job);
        cr_assert_eq(raw_send_str(fd, req), 0);
        char some[4096];
        struct pollfd p = {.fd = fd, .events = POLLIN};
        cr_assert_gt(poll(&p, 1, 10000), 0);
        cr_assert_gt(read(fd, some, sizeof some), 0);
        close(fd); /* gone with most of the body unread */
    }
    cr_assert(wcsys_log_find(sys.web_log, "client=gone", NULL, 20000, NULL, 0),
              "the server did not notice the client leave");
    /* The web process goes on serving, streams included. */
    json_t *v = get_result("", NULL, 0);
    cr_assert_eq(json_object_size(json_object_get(v, "counts")), NWORDS + 2);
}

/* hog_connect connects as a slow client whose answer stalls after a few
 * KB when it does not read: a receive buffer of a few KB, and a small
 * MSS. The MSS matters on loopback: the server sizes its send buffer from
 * the peer's MSS (about twenty segments), and loopback's 64 KB segments
 * would let a whole answer of a MB sit in the kernel, the stream done. */
static int
hog_connect(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    int small = 4096, mss = 536;
    cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
    cr_assert_eq(setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof mss), 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)web_port())};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

/* Result streams hold their cursors on connections of their own
 * (web/stream_pool.h): with every one held by readers that do not read,
 * another reader waits in line (no 503), while /healthz, /readyz, a job
 * poll and a result without counts (Postgres, on the web's own
 * connection) are answered. When the readers leave, the one in line gets
 * its answer, whole. */
Test(result_stream, streams_wait_in_line_without_starving_other_routes) {
    enum { HOGS = 8 }; /* STREAM_POOL_CONNS x STREAM_POOL_PER_CONN */
    int hogs[HOGS];
    char req[256];
    snprintf(req, sizeof req, "GET /api/v1/jobs/%s/result HTTP/1.1\r\nHost: x\r\n\r\n", job);
    for (int i = 0; i < HOGS; i++) {
        hogs[i] = hog_connect();
        cr_assert_eq(raw_send_str(hogs[i], req), 0);
        /* The head comes once the stream's cursor is declared. */
        struct raw_response r;
        cr_assert_eq(raw_read_head(hogs[i], &r, 30000), 0, "reader %d got no head", i);
        cr_assert_eq(r.status, 200);
        raw_response_free(&r);
    }
    int fd = raw_connect(web_port());
    cr_assert_geq(fd, 0);
    snprintf(req, sizeof req,
             "GET /api/v1/jobs/%s/result HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", job);
    cr_assert_eq(raw_send_str(fd, req), 0);
    cr_assert(wcsys_log_find(sys.web_log, "msg=\"result stream waiting for a connection\"", job,
                             30000, NULL, 0),
              "the ninth reader did not wait in line");
    const char *others[] = {"/healthz", "/readyz", NULL, NULL};
    char poll_path[128], small_path[160];
    snprintf(poll_path, sizeof poll_path, "/api/v1/jobs/%s", job);
    snprintf(small_path, sizeof small_path, "/api/v1/jobs/%s/result?counts=false", job);
    others[2] = poll_path;
    others[3] = small_path;
    for (size_t i = 0; i < sizeof others / sizeof *others; i++) {
        long status;
        json_decref(wcsys_http(&sys, "GET", others[i], NULL, &status));
        cr_assert_eq(status, 200, "%s: %ld while the streams were held", others[i], status);
    }
    struct pollfd p = {.fd = fd, .events = POLLIN};
    cr_assert_eq(poll(&p, 1, 0), 0, "the reader in line was answered while none was free");
    for (int i = 0; i < HOGS; i++) close(hogs[i]);
    struct buf all;
    buf_init(&all);
    read_all(fd, &all, 60000);
    close(fd);
    bool ok = all.len > 12 && strncmp(all.data, "HTTP/1.1 200", 12) == 0;
    char *body = strstr(all.data ? all.data : "", "\r\n\r\n");
    /* Chunked: the JSON is whole when its last chunk came. */
    bool whole = body && strstr(body, "\r\n0\r\n\r\n") != NULL;
    buf_free(&all);
    cr_assert(ok, "the reader in line got no 200");
    cr_assert(whole, "the reader in line got a cut-off answer");
}

/* stream_backends: the web's stream connections to the test's database,
 * as pg_stat_activity lists them (asked from another database of the
 * server, which takes connections throughout). */
static int
stream_backends(const char *what) {
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT %s FROM pg_stat_activity WHERE datname = '%s' AND application_name = "
             "'wordcount pg-web-stream'",
             what, sys.db_name);
    char *v = testdb_query_value(sys.admin_url, sql);
    cr_assert_not_null(v, "%s", sql);
    int n = atoi(v);
    free(v);
    return n;
}

/* allow_connections opens or closes the test's database to new ones. */
static void
allow_connections(bool on) {
    char sql[256];
    snprintf(sql, sizeof sql, "ALTER DATABASE \"%s\" ALLOW_CONNECTIONS %s", sys.db_name,
             on ? "true" : "false");
    cr_assert_eq(testdb_exec_at(sys.admin_url, sql), 0);
}

/* A result whose cursor cannot be declared (the stream connections lost,
 * and the database taking no new ones) is a whole 503 with Retry-After,
 * never a 200 cut off after its headers. Once the database takes
 * connections again, the next read is whole at once: the stream
 * connection tries again without waiting out its reconnect backoff. The
 * test works from another database of the server (ALLOW_CONNECTIONS
 * false holds for every role, superusers too, and cannot be set from
 * inside the database); the web's own connection stays. */
Test(result_stream, a_cursor_that_cannot_be_declared_is_a_whole_503) {
    cr_assert_eq(stream_backends("count(*)"), 2, "the web's stream connections, named");
    allow_connections(false);
    cr_assert_eq(stream_backends("count(pg_terminate_backend(pid))"), 2);
    long long until = wcsys_now_ms() + 30000;
    while (stream_backends("count(*)") > 0) {
        cr_assert_lt(wcsys_now_ms(), until, "the stream connections never ended");
        usleep(20 * 1000);
    }
    char url[512];
    snprintf(url, sizeof url, "%s/api/v1/jobs/%s/result", sys.base, job);
    struct http_response r;
    cr_assert_eq(http_request("GET", url, NULL, NULL, NULL, &r), 0);
    char retry[32] = "";
    bool has_retry = http_header(&r, "Retry-After", retry, sizeof retry) == 0;
    json_t *v = json_loads(r.body.data ? r.body.data : "", 0, NULL);
    long status = r.status;
    http_response_free(&r);
    cr_assert_eq(status, 503, "a result that cannot be read: %ld", status);
    cr_assert(has_retry && atoi(retry) > 0, "no Retry-After");
    cr_assert_str_eq(json_string_value(json_object_get(v, "title")) ?: "", "Postgres Unavailable",
                     "not a whole problem document");
    json_decref(v);
    cr_assert(wcsys_log_find(sys.web_log, "msg=\"result not read\"", job, 10000, NULL, 0));

    allow_connections(true);
    json_t *back = get_result("", NULL, 0);
    cr_assert_gt(json_object_size(json_object_get(back, "counts")), NWORDS - 1);
}
