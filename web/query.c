/* query.c — query-string and form parameters. */
#include "web/query.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

char *
query_get(const char *query, size_t len, const char *name) {
    size_t nlen = strlen(name);
    const char *p = query, *end = query + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        size_t n = amp ? (size_t)(amp - p) : (size_t)(end - p);
        if (n >= nlen + 1 && !memcmp(p, name, nlen) && p[nlen] == '=') {
            char *raw = xstrndup(p + nlen + 1, n - nlen - 1);
            for (char *q = raw; *q; q++)
                if (*q == '+') *q = ' ';
            int dlen = 0;
            char *dec = curl_easy_unescape(NULL, raw, 0, &dlen);
            free(raw);
            if (!dec) return NULL;
            char *out = memchr(dec, '\0', (size_t)dlen) ? NULL : xstrndup(dec, (size_t)dlen);
            curl_free(dec);
            return out;
        }
        p += n + 1;
    }
    return NULL;
}

int
query_int(const char *query, const char *name, long lo, long hi, long *out) {
    char *v = query_get(query, strlen(query), name);
    if (!v) return 0;
    char *end;
    long n = strtol(v, &end, 10);
    bool ok = end != v && *end == '\0' && n >= lo && n <= hi && v[0] != ' ';
    free(v);
    if (!ok) return -1;
    *out = n;
    return 1;
}
