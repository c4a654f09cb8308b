/* ratelimit.c — bounded per-address token buckets. */
#include "web/ratelimit.h"

#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

#define PROBE 8

void
ratelimit_init(struct ratelimit *rl, int rate, int burst) {
    rl->rate = rate;
    rl->burst = burst < 1 ? 1 : burst;
    rl->slots = rate > 0 ? xcalloc(RATELIMIT_SLOTS, sizeof *rl->slots) : NULL;
}

void
ratelimit_free(struct ratelimit *rl) {
    free(rl->slots);
    rl->slots = NULL;
}

static void
addr_key(const struct sockaddr *sa, uint8_t out[16]) {
    memset(out, 0, 16);
    if (sa->sa_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    } else if (sa->sa_family == AF_INET) {
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    }
}

static uint32_t
hash16(const uint8_t k[16]) {
    uint32_t h = 2166136261u;
    for (int i = 0; i < 16; i++) h = (h ^ k[i]) * 16777619u;
    return h;
}

int
ratelimit_take(struct ratelimit *rl, const struct sockaddr *addr, uint64_t now_ms) {
    if (rl->rate <= 0 || !rl->slots) return 0;
    uint8_t key[16];
    addr_key(addr, key);
    uint32_t h = hash16(key);
    struct ratelimit_bucket *b = NULL, *oldest = NULL;
    for (int i = 0; i < PROBE; i++) {
        struct ratelimit_bucket *s = &rl->slots[(h + (uint32_t)i) % RATELIMIT_SLOTS];
        if (s->used && !memcmp(s->addr, key, 16)) {
            b = s;
            break;
        }
        if (!s->used) {
            if (!oldest || oldest->used) oldest = s;
        } else if (!oldest || (oldest->used && s->last_ms < oldest->last_ms)) {
            oldest = s;
        }
    }
    if (!b) {
        b = oldest;
        memcpy(b->addr, key, 16);
        b->used = true;
        b->tokens = rl->burst;
        b->last_ms = now_ms;
    }
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * rl->rate / 1000.0;
        if (b->tokens > rl->burst) b->tokens = rl->burst;
    }
    b->last_ms = now_ms;
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return 0;
    }
    int wait = (int)ceil((1.0 - b->tokens) / rl->rate);
    return wait < 1 ? 1 : wait;
}
