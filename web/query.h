/* query — reading parameters from a URL query string or a form body
 * (application/x-www-form-urlencoded: '&'-separated name=value pairs,
 * '+' for space, %XX escapes decoded with curl_easy_unescape). */
#ifndef WC_QUERY_H
#define WC_QUERY_H

#include <stddef.h>

/* query_get returns the decoded value of the first parameter called name
 * (malloc'd; the caller frees), or NULL when absent or when the value
 * decodes to something holding a NUL byte. */
char *query_get(const char *query, size_t len, const char *name);
/* query_long reads parameter name (decoded as query_get does) as a whole
 * number in [lo, hi]: an optional '-' and decimal digits, nothing else (no
 * sign '+', no spaces, no fraction), and no overflow. Returns 1 and sets
 * *out when present and valid, 0 when absent (*out untouched), -1 when
 * present but not such a number (an empty value or a NUL byte too). Handlers call it through req_query_long
 * (web/req.h). */
int query_long(const char *query, const char *name, long lo, long hi, long *out);

#endif
