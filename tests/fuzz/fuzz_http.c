/* fuzz_http — libFuzzer target for the request path from bytes to
 * response: the HTTP parser (fed the input in two pieces, split where
 * the first byte says), the router on each request it yields, and the
 * serialised answer (a problem for errors, 404 and 405; the route's
 * method and path otherwise). Everything the server does before a
 * handler talks to Redis or Postgres. `make fuzz` runs it. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/buf.h"
#include "web/handlers.h"
#include "web/http_parse.h"
#include "web/response.h"
#include "web/router.h"

static void
answer(int status, const char *title, const struct http_request *req) {
    struct response r;
    response_init(&r, status);
    response_problem(&r, status, title, req ? req->path : "parse error");
    struct response_wire w = {.http_minor = req ? req->http_minor : 1,
                              .keep_alive = req && req->keep_alive,
                              .head_only = req && req->method == HTTP_HEAD};
    struct buf head;
    buf_init(&head);
    size_t body_len;
    response_serialize(&r, &w, &head, &body_len);
    buf_free(&head);
    response_free(&r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    struct http_limits lim = {.max_header_bytes = 8192, .max_body_bytes = 65536};
    struct http_parse p;
    http_parse_init(&p, &lim);
    size_t split = size > 1 ? data[0] % size : 0;
    const char *in = (const char *)data + 1;
    size_t len = size - 1, off = 0, avail = split < len ? split : len;
    int guard = 0;
    while (off < len && guard++ < 4096) {
        size_t used;
        int rc = http_parse_feed(&p, in + off, avail, &used);
        off += used;
        avail -= used;
        if (rc < 0) {
            answer(p.status, response_reason(p.status), NULL);
            break;
        }
        if (rc == HTTP_PARSE_MESSAGE) {
            struct http_request *req = http_parse_take(&p);
            struct router_match m;
            router_match(web_routes, web_nroutes, req->method_name, req->path, &m);
            (void)http_request_header(req, "Content-Type");
            answer(m.status ? m.status : 200, m.status ? "refused" : m.route->pattern, req);
            http_request_free(req);
        }
        if (avail == 0) avail = len - off; /* the second piece */
    }
    http_parse_free(&p);
    return 0;
}
