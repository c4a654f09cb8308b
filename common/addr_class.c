#include "common/addr_class.h"

#include <netinet/in.h>
#include <string.h>

enum addr_class
addr_class_v4(uint32_t a) {
    uint8_t b0 = (uint8_t)(a >> 24), b1 = (uint8_t)(a >> 16), b2 = (uint8_t)(a >> 8);
    if (b0 == 127) return ADDR_LOOPBACK;
    if (b0 == 10 || (b0 == 172 && (b1 & 0xf0) == 16) || (b0 == 192 && b1 == 168))
        return ADDR_PRIVATE;
    if (b0 == 169 && b1 == 254) return ADDR_LINK_LOCAL;
    if (b0 == 0 ||                                        /* "this network", 0.0.0.0 */
        b0 >= 224 ||                                      /* multicast, class E, broadcast */
        (b0 == 100 && (b1 & 0xc0) == 64) ||               /* CGNAT 100.64/10 */
        (b0 == 192 && b1 == 0 && (b2 == 0 || b2 == 2)) || /* IETF protocol, TEST-NET-1 */
        (b0 == 192 && b1 == 88 && b2 == 99) ||            /* 6to4 relay anycast */
        (b0 == 198 && (b1 & 0xfe) == 18) ||               /* benchmarking 198.18/15 */
        (b0 == 198 && b1 == 51 && b2 == 100) ||           /* TEST-NET-2 */
        (b0 == 203 && b1 == 0 && b2 == 113))              /* TEST-NET-3 */
        return ADDR_RESERVED;
    return ADDR_PUBLIC;
}

static uint32_t
be32(const uint8_t *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* carried: an IPv4 address reached through a translator is public or not
 * at all. */
static enum addr_class
carried(uint32_t a) {
    return addr_class_v4(a) == ADDR_PUBLIC ? ADDR_PUBLIC : ADDR_RESERVED;
}

static enum addr_class
v6_class(const uint8_t *b) {
    static const uint8_t zero[12] = {0};
    if (!memcmp(b, zero, 10)) {
        if (b[10] == 0xff && b[11] == 0xff) return addr_class_v4(be32(b + 12)); /* mapped */
        if (b[10] == 0 && b[11] == 0) {
            if (!memcmp(b + 12, "\0\0\0\1", 4)) return ADDR_LOOPBACK; /* ::1 */
            /* ::, and the deprecated IPv4-compatible ::a.b.c.d: a stack
             * that still routes those reaches the IPv4 address. */
            return ADDR_RESERVED;
        }
    }
    if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b) {
        if (!memcmp(b + 4, zero, 8)) return carried(be32(b + 12)); /* NAT64 64:ff9b::/96 */
        return ADDR_RESERVED;                                      /* 64:ff9b:1::/48, local NAT64 */
    }
    if ((b[0] & 0xfe) == 0xfc) return ADDR_PRIVATE;                    /* unique local fc00::/7 */
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return ADDR_LINK_LOCAL; /* fe80::/10 */
    if ((b[0] & 0xe0) != 0x20) return ADDR_RESERVED; /* not global unicast 2000::/3 */
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] < 0x02) return ADDR_RESERVED; /* 2001::/23, Teredo */
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
        return ADDR_RESERVED;                                      /* 2001:db8::/32 */
    if (b[0] == 0x20 && b[1] == 0x02) return carried(be32(b + 2)); /* 6to4 */
    if (b[0] == 0x3f && b[1] == 0xff && (b[2] & 0xf0) == 0) return ADDR_RESERVED; /* 3fff::/20 */
    return ADDR_PUBLIC;
}

enum addr_class
addr_class(const struct sockaddr *sa) {
    if (sa->sa_family == AF_INET)
        return addr_class_v4(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
    if (sa->sa_family == AF_INET6)
        return v6_class(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
    return ADDR_RESERVED;
}

const char *
addr_class_name(enum addr_class c) {
    static const char *const names[] = {"public", "loopback", "private", "link-local", "reserved"};
    return names[c];
}
