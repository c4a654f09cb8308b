/* redis_url — one Redis server's address, parsed from a REDIS_URL.
 *
 * Owns: struct redis_url and the rule that fills it from
 *   redis://[[user]:password@]host[:port][/db]     (plain TCP)
 *   rediss://[[user]:password@]host[:port][/db]    (TLS, common/tls)
 * read with curl's URL API: user and password are percent-decoded; an IPv6
 * literal loses its brackets; the port defaults to 6379; the path, when
 * present, is a database number. A user without a password, a query or a
 * fragment is refused rather than ignored, so a setting meant for another
 * client (?ssl_cert_reqs=none) cannot pass silently.
 *
 * Pure: no I/O. config validates REDIS_URL with it at start, redis_uv
 * connects with what it fills. The strings are the struct's own;
 * redis_url_free releases them. */
#ifndef WC_REDIS_URL_H
#define WC_REDIS_URL_H

#include <stdbool.h>
#include <stddef.h>

struct redis_url {
    char *host;     /* a name or an address, without IPv6 brackets */
    int port;       /* 1..65535 */
    char *user;     /* NULL: AUTH with the password only (before Redis 6 ACLs) */
    char *password; /* NULL: no AUTH */
    int db;         /* SELECT when not 0 */
    bool tls;       /* rediss:// */
};

/* redis_url_parse fills u from url. Returns 0, or -1 with a message in err
 * (which never repeats the password) and u holding nothing to free. */
int redis_url_parse(const char *url, struct redis_url *u, char *err, size_t errlen);
/* redis_url_free releases the strings; u may be zeroed or parsed. */
void redis_url_free(struct redis_url *u);

#endif
