/* The HTTP request parser glue: limits, errors, pipelining, and the same
 * answer whatever the split of the bytes. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "web/http_parse.h"

static const struct http_limits LIMITS = {.max_header_bytes = 1024, .max_body_bytes = 64};

/* parse_all feeds data in pieces of chunk bytes and collects up to max
 * requests; returns how many, or the negative error (status in *status). */
static int
parse_all(const char *data, size_t len, size_t chunk, struct http_request **out, int max,
          int *status) {
    struct http_parse p;
    http_parse_init(&p, &LIMITS);
    int n = 0;
    size_t off = 0, avail = 0;
    /* The caller's buffer grows by chunk bytes at a time; unconsumed
     * bytes (after a complete message) are fed again, as conn.c does. */
    while (off < len) {
        avail = avail + chunk > len - off ? len - off : avail + chunk;
        size_t used;
        int rc = http_parse_feed(&p, data + off, avail, &used);
        if (rc < 0) {
            *status = p.status;
            http_parse_free(&p);
            return rc;
        }
        off += used;
        avail -= used;
        if (rc == HTTP_PARSE_MESSAGE) {
            cr_assert_lt(n, max);
            out[n++] = http_parse_take(&p);
        }
    }
    http_parse_free(&p);
    return n;
}

static const char TWO[] = "POST /api/v1/jobs?x=1 HTTP/1.1\r\n"
                          "Host: a\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n"
                          "{\"url\":\"u\"}"
                          "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";

Test(http_parse, pipelined_requests_any_split) {
    for (size_t chunk = 1; chunk <= sizeof TWO; chunk++) {
        struct http_request *r[4];
        int status = 0;
        int n = parse_all(TWO, sizeof TWO - 1, chunk, r, 4, &status);
        cr_assert_eq(n, 2, "chunk %zu: %d (status %d)", chunk, n, status);
        cr_assert_str_eq(r[0]->method_name, "POST");
        cr_assert_str_eq(r[0]->path, "/api/v1/jobs");
        cr_assert_str_eq(r[0]->query, "x=1");
        cr_assert_eq(r[0]->body_len, 11);
        cr_assert_str_eq(r[0]->body, "{\"url\":\"u\"}");
        cr_assert_str_eq(http_request_header(r[0], "content-type"), "application/json");
        cr_assert(r[0]->keep_alive);
        cr_assert_str_eq(r[1]->path, "/healthz");
        cr_assert_str_eq(r[1]->query, "");
        cr_assert_not(r[1]->keep_alive);
        http_request_free(r[0]);
        http_request_free(r[1]);
    }
}

static int
status_of(const char *req) {
    struct http_request *r[2];
    int status = 0;
    int n = parse_all(req, strlen(req), strlen(req), r, 2, &status);
    for (int i = 0; i < n; i++) http_request_free(r[i]);
    return n < 0 ? status : 0;
}

Test(http_parse, bad_requests) {
    cr_assert_eq(status_of("GARBAGE\r\n\r\n"), 400);
    cr_assert_eq(status_of("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"),
                 400);
    cr_assert_eq(status_of("POST / HTTP/1.1\r\nContent-Length: 65\r\n\r\n"), 413);
    cr_assert_eq(
        status_of("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "41\r\n"
                  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n0\r\n\r\n"),
        413);
    char big[2048];
    snprintf(big, sizeof big, "GET /%01500d HTTP/1.1\r\n\r\n", 0);
    cr_assert_eq(status_of(big), 431);
    cr_assert_eq(status_of("GET / HTTP/1.1\r\nExpect: something\r\n\r\n"), 400);
}

Test(http_parse, too_many_headers) {
    char req[4096] = "GET / HTTP/1.1\r\n";
    for (int i = 0; i < HTTP_MAX_HEADERS + 1; i++) strcat(req, "X: y\r\n");
    strcat(req, "\r\n");
    struct http_limits big = {.max_header_bytes = 8192, .max_body_bytes = 64};
    struct http_parse p;
    http_parse_init(&p, &big);
    size_t used;
    cr_assert_lt(http_parse_feed(&p, req, strlen(req), &used), 0);
    cr_assert_eq(p.status, 431);
    http_parse_free(&p);
}

Test(http_parse, chunked_body_joined) {
    const char req[] = "POST /start HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    for (size_t chunk = 1; chunk < sizeof req; chunk++) {
        struct http_request *r[1];
        int status = 0;
        cr_assert_eq(parse_all(req, sizeof req - 1, chunk, r, 1, &status), 1);
        cr_assert_str_eq(r[0]->body, "abcde");
        http_request_free(r[0]);
    }
}

/* Found by the fuzzer: trailer fields after a chunked body used to grow
 * the arena the request's strings point into. */
Test(http_parse, chunked_trailers_leave_the_request_intact) {
    const char req[] =
        "POST /start HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nhello\r\n0\r\nX-Trailer: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    struct http_request *r[1];
    int status = 0;
    cr_assert_eq(parse_all(req, sizeof req - 1, sizeof req, r, 1, &status), 1);
    cr_assert_str_eq(r[0]->path, "/start");
    cr_assert_str_eq(r[0]->body, "hello");
    cr_assert_null(http_request_header(r[0], "X-Trailer"));
    http_request_free(r[0]);
}
