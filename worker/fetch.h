/* fetch — the address check run when each socket opens (the URL check
 * is common/url_check.h, shared with the web server).
 *
 * fetch_addr_blocked tells whether an
 * address is loopback, private, link-local, CGNAT, multicast, broadcast,
 * unspecified or reserved (IPv4 and IPv6, with IPv4-mapped, -compatible
 * and NAT64 forms checked as IPv4). */
#ifndef WC_FETCH_H
#define WC_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

bool fetch_addr_blocked(const struct sockaddr *sa);

#endif
