/* stats: buckets, quantiles, and parsing the read script's answer into
 * counts, series and workers (replies built by hand, so every figure is
 * known). The same script on a real Redis is covered by
 * tests/integration/test_stats.c. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/stats.h"
#include "common/xalloc.h"

Test(stats, buckets) {
    cr_assert_eq(stats_bucket(stats_ms_bounds, STATS_MS_NB, 0), 0);
    cr_assert_eq(stats_bucket(stats_ms_bounds, STATS_MS_NB, 10), 0, "bounds are inclusive");
    cr_assert_eq(stats_bucket(stats_ms_bounds, STATS_MS_NB, 11), 1);
    cr_assert_eq(stats_bucket(stats_ms_bounds, STATS_MS_NB, 1800000), STATS_MS_NB - 1);
    cr_assert_eq(stats_bucket(stats_ms_bounds, STATS_MS_NB, 1800001), STATS_MS_NB, "overflow");
    cr_assert_eq(stats_bucket(stats_bytes_bounds, STATS_BYTES_NB, 1024), 0);
    cr_assert_eq(stats_bucket(stats_us_bounds, STATS_US_NB, 2000000), STATS_US_NB);
}

Test(stats, quantiles_interpolate_inside_a_bucket) {
    struct stats_hist h;
    stats_hist_init(&h, stats_ms_bounds, STATS_MS_NB);
    cr_assert_eq(stats_quantile(&h, 0.5), -1, "empty");
    /* 10 observations in (100, 250]: the median is halfway. */
    h.count[stats_bucket(stats_ms_bounds, STATS_MS_NB, 200)] = 10;
    cr_assert_float_eq(stats_quantile(&h, 0.5), 175, 1e-9);
    cr_assert_float_eq(stats_quantile(&h, 1.0), 250, 1e-9);
    /* 90 fast ones in [0, 10] and 10 slow ones in (1 s, 2.5 s]. */
    stats_hist_init(&h, stats_ms_bounds, STATS_MS_NB);
    h.count[0] = 90;
    h.count[stats_bucket(stats_ms_bounds, STATS_MS_NB, 2000)] = 10;
    cr_assert_float_eq(stats_quantile(&h, 0.5), 10.0 * 50 / 90, 1e-9);
    cr_assert_float_eq(stats_quantile(&h, 0.95), 1000 + 1500 * 0.5, 1e-9);
    cr_assert_eq(stats_hist_total(&h), 100);
    /* The overflow bucket answers its lower bound. */
    stats_hist_init(&h, stats_ms_bounds, STATS_MS_NB);
    h.count[STATS_MS_NB] = 3;
    cr_assert_float_eq(stats_quantile(&h, 0.5), 1800000, 1e-9);
}

/* --- hand-built replies --- */

static redisReply *
reply(int type) {
    redisReply *r = xcalloc(1, sizeof *r);
    r->type = type;
    return r;
}

static redisReply *
str(const char *s) {
    redisReply *r = reply(REDIS_REPLY_STRING);
    r->str = xstrdup(s);
    r->len = strlen(s);
    return r;
}

static redisReply *
integer(long long v) {
    redisReply *r = reply(REDIS_REPLY_INTEGER);
    r->integer = v;
    return r;
}

static redisReply *
array(size_t n, ...) {
    redisReply *r = reply(REDIS_REPLY_ARRAY);
    r->elements = n;
    r->element = xcalloc(n ? n : 1, sizeof *r->element);
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) r->element[i] = va_arg(ap, redisReply *);
    va_end(ap);
    return r;
}

static void
reply_free(redisReply *r) {
    for (size_t i = 0; i < r->elements; i++) reply_free(r->element[i]);
    free(r->element);
    free(r->str);
    free(r);
}

Test(stats, parse_counts_series_and_workers) {
    /* Now: 1 700 000 000 000 ms = minute 28333333, second 20 of it. */
    int64_t now = 1700000000000LL;
    char m_now[24], m_prev[24], at_fresh[160], at_old[160];
    snprintf(m_now, sizeof m_now, "%lld", (long long)(now / 60000));
    snprintf(m_prev, sizeof m_prev, "%lld", (long long)(now / 60000 - 1));
    snprintf(at_fresh, sizeof at_fresh,
             "{\"host\":\"h\",\"pid\":5,\"inflight\":2,\"processed\":9,\"at\":%lld}",
             (long long)(now - 500));
    snprintf(at_old, sizeof at_old, "{\"host\":\"g\",\"pid\":6,\"at\":%lld}",
             (long long)(now - 9000));
    redisReply *r = array(
        9,
        array(12, str("submitted"), str("10"), str("finished"), str("6"), str("failed"), str("2"),
              str("failed:http_404"), str("1"), str("failed:timeout"), str("1"), str("lat:3"),
              str("6")),
        integer(7), integer(3), integer(1), integer(2),
        array(4, str("w1"), str(at_fresh), str("w2"), str(at_old)),
        array(2,
              array(2, str(m_prev),
                    array(6, str("f:50"), str("4"), str("x:59"), str("1"), str("l:5:2"), str("4"))),
              array(2, str(m_now),
                    array(6, str("f:0"), str("2"), str("x:20"), str("1"), str("l:0:3"), str("2")))),
        array(2, str("n|GET|/healthz|200"), str("3")),
        array(2, str("http://hooks.example/x"), str("{\"error\":\"HTTP 500\"}")));
    struct stats_snapshot s;
    cr_assert_eq(stats_parse(r, now, 600, &s), 0);
    cr_assert_eq(s.submitted, 10);
    cr_assert_eq(s.finished, 6);
    cr_assert_eq(s.failed, 2);
    cr_assert_eq(s.nreasons, 2);
    cr_assert_eq(s.queued, 4, "XLEN 7 minus 3 pending");
    cr_assert_eq(s.running, 3);
    cr_assert_eq(s.retrying, 1);
    cr_assert_eq(s.failed_set, 2);
    cr_assert_eq(s.latency.count[3], 6);
    cr_assert_eq(s.nworkers, 2);
    cr_assert_str_eq(s.workers[0].host, "h");
    cr_assert_eq(s.workers[0].inflight, 2);
    cr_assert_eq(s.workers[1].at_ms, now - 9000);
    cr_assert_eq(s.nhttp, 1);
    cr_assert_eq(s.nhook_failing, 1);
    cr_assert_str_eq(s.hook_failing[0].url, "http://hooks.example/x");
    cr_assert_eq(s.step_s, 10);
    cr_assert(s.npoints >= 60 && s.npoints <= 61, "%zu", s.npoints);
    cr_assert_eq(s.window_finished, 6);
    cr_assert_eq(s.window_failed, 2);
    cr_assert_eq(s.last_minute_finished, 6, "all within the last 60 s");
    cr_assert_eq(stats_hist_total(&s.window_latency), 6);
    /* The last point holds second 20 of this minute: one failure. */
    struct stats_point *last = &s.points[s.npoints - 1];
    cr_assert_eq(last->failed, 1);
    cr_assert_eq(last->t_ms, now);
    cr_assert_eq(last->seconds, 1, "a step just begun");
    stats_snapshot_free(&s);

    /* A wrong shape is refused, not guessed at. */
    redisReply *bad = array(2, integer(1), integer(2));
    cr_assert_eq(stats_parse(bad, now, 600, &s), -1);
    reply_free(bad);
    reply_free(r);
}

Test(stats, record_script_gets_the_same_bounds) {
    /* The queue scripts get the latency bounds as text made from the same
     * macro as the C array; read it back the way the Lua does (every run
     * of digits, in order). */
    const char *p = STATS_MS_BOUNDS_TEXT;
    int n = 0;
    while (*p) {
        if (*p < '0' || *p > '9') {
            p++;
            continue;
        }
        char *end;
        long long v = strtoll(p, &end, 10);
        cr_assert_lt(n, STATS_MS_NB);
        cr_assert_eq(v, stats_ms_bounds[n], "bound %d", n);
        n++;
        p = end;
    }
    cr_assert_eq(n, STATS_MS_NB);
    cr_assert_str_eq(STATS_TS_TTL, "3900");
}
