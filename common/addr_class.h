/* addr_class — what kind of address an IP address is, by the IANA
 * special-purpose registries: public (globally reachable), loopback,
 * private (RFC 1918, IPv6 unique local), link-local, or reserved (every
 * other range a public service cannot live at).
 *
 * The worker's fetch policy (worker/fetch.h) decides from the class which
 * addresses it may connect to; the web server trusts X-Real-IP only from
 * a loopback or private peer (web/conn.c).
 *
 * IPv4-mapped IPv6 (::ffff:a.b.c.d) is the IPv4 address on a dual-stack
 * socket, so it has that address's class. NAT64 (64:ff9b::/96) and 6to4
 * (2002::/16) carry an IPv4 address too: they are public when it is and
 * reserved otherwise (reaching a private network through a translator is
 * never a local fetch, nor a proxy of ours). The deprecated
 * IPv4-compatible form (::a.b.c.d) and IPv6 outside global unicast
 * (2000::/3) other than loopback, unique local and link-local are
 * reserved, and so are Teredo and the rest of 2001::/23 and the
 * documentation prefixes. Pure functions; nothing here allocates. */
#ifndef WC_ADDR_CLASS_H
#define WC_ADDR_CLASS_H

#include <stdint.h>
#include <sys/socket.h>

enum addr_class {
    ADDR_PUBLIC,
    ADDR_LOOPBACK,   /* 127.0.0.0/8, ::1 */
    ADDR_PRIVATE,    /* 10/8, 172.16/12, 192.168/16, fc00::/7 */
    ADDR_LINK_LOCAL, /* 169.254/16 (cloud metadata at 169.254.169.254), fe80::/10 */
    ADDR_RESERVED    /* unspecified, CGNAT, multicast, broadcast, documentation, ... */
};

/* addr_class tells the class of sa (AF_INET or AF_INET6; any other
 * family is ADDR_RESERVED). */
enum addr_class addr_class(const struct sockaddr *sa);
/* addr_class_v4 is addr_class of an IPv4 address in host byte order. */
enum addr_class addr_class_v4(uint32_t a);
/* addr_class_name: "public", "loopback", "private", "link-local", "reserved". */
const char *addr_class_name(enum addr_class c);

#endif
