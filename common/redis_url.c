/* redis_url.c — REDIS_URL parsing. See redis_url.h. */
#include "common/redis_url.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

static char *
url_part(CURLU *u, CURLUPart part, unsigned flags) {
    char *s = NULL;
    if (curl_url_get(u, part, &s, flags) != CURLUE_OK) return NULL;
    char *copy = xstrdup(s);
    curl_free(s);
    return copy;
}

void
redis_url_free(struct redis_url *u) {
    free(u->host);
    free(u->user);
    free(u->password);
    memset(u, 0, sizeof *u);
}

/* parse_db reads the path: empty, "/" or "/N". */
static int
parse_db(const char *path, int *db) {
    *db = 0;
    if (!path || !path[0] || !strcmp(path, "/")) return 0;
    if (path[0] != '/' || path[1] < '0' || path[1] > '9') return -1;
    char *end;
    long n = strtol(path + 1, &end, 10);
    if (*end || n > 100000) return -1;
    *db = (int)n;
    return 0;
}

int
redis_url_parse(const char *url, struct redis_url *u, char *err, size_t errlen) {
    memset(u, 0, sizeof *u);
    char *scheme = NULL, *port = NULL, *path = NULL, *query = NULL, *fragment = NULL;
    int rc = -1;
    CURLU *cu = curl_url();
    if (!cu) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    CURLUcode uc = curl_url_set(cu, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
    if (uc != CURLUE_OK) {
        snprintf(err, errlen, "invalid Redis URL: %s", curl_url_strerror(uc));
        goto fail;
    }
    scheme = url_part(cu, CURLUPART_SCHEME, 0);
    if (!scheme || (strcmp(scheme, "redis") && strcmp(scheme, "rediss"))) {
        snprintf(err, errlen, "invalid Redis URL: the scheme must be redis:// or rediss:// (TLS)");
        goto fail;
    }
    u->tls = !strcmp(scheme, "rediss");
    u->host = url_part(cu, CURLUPART_HOST, 0);
    if (!u->host || !*u->host) {
        snprintf(err, errlen, "invalid Redis URL: no host");
        goto fail;
    }
    /* curl keeps the brackets of an IPv6 literal; getaddrinfo wants none. */
    size_t hl = strlen(u->host);
    if (hl > 2 && u->host[0] == '[' && u->host[hl - 1] == ']') {
        memmove(u->host, u->host + 1, hl - 2);
        u->host[hl - 2] = '\0';
    }
    u->port = 6379;
    port = url_part(cu, CURLUPART_PORT, 0);
    if (port) {
        /* curl has checked the digits and the upper bound, not zero. */
        u->port = atoi(port);
        if (u->port < 1 || u->port > 65535) {
            snprintf(err, errlen, "invalid Redis URL: the port must be 1 to 65535");
            goto fail;
        }
    }
    u->password = url_part(cu, CURLUPART_PASSWORD, CURLU_URLDECODE);
    u->user = url_part(cu, CURLUPART_USER, CURLU_URLDECODE);
    if (u->user && !*u->user) {
        free(u->user);
        u->user = NULL;
    }
    if (u->user && !u->password) {
        snprintf(err, errlen, "invalid Redis URL: a user name needs a password");
        goto fail;
    }
    path = url_part(cu, CURLUPART_PATH, 0);
    if (parse_db(path, &u->db) < 0) {
        snprintf(err, errlen, "invalid Redis URL: the path must be a database number");
        goto fail;
    }
    query = url_part(cu, CURLUPART_QUERY, 0);
    fragment = url_part(cu, CURLUPART_FRAGMENT, 0);
    if (query || fragment) {
        snprintf(err, errlen,
                 "invalid Redis URL: no ?query or #fragment (TLS settings are "
                 "REDIS_TLS_CA_FILE and REDIS_TLS_VERIFY)");
        goto fail;
    }
    rc = 0;
fail:
    if (rc < 0) redis_url_free(u);
    free(scheme);
    free(port);
    free(path);
    free(query);
    free(fragment);
    curl_url_cleanup(cu);
    return rc;
}
