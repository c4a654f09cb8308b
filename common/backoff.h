/* backoff — how long to wait before trying something again.
 *
 * Exponential with a cap and "equal jitter": after n failures in a row
 * the step is base * 2^(n-1), at most cap, and the wait is a random point
 * in the upper half of the step. Clients that failed together (every
 * worker when Redis restarts, every task when Postgres does) so do not
 * come back together, and none comes back sooner than half a step.
 *
 * Owns nothing on the heap. backoff_delay_ms is pure (the random number
 * is an argument); struct backoff, embedded in its user, counts the
 * failures in a row of one thing retried until it works (a connection, a
 * task's step, a child process) and draws its random numbers from its
 * own xorshift64* state. Used by redis_uv, pg_uv, worker/task.c (steps
 * and job retries) and worker/supervisor.c. */
#ifndef WC_BACKOFF_H
#define WC_BACKOFF_H

#include <stdint.h>

struct backoff {
    int64_t base_ms;
    int64_t cap_ms;
    unsigned failures; /* in a row, since init or the last backoff_reset */
    uint64_t rnd;      /* xorshift64* state, never 0 */
};

/* backoff_delay_ms returns the wait after n failures in a row (n >= 1; 0
 * counts as 1): the step min(cap_ms, base_ms * 2^(n-1)), then
 * step - step/2 + rnd % (step/2 + 1), so between half the step and the
 * step. base_ms > 0; a cap below base is base. */
int64_t backoff_delay_ms(int64_t base_ms, int64_t cap_ms, unsigned n, uint32_t rnd);

/* backoff_init starts b with no failures; seed picks its random numbers
 * (say uv_hrtime() ^ the owner's address; any value, 0 included). */
void backoff_init(struct backoff *b, int64_t base_ms, int64_t cap_ms, uint64_t seed);
/* backoff_next counts one more failure and returns how long to wait (ms). */
int64_t backoff_next(struct backoff *b);
/* backoff_reset forgets the failures: the next wait is about base again. */
void backoff_reset(struct backoff *b);
/* backoff_rand returns the next random number of b's state. */
uint32_t backoff_rand(struct backoff *b);

#endif
