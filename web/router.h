/* router — a table of (method, path pattern, handler).
 *
 * Owns nothing: the table is a static array the caller defines; matching
 * writes into a caller-owned struct router_match. A pattern is a literal
 * path whose segments may be "{name}", which matches one non-empty
 * segment (no '/') of at most ROUTER_PARAM_MAX bytes; the values land in
 * match->params in order. The first route whose method and pattern both
 * match wins (h2o's rule); a HEAD request matches GET routes. When the
 * path matches some route but not with this method the answer is 405
 * with the allowed methods in match->allow; otherwise 404. Paths are
 * compared as sent (no decoding, no trailing-slash folding). */
#ifndef WC_ROUTER_H
#define WC_ROUTER_H

#include <stddef.h>

struct req;
typedef void (*router_handler)(struct req *req);

struct route {
    const char *method; /* "GET", "POST", ... */
    const char *pattern;
    router_handler handler;
};

#define ROUTER_MAX_PARAMS 2
#define ROUTER_PARAM_MAX 128

struct router_match {
    int status; /* 0 matched, 404 or 405 */
    const struct route *route;
    char allow[64]; /* for 405: "GET, HEAD, POST" (every method at most once) */
    size_t nparams;
    char params[ROUTER_MAX_PARAMS][ROUTER_PARAM_MAX + 1];
};

/* router_match looks method and path up in routes[0..n). */
void router_match(const struct route *routes, size_t n, const char *method, const char *path,
                  struct router_match *m);
/* router_path_match matches one pattern against path, filling params;
 * returns 0, or -1 when it does not match. Exposed for tests. */
int router_path_match(const char *pattern, const char *path, struct router_match *m);

#endif
