/* clock — wall-clock time in milliseconds, with a seam for tests.
 *
 * Owns: the clock function pointer (clock_now_ms_fn) that tests may replace
 * to fake time, and RFC 3339 formatting of millisecond timestamps. */
#ifndef WC_CLOCK_H
#define WC_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* clock_now_ms_fn returns milliseconds since the Unix epoch; tests may swap it. */
extern int64_t (*clock_now_ms_fn)(void);

static inline int64_t
clock_now_ms(void) {
    return clock_now_ms_fn();
}

/* clock_format_rfc3339 writes "2026-11-24T19:57:40.123Z" (24 chars + NUL) into out. */
void clock_format_rfc3339(int64_t ms, char out[32]);

#endif
