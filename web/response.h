/* response — one HTTP response: status, headers and body, serialised for
 * uv_write.
 *
 * Owns: the status line, the header block (Date, Content-Type,
 * Content-Length, Connection and what the handler added) and the body,
 * each in a struct buf inside struct response. The caller embeds a
 * struct response, fills it (response_init, then response_header,
 * response_json/_text/_problem) and either hands it to the connection
 * (req_send takes the buffers) or calls response_free.
 *
 * Errors are problem+json (RFC 9457) through response_problem, built with
 * common/json.h's json_problem. */
#ifndef WC_RESPONSE_H
#define WC_RESPONSE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

struct response {
    int status;
    struct buf headers; /* extra "Name: value\r\n" lines */
    struct buf body;
    bool has_type; /* a Content-Type was set */
};

/* What the connection knows when the response goes out. */
struct response_wire {
    unsigned short http_minor; /* of the request; 1.0 clients need explicit keep-alive */
    bool keep_alive;           /* false: add Connection: close */
    bool head_only;            /* HEAD: headers only, Content-Length of the body */
    bool streamed; /* the body follows in pieces: no Content-Length; chunked for HTTP/1.1 */
};

void response_init(struct response *r, int status);
void response_free(struct response *r);
/* response_header adds "name: value"; value must not contain CR or LF. */
void response_header(struct response *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* response_json sets status, Content-Type application/json and the body. */
void response_json(struct response *r, int status, const json_t *v);
/* response_text sets status, a Content-Type (text/plain; charset=utf-8 by default) and body. */
void response_text(struct response *r, int status, const char *content_type, const char *text);
/* response_problem makes an application/problem+json error; detail may be NULL. */
void response_problem(struct response *r, int status, const char *title, const char *detail);
/* response_problem_ext is response_problem with extension members (an
 * object, consumed; NULL for none) added to the problem. */
void response_problem_ext(struct response *r, int status, const char *title, const char *detail,
                          json_t *members);
/* response_reason returns the reason phrase ("Not Found"), "Unknown" when unknown. */
const char *response_reason(int status);
/* response_serialize writes the status line and headers into head (reset
 * first). The body stays in r->body; its length is returned through
 * body_len (0 for HEAD and for statuses that have no body). */
void response_serialize(const struct response *r, const struct response_wire *w, struct buf *head,
                        size_t *body_len);

#endif
