/* raw_http — a byte-exact HTTP client for tests of the server itself:
 * connect, send any bytes (malformed ones too), read responses one at a
 * time (status, headers, Content-Length body), notice the close.
 * Blocking sockets with a receive timeout; loopback only. */
#ifndef WC_TEST_RAW_HTTP_H
#define WC_TEST_RAW_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

struct raw_response {
    int status;
    struct buf head; /* status line and headers */
    struct buf body;
};

/* raw_connect returns a connected socket to 127.0.0.1:port, or -1. */
int raw_connect(int port);
/* raw_send writes all of data; returns 0 or -1. */
int raw_send(int fd, const char *data, size_t len);
int raw_send_str(int fd, const char *s);
/* raw_read reads one response within timeout_ms; returns 0, or -1 on
 * timeout, close or a malformed answer. A 1xx answer is one response. */
int raw_read(int fd, struct raw_response *r, int timeout_ms);
/* raw_read_head reads the answer to a HEAD request (no body follows). */
int raw_read_head(int fd, struct raw_response *r, int timeout_ms);
/* raw_header copies the value of header name (case-insensitive); false if absent. */
bool raw_header(const struct raw_response *r, const char *name, char *out, size_t n);
void raw_response_free(struct raw_response *r);
/* raw_closed tells whether the server closed the connection within timeout_ms
 * (EOF or reset, with no further bytes). */
bool raw_closed(int fd, int timeout_ms);

#endif
