#include "common/clock.h"

#include <stdio.h>
#include <time.h>

static int64_t
real_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t (*clock_now_ms_fn)(void) = real_now_ms;

void
clock_format_rfc3339(int64_t ms, char out[32]) {
    if (ms < 0) ms = 0;
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03uZ", (unsigned)(ms % 1000));
}
