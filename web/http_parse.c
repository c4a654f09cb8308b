/* http_parse.c — http_parser callbacks that copy a request into its arena.
 * See http_parse.h for the limits and the pause-per-message rule. */
#include "web/http_parse.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#include "common/xalloc.h"

enum { LAST_NONE, LAST_URL, LAST_FIELD, LAST_VALUE };

static struct http_parse *
owner(http_parser *hp) {
    return hp->data;
}

/* fail records why the request is refused; returning nonzero from a
 * callback makes http_parser stop with HPE_CB_*. */
static int
fail(struct http_parse *p, int status, const char *why) {
    if (!p->status) {
        p->status = status;
        p->error = why;
    }
    return -1;
}

static int
count_header_bytes(struct http_parse *p, size_t len) {
    p->header_bytes += len;
    if (p->header_bytes > p->limits.max_header_bytes)
        return fail(p, 431, "request header fields too large");
    return 0;
}

static void
terminate(struct http_parse *p) {
    buf_append_char(&p->req->arena, '\0');
}

static int
on_message_begin(http_parser *hp) {
    struct http_parse *p = owner(hp);
    assert(!p->req);
    p->req = xcalloc(1, sizeof *p->req);
    if (!p->offs) p->offs = xcalloc(HTTP_MAX_HEADERS, sizeof *p->offs);
    buf_init(&p->req->arena);
    buf_init(&p->req->body_buf);
    p->header_bytes = 0;
    p->last = LAST_NONE;
    p->continue_sent = false;
    return 0;
}

static int
on_url(http_parser *hp, const char *at, size_t len) {
    struct http_parse *p = owner(hp);
    if (count_header_bytes(p, len) < 0) return -1;
    if (p->last != LAST_URL) {
        p->url_off = p->req->arena.len;
        p->last = LAST_URL;
    }
    buf_append(&p->req->arena, at, len);
    return 0;
}

static int
on_header_field(http_parser *hp, const char *at, size_t len) {
    struct http_parse *p = owner(hp);
    struct http_request *r = p->req;
    if (count_header_bytes(p, len) < 0) return -1;
    if (r->method_name) return 0; /* a trailer after a chunked body: counted, not kept */
    if (p->last != LAST_FIELD) {
        if (p->last == LAST_URL || p->last == LAST_VALUE) terminate(p);
        if (r->nheaders == HTTP_MAX_HEADERS) return fail(p, 431, "too many header fields");
        p->offs[r->nheaders++].name_off = r->arena.len;
        p->last = LAST_FIELD;
    }
    buf_append(&r->arena, at, len);
    return 0;
}

static int
on_header_value(http_parser *hp, const char *at, size_t len) {
    struct http_parse *p = owner(hp);
    struct http_request *r = p->req;
    if (count_header_bytes(p, len) < 0) return -1;
    if (r->method_name) return 0; /* trailer: the arena must not move after the head */
    if (p->last == LAST_FIELD) {
        terminate(p);
        p->offs[r->nheaders - 1].value_off = r->arena.len;
        p->last = LAST_VALUE;
    }
    buf_append(&r->arena, at, len);
    return 0;
}

/* finish_head closes the last string and turns offsets into pointers; the
 * arena does not grow after this (the body has its own buffer). */
static void
finish_head(struct http_parse *p) {
    struct http_request *r = p->req;
    if (p->last == LAST_FIELD) {
        /* A header with an empty value may come without a value callback. */
        terminate(p);
        p->offs[r->nheaders - 1].value_off = r->arena.len;
    }
    if (p->last != LAST_NONE) terminate(p);
    if (p->last == LAST_NONE) { /* no target at all: cannot happen, but stay defined */
        p->url_off = r->arena.len;
        terminate(p);
    }
    /* Path and query are copied from the target inside the same arena:
     * reserve first, so the appends below cannot move the source. */
    size_t target_len = strlen(r->arena.data + p->url_off);
    buf_reserve(&r->arena, 2 * target_len + 2);
    const char *target = r->arena.data + p->url_off;
    size_t path_len = strcspn(target, "?#");
    size_t path_off = r->arena.len;
    buf_append(&r->arena, target, path_len);
    terminate(p);
    size_t query_off = r->arena.len;
    if (target[path_len] == '?') {
        const char *q = target + path_len + 1;
        buf_append(&r->arena, q, strcspn(q, "#"));
    }
    terminate(p);

    /* The request may be kept long (a long-poll): it keeps what it uses. */
    buf_shrink(&r->arena);
    const char *base = r->arena.data;
    r->target = base + p->url_off;
    r->path = base + path_off;
    r->query = base + query_off;
    r->headers = xcalloc(r->nheaders ? r->nheaders : 1, sizeof *r->headers);
    for (size_t i = 0; i < r->nheaders; i++) {
        r->headers[i].name = base + p->offs[i].name_off;
        r->headers[i].value = base + p->offs[i].value_off;
    }
    free(p->offs);
    p->offs = NULL;
}

static int
on_headers_complete(http_parser *hp) {
    struct http_parse *p = owner(hp);
    struct http_request *r = p->req;
    finish_head(p);
    r->method = hp->method;
    r->method_name = http_method_str(hp->method);
    r->http_major = hp->http_major;
    r->http_minor = hp->http_minor;
    if (hp->http_major != 1) return fail(p, 505, "only HTTP/1.0 and HTTP/1.1 are spoken here");
    p->body_limit = p->limits.max_body_bytes;
    if (p->limits.bulk_path && hp->method == HTTP_POST && !strcmp(r->path, p->limits.bulk_path))
        p->body_limit = p->limits.max_bulk_body_bytes;
    if ((hp->flags & F_CONTENTLENGTH) && hp->content_length > p->body_limit)
        return fail(p, 413, "request body too large");
    const char *expect = http_request_header(r, "Expect");
    if (expect) {
        if (strcasecmp(expect, "100-continue") != 0)
            return fail(p, 400, "unsupported Expect header");
        r->expect_continue = hp->http_major == 1 && hp->http_minor >= 1;
    }
    return 0;
}

static int
on_body(http_parser *hp, const char *at, size_t len) {
    struct http_parse *p = owner(hp);
    struct http_request *r = p->req;
    if (r->body_buf.len + len > p->body_limit) return fail(p, 413, "request body too large");
    buf_append(&r->body_buf, at, len);
    return 0;
}

static int
on_message_complete(http_parser *hp) {
    struct http_parse *p = owner(hp);
    struct http_request *r = p->req;
    r->keep_alive = http_should_keep_alive(hp) && !hp->upgrade;
    if (!r->body_buf.data) buf_append(&r->body_buf, "", 0);
    r->body = r->body_buf.data;
    r->body_len = r->body_buf.len;
    p->complete = true;
    /* One message at a time: the caller answers it before the next one. */
    http_parser_pause(hp, 1);
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void
http_parse_init(struct http_parse *p, const struct http_limits *limits) {
    memset(p, 0, sizeof *p);
    http_parser_init(&p->parser, HTTP_REQUEST);
    p->parser.data = p;
    p->limits = *limits;
}

void
http_parse_free(struct http_parse *p) {
    if (p->req) http_request_free(p->req);
    p->req = NULL;
    free(p->offs);
    p->offs = NULL;
}

int
http_parse_feed(struct http_parse *p, const char *data, size_t len, size_t *used) {
    assert(!p->complete);
    *used = 0;
    if (p->status) return UV_EPROTO;
    if (HTTP_PARSER_ERRNO(&p->parser) == HPE_PAUSED) http_parser_pause(&p->parser, 0);
    size_t n = http_parser_execute(&p->parser, &settings, data, len);
    *used = n;
    if (p->complete) return HTTP_PARSE_MESSAGE;
    enum http_errno e = HTTP_PARSER_ERRNO(&p->parser);
    if (e != HPE_OK) {
        if (e == HPE_HEADER_OVERFLOW) fail(p, 431, "request header fields too large");
        else fail(p, 400, http_errno_description(e));
        return UV_EPROTO;
    }
    if (n != len) {
        /* http_parser stops short only for protocol upgrades (CONNECT). */
        fail(p, 400, "protocol upgrade not supported");
        return UV_EPROTO;
    }
    return HTTP_PARSE_MORE;
}

struct http_request *
http_parse_take(struct http_parse *p) {
    assert(p->complete);
    struct http_request *r = p->req;
    p->req = NULL;
    p->complete = false;
    return r;
}

bool
http_parse_started(const struct http_parse *p) {
    return p->req != NULL && !p->complete;
}

bool
http_parse_in_body(const struct http_parse *p) {
    return p->req != NULL && !p->complete && p->req->method_name != NULL;
}

bool
http_parse_wants_continue(struct http_parse *p) {
    if (!p->req || p->complete || !p->req->expect_continue || p->continue_sent) return false;
    if (!p->req->method_name || p->req->body_buf.len > 0)
        return false; /* headers not done, or body on its way */
    p->continue_sent = true;
    return true;
}

const char *
http_request_header(const struct http_request *r, const char *name) {
    for (size_t i = 0; i < r->nheaders; i++)
        if (!strcasecmp(r->headers[i].name, name)) return r->headers[i].value;
    return NULL;
}

void
http_request_free(struct http_request *r) {
    if (!r) return;
    buf_free(&r->arena);
    buf_free(&r->body_buf);
    free(r->headers);
    free(r);
}
