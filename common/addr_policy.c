/* addr_policy.c — see addr_policy.h. */
#include "common/addr_policy.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr_allow.h"
#include "common/addr_class.h"

bool
addr_policy_allowed(const struct config *cfg, const struct sockaddr *sa) {
    if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) return false;
    if (addr_allow_match(&cfg->fetch_allow_addresses, sa)) return true;
    switch (addr_class(sa)) {
    case ADDR_PUBLIC:
        return true;
    case ADDR_LOOPBACK:
    case ADDR_PRIVATE:
        return cfg->fetch_allow_private;
    case ADDR_LINK_LOCAL:
    case ADDR_RESERVED:
        break;
    }
    return false;
}

int
addr_policy_url(const struct config *cfg, const char *url, char *err, size_t errlen) {
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL;
    int rc = -1;
    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        snprintf(err, errlen, "not a URL with a host");
        goto done;
    }
    /* curl writes an IPv4 address in its dotted form whatever the
     * spelling (0x7f.1, 2130706433), and an IPv6 one in brackets. */
    char lit[64];
    size_t n = strlen(host);
    bool v6 = n > 2 && host[0] == '[' && host[n - 1] == ']';
    snprintf(lit, sizeof lit, "%.*s", v6 ? (int)(n - 2) : (int)n, v6 ? host + 1 : host);
    char *zone = strchr(lit, '%');
    if (zone) *zone = '\0';
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    uint16_t p = (uint16_t)atoi(port);
    if (!v6 && inet_pton(AF_INET, lit, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons(p);
    } else if (v6 && inet_pton(AF_INET6, lit, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(p);
    } else {
        rc = 0; /* a name: checked when it resolves */
        goto done;
    }
    if (addr_policy_allowed(cfg, (struct sockaddr *)&ss)) {
        rc = 0;
    } else {
        snprintf(err, errlen, "the address %s is %s and may not be called%s", lit,
                 addr_class_name(addr_class((struct sockaddr *)&ss)),
                 cfg->fetch_allow_private ? "" : " (FETCH_ALLOW_PRIVATE is off)");
    }
done:
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}
