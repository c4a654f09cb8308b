/* url_norm.c — the normalised URL; see url_norm.h. */
#include "common/url_norm.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool
unreserved(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* reserved is RFC 3986's gen-delims and sub-delims: kept raw, and their
 * escapes kept escaped. */
static bool
reserved(unsigned char c) {
    return c && strchr(":/?#[]@!$&'()*+,;=", c) != NULL;
}

static int
hexval(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* put_escape appends %XX for byte c; false when out is full. */
static bool
put_escape(char *out, size_t len, size_t *at, unsigned char c) {
    static const char hex[] = "0123456789ABCDEF";
    if (*at + 3 >= len) return false;
    out[(*at)++] = '%';
    out[(*at)++] = hex[c >> 4];
    out[(*at)++] = hex[c & 15];
    return true;
}

/* norm_escapes writes in with its percent-encoding normalised (see the
 * header) to out; -1 when out is too small. */
static int
norm_escapes(const char *in, char *out, size_t len) {
    size_t at = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        int hi = p[0] == '%' ? hexval(p[1]) : -1;
        int lo = hi >= 0 ? hexval(p[2]) : -1;
        if (lo >= 0) {
            unsigned char c = (unsigned char)(hi << 4 | lo);
            p += 2;
            if (unreserved(c)) {
                if (at + 1 >= len) return -1;
                out[at++] = (char)c;
            } else if (!put_escape(out, len, &at, c)) {
                return -1;
            }
        } else if (unreserved(*p) || reserved(*p)) {
            if (at + 1 >= len) return -1;
            out[at++] = (char)*p;
        } else if (!put_escape(out, len, &at, *p)) { /* a stray %, or a byte never raw */
            return -1;
        }
    }
    out[at] = '\0';
    return 0;
}

static void
lower(char *s) {
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z') *s = (char)(*s - 'A' + 'a');
}

/* compose writes scheme://host[:port]path[?query] from u's parts, the
 * path and query with normalised escapes. curl's own URL getter is not
 * used for the whole: it writes escapes in lower-case hex. */
static int
compose(CURLU *u, char *out, size_t outlen) {
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL;
    char npath[URL_NORM_MAX + 1], nquery[URL_NORM_MAX + 1] = "";
    int rc = -1;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK &&
        norm_escapes(path, npath, sizeof npath) == 0) {
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_NO_DEFAULT_PORT);
        if (curl_url_get(u, CURLUPART_QUERY, &query, 0) != CURLUE_OK ||
            norm_escapes(query, nquery, sizeof nquery) == 0) {
            lower(scheme);
            lower(host);
            int n = snprintf(out, outlen, "%s://%s%s%s%s%s%s%s", scheme, host, port ? ":" : "",
                             port ? port : "", npath[0] == '/' ? "" : "/", npath,
                             nquery[0] ? "?" : "", nquery);
            rc = n >= 0 && (size_t)n < outlen ? 0 : -1;
        }
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    return rc;
}

int
url_norm(const char *url, char *out, size_t outlen, char *err, size_t errlen) {
    if (url_check(url, err, errlen) < 0) return -1;
    CURLU *u = curl_url();
    if (!u) return snprintf(err, errlen, "out of memory"), -1;
    char buf[URL_NORM_MAX + 64];
    int rc = -1;
    /* curl's parser resolves dot-segments and numeric IPv4 forms and
     * decodes a percent-encoded host as it reads the URL; the fragment is
     * never read back. A second pass resolves the dot-segments that
     * decoding made (%2e%2e is ..), as RFC 3986 orders the steps. */
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK || compose(u, buf, sizeof buf) < 0 ||
        curl_url_set(u, CURLUPART_URL, buf, 0) != CURLUE_OK || compose(u, buf, sizeof buf) < 0) {
        snprintf(err, errlen, "the URL cannot be normalised");
    } else if (strlen(buf) >= outlen || strlen(buf) > URL_NORM_MAX) {
        snprintf(err, errlen, "the normalised URL is longer than %d bytes", URL_NORM_MAX);
    } else {
        memcpy(out, buf, strlen(buf) + 1);
        rc = 0;
    }
    curl_url_cleanup(u);
    return rc;
}

int
url_norm_host(const char *url_key, char *out, size_t outlen) {
    const char *p = url_key ? strstr(url_key, "://") : NULL;
    if (!p) return -1;
    p += 3;
    size_t n = strcspn(p, "/?#");
    if (p[0] == '[') {
        const char *end = memchr(p, ']', n);
        if (!end) return -1;
        n = (size_t)(end - p) + 1;
    } else {
        const char *colon = memchr(p, ':', n);
        if (colon) n = (size_t)(colon - p);
    }
    if (n == 0 || n >= outlen) return -1;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}
