#include "common/addr_allow.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* parse_entry reads one entry of len bytes (no surrounding spaces). */
static int
parse_entry(const char *e, size_t len, struct addr_allow *a) {
    char tmp[128];
    if (len == 0 || len >= sizeof tmp) return -1;
    memcpy(tmp, e, len);
    tmp[len] = '\0';
    char *host = tmp, *port = NULL, *prefix = NULL;
    memset(a, 0, sizeof *a);
    if (tmp[0] == '[') {
        /* [v6], [v6/N] or [v6]/N, each maybe followed by :PORT */
        char *close = strchr(tmp, ']');
        if (!close) return -1;
        *close = '\0';
        host = tmp + 1;
        char *rest = close + 1;
        if (*rest == '/') {
            prefix = ++rest;
            rest += strspn(rest, "0123456789");
            if (*rest == ':') *rest++ = '\0', port = rest;
            else if (*rest) return -1;
        } else if (*rest == ':') {
            port = rest + 1;
        } else if (*rest) {
            return -1;
        }
        a->family = AF_INET6;
    } else {
        char *colon = strchr(tmp, ':');
        if (colon && strchr(colon + 1, ':')) {
            a->family = AF_INET6; /* a bare IPv6 address: no port */
        } else {
            a->family = AF_INET;
            if (colon) {
                *colon = '\0';
                port = colon + 1;
            }
        }
    }
    int max = a->family == AF_INET ? 32 : 128;
    a->prefix = max;
    char *slash = strchr(host, '/');
    if (slash) {
        if (prefix) return -1; /* [v6/N]/N */
        *slash = '\0';
        prefix = slash + 1;
    }
    if (prefix) {
        char *end;
        long p = strtol(prefix, &end, 10);
        if (end == prefix || *end || p < 0 || p > max) return -1;
        a->prefix = (int)p;
    }
    if (inet_pton(a->family, host, a->addr) != 1) return -1;
    if (port) {
        char *end;
        long p = strtol(port, &end, 10);
        if (end == port || *end || p < 1 || p > 65535) return -1;
        a->port = (uint16_t)p;
    }
    return 0;
}

int
addr_allow_parse(const char *s, struct addr_allow_list *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    if (!s) return 0;
    while (*s) {
        while (*s == ' ' || *s == ',') s++;
        if (!*s) break;
        size_t len = strcspn(s, ",");
        size_t trimmed = len;
        while (trimmed > 0 && s[trimmed - 1] == ' ') trimmed--;
        if (out->n == ADDR_ALLOW_MAX) {
            snprintf(err, errlen, "more than %d entries", ADDR_ALLOW_MAX);
            return -1;
        }
        if (parse_entry(s, trimmed, &out->v[out->n]) < 0) {
            snprintf(err, errlen, "\"%.*s\" is not an address, network or address:port",
                     (int)(trimmed > 64 ? 64 : trimmed), s);
            return -1;
        }
        out->n++;
        s += len;
    }
    return 0;
}

/* prefix_equal compares the first bits bits of a and b. */
static bool
prefix_equal(const uint8_t *a, const uint8_t *b, int bits) {
    int bytes = bits / 8, rest = bits % 8;
    if (memcmp(a, b, (size_t)bytes) != 0) return false;
    if (!rest) return true;
    uint8_t mask = (uint8_t)(0xFF << (8 - rest));
    return (a[bytes] & mask) == (b[bytes] & mask);
}

bool
addr_allow_match(const struct addr_allow_list *l, const struct sockaddr *sa) {
    const uint8_t *addr;
    uint16_t port;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        addr = (const uint8_t *)&in->sin_addr;
        port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        addr = in6->sin6_addr.s6_addr;
        port = ntohs(in6->sin6_port);
    } else {
        return false;
    }
    for (size_t i = 0; i < l->n; i++) {
        const struct addr_allow *a = &l->v[i];
        if (a->family == sa->sa_family && (a->port == 0 || a->port == port) &&
            prefix_equal(a->addr, addr, a->prefix))
            return true;
    }
    return false;
}
