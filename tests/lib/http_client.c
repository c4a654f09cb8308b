#include "tests/lib/http_client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static size_t
on_body(char *data, size_t size, size_t n, void *arg) {
    buf_append(arg, data, size * n);
    return size * n;
}

int
http_request(const char *method, const char *url, const char *content_type, const char *body,
             const char *extra_header, struct http_response *out) {
    return http_request_within(10000, method, url, content_type, body, extra_header, out);
}

int
http_request_within(int timeout_ms, const char *method, const char *url, const char *content_type,
                    const char *body, const char *extra_header, struct http_response *out) {
    buf_init(&out->body);
    buf_init(&out->headers);
    out->status = 0;
    CURL *c = curl_easy_init();
    if (!c) return -1;
    struct curl_slist *hdrs = NULL;
    char ct[256];
    if (content_type) {
        snprintf(ct, sizeof ct, "Content-Type: %s", content_type);
        hdrs = curl_slist_append(hdrs, ct);
    }
    if (extra_header) hdrs = curl_slist_append(hdrs, extra_header);
    hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &out->headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    if (!out->body.data) buf_append(&out->body, "", 0);
    if (!out->headers.data) buf_append(&out->headers, "", 0);
    return rc == CURLE_OK ? 0 : -1;
}

int
http_header(const struct http_response *r, const char *name, char *out, size_t n) {
    size_t len = strlen(name);
    const char *p = r->headers.data;
    while (p && *p) {
        const char *eol = strchr(p, '\n');
        if (strncasecmp(p, name, len) == 0 && p[len] == ':') {
            const char *v = p + len + 1;
            while (*v == ' ') v++;
            size_t vlen = (size_t)((eol ? eol : v + strlen(v)) - v);
            while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n')) vlen--;
            snprintf(out, n, "%.*s", (int)vlen, v);
            return 0;
        }
        p = eol ? eol + 1 : NULL;
    }
    return -1;
}

void
http_response_free(struct http_response *r) {
    buf_free(&r->body);
    buf_free(&r->headers);
}
