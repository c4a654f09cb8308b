/* fetch — the fetch policy's pure parts: URL checks with curl's URL API
 * and the address check run when each socket opens.
 *
 * fetch_url_check accepts absolute http and https URLs with a host and no
 * credentials, at most 2048 bytes. fetch_addr_blocked tells whether an
 * address is loopback, private, link-local, CGNAT, multicast, broadcast,
 * unspecified or reserved (IPv4 and IPv6, with IPv4-mapped, -compatible
 * and NAT64 forms checked as IPv4). */
#ifndef WC_FETCH_H
#define WC_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define FETCH_URL_MAX 2048

/* fetch_url_check returns 0, or -1 with a reason in err. */
int fetch_url_check(const char *url, char *err, size_t errlen);
bool fetch_addr_blocked(const struct sockaddr *sa);

#endif
