/* stats — the figures behind GET /api/v1/stats and GET /metrics, kept in
 * Redis in structures whose size does not grow with the number of jobs:
 * no scan of keys, no count of rows. A read costs the same with a million
 * jobs as with ten.
 *
 * Owns: the layout of the hashes below (common/keys.h names the keys), the
 * histogram bucket bounds, the Lua that records a job's end
 * (common/lua/lib/stats_record.lua, included by the queue's finish, fail
 * and start scripts), the script that reads everything in one atomic
 * step (common/lua/stats_read.lua), and the snapshot parsed from its
 * answer (stats_snapshot_free releases it).
 *
 *   {p}stats        hash  counters: submitted, started, finished, failed,
 *                         failed:<code>, retried, rescued, canceled,
 *                         requeued; histograms (one field per bucket, not
 *                         cumulative, plus a sum): lat:<b> lat_sum (submit
 *                         -> finished, ms), dur:<b> dur_sum (started ->
 *                         finished, ms), fetch:<b> fetch_sum (ms),
 *                         bytes:<b> bytes_sum (page bytes)
 *   {p}ts:<minute>  hash  one per minute (Unix time / 60): f:<s> and x:<s>
 *                         jobs finished and failed in second s of it;
 *                         l:<slot>:<b> latency histogram per ten seconds;
 *                         expires an hour after its last write
 *   {p}http         hash  web requests: n|<method>|<route>|<status> count,
 *                         h|<method>|<route>|<b> duration histogram and
 *                         s|<method>|<route> sum (µs); see web/http_metrics.h
 *   {p}workers      hash  consumer -> heartbeat JSON {host, pid, inflight,
 *                         processed, failed, retried, rescued, at} written
 *                         by worker/runner.c; entries silent for
 *                         STATS_WORKER_PRUNE_MS are deleted by the read
 *
 * Gauges come from the queue's own structures: queued = XLEN of the
 * stream minus its pending deliveries (XINFO GROUPS), running = pending
 * deliveries, retrying = ZCARD of the retry set, failed_set = ZCARD of
 * the failed set. */
#ifndef WC_STATS_H
#define WC_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "common/keys.h"
#include "common/redis_uv.h"

/* Bucket upper bounds (inclusive). A value above the last bound lands in
 * the overflow bucket (+Inf). The lists are macros so the C arrays and the
 * text handed to the Lua scripts (STATS_MS_BOUNDS_TEXT) cannot disagree. */
#define STATS_MS_BOUNDS                                                                            \
    10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 1800000
#define STATS_MS_NB 14
#define STATS_BYTES_BOUNDS 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 10485760
#define STATS_BYTES_NB 8
#define STATS_US_BOUNDS 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000
#define STATS_US_NB 10
#define STATS_MAX_NB 14

/* How long the per-minute hashes live, and the widest window a read covers. */
#define STATS_TS_TTL_S 3900
#define STATS_WINDOW_MAX_S 3600
/* A worker entry older than this is deleted from the registry. */
#define STATS_WORKER_PRUNE_MS (10 * 60 * 1000)

extern const int64_t stats_ms_bounds[STATS_MS_NB];
extern const int64_t stats_bytes_bounds[STATS_BYTES_NB];
extern const int64_t stats_us_bounds[STATS_US_NB];

#define STATS_STR_(...) #__VA_ARGS__
#define STATS_STR(...) STATS_STR_(__VA_ARGS__)

/* What the queue's scripts get in ARGV to record a job's end
 * (common/lua/lib/stats_record.lua): the per-minute hash's lifetime in
 * seconds, and the latency bounds as text ("10, 25, ..."). */
#define STATS_TS_TTL STATS_STR(STATS_TS_TTL_S)
#define STATS_MS_BOUNDS_TEXT STATS_STR(STATS_MS_BOUNDS)

/* One histogram: count[i] for bucket i (nb finite buckets, then +Inf). */
struct stats_hist {
    int nb;
    const int64_t *bounds;
    long long count[STATS_MAX_NB + 1];
    long long sum;
};

struct stats_reason {
    char code[64];
    long long n;
};

struct stats_worker {
    char id[160];
    char host[256];
    long long pid, inflight, processed, failed, retried, rescued;
    int64_t at_ms; /* last heartbeat */
};

/* One step of the time series (step_s seconds starting at t_ms). */
struct stats_point {
    int64_t t_ms;
    int seconds; /* seconds covered (the last step may be partial) */
    long long finished, failed;
    struct stats_hist latency;
};

/* A callback URL whose last webhook attempt failed, and that attempt (JSON
 * {at, webhook_id, attempt, status, latency_ms, error, job}). */
struct stats_hook_failing {
    char *url;
    char *last;
};

/* A raw field of the {p}http hash (web/http_metrics.h explains the names). */
struct stats_field {
    char *name;
    long long value;
};

struct stats_snapshot {
    int64_t now_ms;
    long long submitted, started, finished, failed, retried, rescued, canceled, requeued;
    long long queued, running, retrying, failed_set;
    struct stats_reason *reasons;
    size_t nreasons;
    struct stats_hist latency, duration, fetch, bytes;
    struct stats_worker *workers;
    size_t nworkers;
    int window_s, step_s;
    struct stats_point *points;
    size_t npoints;
    long long window_finished, window_failed;
    struct stats_hist window_latency;
    long long last_minute_finished, last_minute_failed;
    struct stats_field *http;
    size_t nhttp;
    long long webhook_delivered, webhook_retried, webhook_failed;
    struct stats_hook_failing *hook_failing; /* callback URLs whose last attempt failed */
    size_t nhook_failing;
};

/* status 0 with snap filled (valid during the call), or a negative UV_*
 * error and a message. */
typedef void (*stats_read_cb)(int status, const struct stats_snapshot *snap, const char *errstr,
                              void *arg);

/* stats_read reads everything in one EVAL. window_s (60..STATS_WINDOW_MAX_S)
 * is the span of the time series; the step is window_s / 60 rounded up to
 * ten seconds. Follows the redis_uv contract (0 and cb once, or < 0 and
 * no cb). */
int stats_read(redis_uv_t *redis, const struct keys *keys, int64_t now_ms, int window_s,
               stats_read_cb cb, void *arg);

/* stats_observe adds value to the histogram named name ("fetch", "bytes")
 * in {p}stats, with the given bounds. Fire and forget: errors are logged
 * at debug level only, as statistics must never hold up work. */
void stats_observe(redis_uv_t *redis, const struct keys *keys, const char *name,
                   const int64_t *bounds, int nb, int64_t value);
/* stats_incr sends HINCRBY for n (field, delta) pairs to key in one
 * script (fire and forget as above). At most 256 pairs. */
int stats_incr(redis_uv_t *redis, const char *key, const char *const *fields,
               const long long *deltas, size_t n);

/* stats_bucket returns the bucket of value (nb for overflow). */
int stats_bucket(const int64_t *bounds, int nb, int64_t value);
/* stats_hist_init empties h and sets its bounds. */
void stats_hist_init(struct stats_hist *h, const int64_t *bounds, int nb);
/* stats_hist_total returns the number of observations. */
long long stats_hist_total(const struct stats_hist *h);
/* stats_quantile estimates quantile q (0..1) by linear interpolation inside
 * the bucket it falls in (as Prometheus' histogram_quantile does); the
 * overflow bucket answers its lower bound. Returns -1 when h is empty. */
double stats_quantile(const struct stats_hist *h, double q);

/* stats_parse fills snap from the read script's reply (exposed for tests).
 * Returns 0, or -1 when the reply has the wrong shape. */
int stats_parse(const redisReply *r, int64_t now_ms, int window_s, struct stats_snapshot *snap);
void stats_snapshot_free(struct stats_snapshot *snap);

#endif
