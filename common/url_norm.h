/* url_norm — one key per page: the normalised form of a URL, made with
 * curl's URL API. History (GET /api/v1/results), freshness (max_age),
 * dedup of live jobs and conditional re-fetches all look pages up by it;
 * the URL as submitted is kept beside it for display.
 *
 * The form (RFC 3986 section 6.2.2, as far as it never changes what a
 * server is asked for):
 *   - scheme and host in lower case (ASCII letters only: an
 *     internationalised name keeps its other bytes as they are);
 *   - numeric IPv4 spellings in dotted decimal (curl's parser does it:
 *     0x7f.1 is 127.0.0.1), percent-encoded host letters decoded;
 *   - the scheme's default port dropped (http 80, https 443);
 *   - path dot-segments resolved (/a/./b/../c is /a/c), an empty path /;
 *   - percent-encoding in path and query normalised: escapes of
 *     unreserved characters (letters, digits, - . _ ~) decoded, other
 *     escapes in upper-case hex, bytes that may not appear raw (space,
 *     controls, non-ASCII, " < > \ ^ ` { | }) and a % that starts no
 *     escape encoded; reserved characters and their escapes (%2F) are
 *     left alone, since a server may tell them apart;
 *   - the fragment dropped (it never reaches the server);
 *   - the query kept as it is otherwise (parameter order matters to
 *     some servers); an empty query ("?") dropped.
 *
 * Pure functions over caller-owned buffers; no I/O. */
#ifndef WC_URL_NORM_H
#define WC_URL_NORM_H

#include <stddef.h>

#include "common/url_check.h"

/* The longest normalised URL: every byte of a URL_CHECK_MAX URL encoded. */
#define URL_NORM_MAX (3 * URL_CHECK_MAX)

/* url_norm checks url (url_check) and writes its normalised form to out
 * (at least URL_NORM_MAX + 1 bytes). Returns 0, or -1 with a reason in
 * err (the URL is not one wordcount accepts). */
int url_norm(const char *url, char *out, size_t outlen, char *err, size_t errlen);

/* url_norm_host writes the host of a normalised URL (url_key, as url_norm
 * made it: no user info, host in lower case) without its port to out:
 * "example.com", "[::1]". The search index of a host is keyed by it
 * (common/job_search.h; common/lua/lib/ix.lua reads it the same way).
 * Returns 0, or -1 when url_key has no host or out is too small. */
int url_norm_host(const char *url_key, char *out, size_t outlen);

#endif
