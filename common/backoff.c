#include "common/backoff.h"

#include <assert.h>
#include <limits.h>

int64_t
backoff_delay_ms(int64_t base_ms, int64_t cap_ms, unsigned n, uint32_t rnd) {
    assert(base_ms > 0);
    if (cap_ms < base_ms) cap_ms = base_ms;
    /* Doubling stops at the cap, so no failure count overflows. */
    int64_t step = base_ms;
    for (unsigned i = 1; i < n && step < cap_ms; i++) step = step > cap_ms / 2 ? cap_ms : step * 2;
    int64_t half = step / 2;
    return step - half + (int64_t)(rnd % (uint64_t)(half + 1));
}

void
backoff_init(struct backoff *b, int64_t base_ms, int64_t cap_ms, uint64_t seed) {
    b->base_ms = base_ms;
    b->cap_ms = cap_ms;
    b->failures = 0;
    /* xorshift never leaves 0; any other seed will do. */
    b->rnd = seed ? seed : 0x9e3779b97f4a7c15ULL;
}

uint32_t
backoff_rand(struct backoff *b) {
    /* xorshift64*: jitter only needs to spread retries apart. */
    b->rnd ^= b->rnd >> 12;
    b->rnd ^= b->rnd << 25;
    b->rnd ^= b->rnd >> 27;
    return (uint32_t)((b->rnd * 2685821657736338717ULL) >> 32);
}

int64_t
backoff_next(struct backoff *b) {
    if (b->failures < UINT_MAX) b->failures++;
    return backoff_delay_ms(b->base_ms, b->cap_ms, b->failures, backoff_rand(b));
}

void
backoff_reset(struct backoff *b) {
    b->failures = 0;
}
