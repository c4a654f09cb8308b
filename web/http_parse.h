/* http_parse — the http_parser (2.9) glue: bytes in, one request at a time out.
 *
 * Owns: the http_parser state of one connection and the request being
 * built. The parser callbacks copy the request-target, header names and
 * values and the body into the request's own arena (struct http_request),
 * so nothing points into the caller's read buffer (STYLE rule 6), and
 * enforce the limits: header bytes (request-target + names + values)
 * above max_header_bytes or more than HTTP_MAX_HEADERS headers -> 431,
 * a body (Content-Length or chunked) above max_body_bytes (or, for a
 * POST to bulk_path, max_bulk_body_bytes) -> 413,
 * anything the parser rejects (bad request line, NUL bytes, both
 * Content-Length and Transfer-Encoding, duplicate Content-Length) -> 400.
 *
 * After a complete message the parser pauses, so pipelined requests are
 * handed out one by one and in order: http_parse_feed returns
 * HTTP_PARSE_MESSAGE with the bytes it consumed, the caller takes the
 * request with http_parse_take (and owns it: http_request_free), and
 * feeds the remaining bytes later. */
#ifndef WC_HTTP_PARSE_H
#define WC_HTTP_PARSE_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

#define HTTP_MAX_HEADERS 64

struct http_header {
    const char *name; /* as sent (compare case-insensitively) */
    const char *value;
};

/* One parsed request. Every string is NUL-terminated and lives in arena. */
struct http_request {
    enum http_method method;
    const char *method_name; /* "GET", ... */
    const char *target;      /* the request-target as sent */
    const char *path;        /* target up to '?' (not decoded) */
    const char *query;       /* after '?', "" when none */
    unsigned short http_major, http_minor;
    bool keep_alive; /* per HTTP version and Connection header */
    bool expect_continue;
    size_t nheaders;
    struct http_header *headers; /* nheaders of them (private: http_request_header) */
    const char *body;            /* NUL-terminated; body_len bytes (may hold NULs) */
    size_t body_len;
    struct buf arena; /* private */
    struct buf body_buf;
};

struct http_limits {
    size_t max_header_bytes;
    size_t max_body_bytes;
    /* The one route that takes larger bodies (POST, exact path), or NULL. */
    const char *bulk_path;
    size_t max_bulk_body_bytes;
};

enum { HTTP_PARSE_MORE = 0, HTTP_PARSE_MESSAGE = 1 };

/* Offsets into the arena while it may still move; turned into pointers
 * when the message is complete. */
struct http_parse_hdr {
    size_t name_off, value_off;
};

struct http_parse {
    http_parser parser;
    struct http_limits limits;
    struct http_request *req; /* being built, or complete and not yet taken */
    /* HTTP_MAX_HEADERS of them while a head arrives, else NULL: a conn
     * that waits (a long-poll, an event stream) keeps no parse space. */
    struct http_parse_hdr *offs;
    size_t url_off;
    size_t header_bytes;
    int last; /* 0 none, 1 url, 2 field, 3 value: what the arena ends with */
    bool complete;
    bool continue_sent;
    size_t body_limit; /* this request's: max_body_bytes or max_bulk_body_bytes */
    int status;        /* after an error: 400, 413 or 431 */
    const char *error; /* after an error: a short reason */
};

/* http_parse_init prepares p for a connection; limits are copied. */
void http_parse_init(struct http_parse *p, const struct http_limits *limits);
/* http_parse_free releases the request being built, if any. */
void http_parse_free(struct http_parse *p);
/* http_parse_feed parses up to len bytes and sets *used to the bytes
 * consumed. Returns HTTP_PARSE_MORE (all consumed, no complete message
 * yet), HTTP_PARSE_MESSAGE (a request is ready for http_parse_take; the
 * rest of data is for the next call), or UV_EPROTO with p->status and
 * p->error set (the connection cannot go on). len == 0 means EOF. */
int http_parse_feed(struct http_parse *p, const char *data, size_t len, size_t *used);
/* http_parse_take hands over the complete request (the caller frees it). */
struct http_request *http_parse_take(struct http_parse *p);
/* http_parse_in_body: its headers are complete and its body is arriving. */
bool http_parse_in_body(const struct http_parse *p);
/* http_parse_started tells whether part of a request has arrived. */
bool http_parse_started(const struct http_parse *p);
/* http_parse_wants_continue is true once per request whose headers asked
 * for "Expect: 100-continue" and whose body has not arrived yet. */
bool http_parse_wants_continue(struct http_parse *p);

/* http_request_header returns the first value of header name, or NULL. */
const char *http_request_header(const struct http_request *r, const char *name);
void http_request_free(struct http_request *r);

#endif
