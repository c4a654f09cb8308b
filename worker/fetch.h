/* fetch — the address check run when each socket opens (the URL check
 * is common/url_check.h, shared with the web server).
 *
 * fetch_addr_blocked tells whether an address is one a public web page
 * cannot live at: loopback, private, link-local (169.254.169.254, the
 * cloud metadata service, included), CGNAT, multicast, broadcast,
 * unspecified, documentation, benchmarking and other reserved ranges,
 * IPv4 and IPv6. IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d),
 * NAT64 (64:ff9b::/96) and 6to4 (2002::/16) forms are judged by the IPv4
 * address they carry; IPv6 outside global unicast (2000::/3) is refused
 * whole, and so is Teredo with the rest of 2001::/23.
 *
 * fetch_addr_allowed applies the configuration: FETCH_ALLOW_PRIVATE
 * turns the check off, FETCH_ALLOW_ADDRESSES lets listed addresses
 * through. Nothing here allocates. */
#ifndef WC_FETCH_H
#define WC_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "common/config.h"

bool fetch_addr_blocked(const struct sockaddr *sa);
bool fetch_addr_allowed(const struct config *cfg, const struct sockaddr *sa);

#endif
