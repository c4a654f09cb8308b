/* http_metrics — request counts and durations of one web process, added
 * up in memory and flushed to Redis every second, so /metrics shows every
 * process's requests whichever process answers the scrape.
 *
 * Owns: a small fixed table of (method, route, status) counts and of
 * (method, route) duration histograms (route is the router's pattern, so
 * ids do not make new series; "unmatched" for 404/405 answers), and the
 * flush timer. Each flush adds the deltas to {p}http (keys_http) in
 * one HINCRBY script and zeroes them; a flush that fails is not retried
 * (these are statistics, not jobs). Field names in {p}http:
 *   n|<method>|<route>|<status>   requests answered
 *   h|<method>|<route>|<bucket>   duration histogram (stats_us_bounds)
 *   s|<method>|<route>            summed duration, microseconds
 *
 * Life cycle: embedded by its owner (struct app); http_metrics_init
 * starts the timer, http_metrics_close flushes once, closes the timer and
 * calls cb. Strings passed to observe must outlive the struct (they are
 * the route table's patterns and http_parser's method names). */
#ifndef WC_HTTP_METRICS_H
#define WC_HTTP_METRICS_H

#include <stdint.h>
#include <uv.h>

#include "common/keys.h"
#include "common/redis_uv.h"
#include "common/stats.h"

#define HTTP_METRICS_MAX_COUNTS 128
#define HTTP_METRICS_MAX_ROUTES 48
#define HTTP_METRICS_FLUSH_MS 1000

struct http_metrics_count {
    const char *method, *route;
    int status;
    long long n;
};

struct http_metrics_route {
    const char *method, *route;
    long long bucket[STATS_US_NB + 1];
    long long sum_us;
};

typedef void (*http_metrics_closed_cb)(void *arg);

struct http_metrics {
    redis_uv_t *redis; /* borrowed */
    struct keybuf key; /* {p}http */
    uv_timer_t timer;
    struct http_metrics_count counts[HTTP_METRICS_MAX_COUNTS];
    size_t ncounts;
    struct http_metrics_route routes[HTTP_METRICS_MAX_ROUTES];
    size_t nroutes;
    bool dirty;
    http_metrics_closed_cb closed_cb;
    void *closed_arg;
};

void http_metrics_init(struct http_metrics *m, uv_loop_t *loop, redis_uv_t *redis,
                       const struct keys *keys);
/* http_metrics_observe records one answer. route NULL: no route matched. */
void http_metrics_observe(struct http_metrics *m, const char *method, const char *route, int status,
                          uint64_t elapsed_ns);
/* http_metrics_flush sends the deltas now (the timer calls it). */
void http_metrics_flush(struct http_metrics *m);
void http_metrics_close(struct http_metrics *m, http_metrics_closed_cb cb, void *arg);

#endif
