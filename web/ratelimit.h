/* ratelimit — a token bucket per client address, for job submissions.
 *
 * Owns: a fixed table of RATELIMIT_SLOTS buckets (open addressing on a
 * hash of the address, a short probe; when every probed slot is busy the
 * least recently used one is taken over), so memory stays bounded
 * whatever the number of clients. Each web process has its own table:
 * with WEB_CONCURRENCY processes a client may get up to that many times
 * the rate, which is what a per-process limiter can promise cheaply.
 * rate 0 turns the limiter off. */
#ifndef WC_RATELIMIT_H
#define WC_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define RATELIMIT_SLOTS 4096

struct ratelimit_bucket {
    uint8_t addr[16]; /* IPv4 as ::ffff:a.b.c.d */
    double tokens;
    uint64_t last_ms;
    bool used;
};

struct ratelimit {
    int rate;  /* tokens per second */
    int burst; /* bucket size */
    struct ratelimit_bucket *slots;
};

void ratelimit_init(struct ratelimit *rl, int rate, int burst);
void ratelimit_free(struct ratelimit *rl);
/* ratelimit_take takes one token for addr at now_ms. Returns 0 when
 * allowed, else the seconds to wait until a token is there (at least 1). */
int ratelimit_take(struct ratelimit *rl, const struct sockaddr *addr, uint64_t now_ms);

#endif
