/* response.c — status line, headers and body of one response. */
#include "web/response.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/json.h"

void
response_init(struct response *r, int status) {
    r->status = status;
    buf_init(&r->headers);
    buf_init(&r->body);
    r->has_type = false;
}

void
response_free(struct response *r) {
    buf_free(&r->headers);
    buf_free(&r->body);
}

void
response_header(struct response *r, const char *name, const char *fmt, ...) {
    char value[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    /* Header injection is a programmer error: values come from our code. */
    assert(!strpbrk(value, "\r\n"));
    if (!strcasecmp(name, "Content-Type")) r->has_type = true;
    buf_printf(&r->headers, "%s: %s\r\n", name, value);
}

void
response_json(struct response *r, int status, const json_t *v) {
    r->status = status;
    buf_reset(&r->body);
    if (json_dump_append(v, &r->body) < 0) buf_append_str(&r->body, "null");
    response_header(r, "Content-Type", "application/json");
}

void
response_text(struct response *r, int status, const char *content_type, const char *text) {
    r->status = status;
    buf_reset(&r->body);
    buf_append_str(&r->body, text);
    response_header(r, "Content-Type", "%s",
                    content_type ? content_type : "text/plain; charset=utf-8");
}

void
response_problem(struct response *r, int status, const char *title, const char *detail) {
    response_problem_ext(r, status, title, detail, NULL);
}

void
response_problem_ext(struct response *r, int status, const char *title, const char *detail,
                     json_t *members) {
    r->status = status;
    json_t *p = json_problem(status, title, detail);
    if (members) json_object_update(p, members);
    json_decref(members);
    buf_reset(&r->body);
    json_dump_append(p, &r->body);
    json_decref(p);
    response_header(r, "Content-Type", "application/problem+json");
}

const char *
response_reason(int status) {
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

/* http_date writes an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"). */
static void
http_date(char out[40]) {
    /* Formatted once a second (each process has its own copy). */
    static time_t cached_at;
    static char cached[40];
    time_t now = time(NULL);
    if (now != cached_at) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(cached, sizeof cached, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        cached_at = now;
    }
    memcpy(out, cached, sizeof cached);
}

void
response_serialize(const struct response *r, const struct response_wire *w, struct buf *head,
                   size_t *body_len) {
    bool no_body = r->status == 204 || r->status == 304 || (r->status >= 100 && r->status < 200);
    char date[40];
    http_date(date);
    buf_reset(head);
    buf_printf(head, "HTTP/1.1 %d %s\r\nDate: %s\r\n", r->status, response_reason(r->status), date);
    if (!no_body && !w->streamed) buf_printf(head, "Content-Length: %zu\r\n", r->body.len);
    if (!no_body && w->streamed && w->http_minor > 0)
        buf_append_str(head, "Transfer-Encoding: chunked\r\n");
    if (!w->keep_alive) buf_append_str(head, "Connection: close\r\n");
    else if (w->http_minor == 0) buf_append_str(head, "Connection: keep-alive\r\n");
    if (r->headers.len) buf_append(head, r->headers.data, r->headers.len);
    buf_append_str(head, "\r\n");
    *body_len = (no_body || w->head_only) ? 0 : r->body.len;
}
