/* http_client — a small blocking HTTP client for tests (libcurl easy).
 *
 * http_request fills a struct http_response the caller releases with
 * http_response_free. Headers are kept raw (all of them, one per line). */
#ifndef WC_TEST_HTTP_CLIENT_H
#define WC_TEST_HTTP_CLIENT_H

#include <stddef.h>

#include "common/buf.h"

struct http_response {
    long status;
    struct buf body;
    struct buf headers;
};

/* http_request sends method url with an optional body and Content-Type
 * (NULL: none). extra_header may be NULL ("Name: value"). Returns 0, or -1
 * when no HTTP answer came (connection refused, or none within 10 s). */
int http_request(const char *method, const char *url, const char *content_type, const char *body,
                 const char *extra_header, struct http_response *out);
/* http_request_within is http_request with another time limit, for
 * servers that may take long to answer (a browser starting up). */
int http_request_within(int timeout_ms, const char *method, const char *url,
                        const char *content_type, const char *body, const char *extra_header,
                        struct http_response *out);
/* http_header copies the value of the first header called name (case-insensitive). */
int http_header(const struct http_response *r, const char *name, char *out, size_t n);
void http_response_free(struct http_response *r);

#endif
