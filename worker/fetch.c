#include "worker/fetch.h"

#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool
v4_blocked(uint32_t a) {
    uint8_t b0 = (uint8_t)(a >> 24), b1 = (uint8_t)(a >> 16), b2 = (uint8_t)(a >> 8);
    return b0 == 0 || b0 == 10 || b0 == 127 || b0 >= 224 ||            /* this net, private, loopback, multicast, reserved, broadcast */
           (b0 == 100 && (b1 & 0xc0) == 64) ||                          /* CGNAT 100.64/10 */
           (b0 == 169 && b1 == 254) ||                                  /* link-local */
           (b0 == 172 && (b1 & 0xf0) == 16) ||                          /* 172.16/12 */
           (b0 == 192 && b1 == 168) ||                                  /* 192.168/16 */
           (b0 == 192 && b1 == 0 && (b2 == 0 || b2 == 2)) ||            /* IETF, TEST-NET-1 */
           (b0 == 198 && (b1 & 0xfe) == 18) ||                          /* benchmarking */
           (b0 == 198 && b1 == 51 && b2 == 100) || (b0 == 203 && b1 == 0 && b2 == 113);
}

bool
fetch_addr_blocked(const struct sockaddr *sa) {
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return v4_blocked(ntohl(in->sin_addr.s_addr));
    }
    if (sa->sa_family != AF_INET6) return true;
    const uint8_t *b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
    static const uint8_t zero10[10] = {0};
    uint32_t tail = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15];
    if (!memcmp(b, zero10, 10) && b[10] == 0xff && b[11] == 0xff) return v4_blocked(tail); /* mapped */
    if (!memcmp(b, zero10, 10) && b[10] == 0 && b[11] == 0) return true; /* ::, ::1, compatible */
    if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b) return v4_blocked(tail); /* NAT64 */
    if ((b[0] & 0xfe) == 0xfc) return true;                 /* unique local fc00::/7 */
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return true; /* link-local fe80::/10 */
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return true; /* site-local (deprecated) */
    if (b[0] == 0xff) return true;                          /* multicast */
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return true; /* documentation */
    return false;
}
