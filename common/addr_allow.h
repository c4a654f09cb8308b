/* addr_allow — the FETCH_ALLOW_ADDRESSES list: addresses (or networks)
 * the worker may fetch from even though the address check refuses
 * private, loopback and reserved ones. Tests use it to reach a fixture
 * server on 127.0.0.1 with the check on; a deployment can name an
 * internal host.
 *
 * The list is a comma-separated string of entries, each
 *   a.b.c.d   a.b.c.d/N   a.b.c.d:PORT   a.b.c.d/N:PORT
 *   v6        [v6]        [v6/N] or [v6]/N        [v6]:PORT   [v6/N]:PORT
 * (spaces around entries ignored). An entry matches an address of its
 * own family only: allowing 127.0.0.1 does not allow ::ffff:127.0.0.1.
 * Without a port every port matches.
 *
 * Owns: nothing on the heap; struct addr_allow_list is a fixed array
 * (at most ADDR_ALLOW_MAX entries), so it can sit in struct config. */
#ifndef WC_ADDR_ALLOW_H
#define WC_ADDR_ALLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define ADDR_ALLOW_MAX 16

struct addr_allow {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    int prefix;    /* bits that must match: 32 or 128 for one address */
    uint16_t port; /* 0: any */
};

struct addr_allow_list {
    size_t n;
    struct addr_allow v[ADDR_ALLOW_MAX];
};

/* addr_allow_parse fills out from s (NULL or empty: an empty list).
 * Returns 0, or -1 with the offending entry named in err. */
int addr_allow_parse(const char *s, struct addr_allow_list *out, char *err, size_t errlen);
/* addr_allow_match tells whether sa (AF_INET or AF_INET6, with its port)
 * is on the list. */
bool addr_allow_match(const struct addr_allow_list *l, const struct sockaddr *sa);

#endif
