#include "worker/fetch.h"

#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

/* v4_blocked: the IPv4 special-purpose ranges (IANA registry) that are
 * not globally reachable, and the reserved rest of class E. */
static bool
v4_blocked(uint32_t a) {
    uint8_t b0 = (uint8_t)(a >> 24), b1 = (uint8_t)(a >> 16), b2 = (uint8_t)(a >> 8);
    return b0 == 0 ||                                        /* "this network", 0.0.0.0 */
           b0 == 10 ||                                       /* private */
           b0 == 127 ||                                      /* loopback */
           b0 >= 224 ||                                      /* multicast, reserved, broadcast */
           (b0 == 100 && (b1 & 0xc0) == 64) ||               /* CGNAT 100.64/10 */
           (b0 == 169 && b1 == 254) ||                       /* link-local, cloud metadata */
           (b0 == 172 && (b1 & 0xf0) == 16) ||               /* private 172.16/12 */
           (b0 == 192 && b1 == 168) ||                       /* private 192.168/16 */
           (b0 == 192 && b1 == 0 && (b2 == 0 || b2 == 2)) || /* IETF protocol, TEST-NET-1 */
           (b0 == 192 && b1 == 88 && b2 == 99) ||            /* 6to4 relay anycast */
           (b0 == 198 && (b1 & 0xfe) == 18) ||               /* benchmarking 198.18/15 */
           (b0 == 198 && b1 == 51 && b2 == 100) ||           /* TEST-NET-2 */
           (b0 == 203 && b1 == 0 && b2 == 113);              /* TEST-NET-3 */
}

static uint32_t
be32(const uint8_t *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static bool
v6_blocked(const uint8_t *b) {
    static const uint8_t zero10[10] = {0};
    if (!memcmp(b, zero10, 10)) {
        if (b[10] == 0xff && b[11] == 0xff) return v4_blocked(be32(b + 12)); /* mapped */
        if (b[10] == 0 && b[11] == 0) {
            /* ::, ::1, and the deprecated IPv4-compatible ::a.b.c.d: a
             * stack that still routes those reaches the IPv4 address. */
            return true;
        }
    }
    if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b) {
        static const uint8_t zero8[8] = {0};
        if (!memcmp(b + 4, zero8, 8)) return v4_blocked(be32(b + 12));
        return true; /* 64:ff9b:1::/48, local-use NAT64 */
    }
    if ((b[0] & 0xe0) != 0x20)
        return true; /* not global unicast 2000::/3: ULA, link-local, multicast, ... */
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] < 0x02) return true; /* 2001::/23 (Teredo, ...) */
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
        return true;                                                  /* documentation */
    if (b[0] == 0x20 && b[1] == 0x02) return v4_blocked(be32(b + 2)); /* 6to4 */
    if (b[0] == 0x3f && b[1] == 0xff && (b[2] & 0xf0) == 0)
        return true; /* 3fff::/20 documentation */
    return false;
}

bool
fetch_addr_blocked(const struct sockaddr *sa) {
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return v4_blocked(ntohl(in->sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6)
        return v6_blocked(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
    return true; /* a family we do not fetch over */
}

bool
fetch_addr_allowed(const struct config *cfg, const struct sockaddr *sa) {
    if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) return false;
    return cfg->fetch_allow_private || addr_allow_match(&cfg->fetch_allow_addresses, sa) ||
           !fetch_addr_blocked(sa);
}
