/* query.c — query-string and form parameters. */
#include "web/query.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

/* find returns the raw (undecoded) value of the first parameter called
 * name, its length in *n, or NULL when there is none. */
static const char *
find(const char *query, size_t len, const char *name, size_t *n) {
    size_t nlen = strlen(name);
    const char *p = query, *end = query + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        size_t plen = amp ? (size_t)(amp - p) : (size_t)(end - p);
        if (plen >= nlen + 1 && !memcmp(p, name, nlen) && p[nlen] == '=') {
            *n = plen - nlen - 1;
            return p + nlen + 1;
        }
        p += plen + 1;
    }
    return NULL;
}

/* decode turns a raw value into text ('+' is a space, %XX escapes), or
 * NULL when it holds a NUL byte. */
static char *
decode(const char *raw, size_t n) {
    char *copy = xstrndup(raw, n);
    for (char *q = copy; *q; q++)
        if (*q == '+') *q = ' ';
    int dlen = 0;
    char *dec = curl_easy_unescape(NULL, copy, 0, &dlen);
    free(copy);
    if (!dec) return NULL;
    char *out = memchr(dec, '\0', (size_t)dlen) ? NULL : xstrndup(dec, (size_t)dlen);
    curl_free(dec);
    return out;
}

char *
query_get(const char *query, size_t len, const char *name) {
    size_t n;
    const char *raw = find(query, len, name, &n);
    return raw ? decode(raw, n) : NULL;
}

int
query_long(const char *query, const char *name, long lo, long hi, long *out) {
    size_t n;
    const char *raw = query ? find(query, strlen(query), name, &n) : NULL;
    if (!raw) return 0;
    char *v = decode(raw, n);
    if (!v) return -1;
    const char *digits = v[0] == '-' ? v + 1 : v;
    bool ok = *digits != '\0';
    for (const char *p = digits; ok && *p; p++) ok = *p >= '0' && *p <= '9';
    long num = 0;
    if (ok) {
        errno = 0;
        num = strtol(v, NULL, 10);
        ok = errno == 0 && num >= lo && num <= hi;
    }
    free(v);
    if (!ok) return -1;
    *out = num;
    return 1;
}
