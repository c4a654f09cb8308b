/* hosts — per-host politeness state in Redis, shared by every worker
 * process and machine: fetch slots, pacing, pauses, and the robots.txt
 * each origin served (keys.h lists the keys; common/lua/host_*.lua and
 * robots_put.lua are the scripts).
 *
 * A host is "host:port" (lower case, the port always written); an origin
 * is "scheme://host:port" (robots.txt is per origin, RFC 9309 2.3).
 *
 * A slot is a lease: hosts_acquire stores it with an expiry of lease_ms,
 * hosts_renew pushes that on while the fetch runs, and hosts_release
 * frees it. A worker that dies stops renewing, and its slots lapse after
 * lease_ms (the runner passes JOB_RESCUE_AFTER), so no host stays
 * blocked for longer than that.
 *
 * Every function that takes a callback follows the redis_uv contract: 0
 * and one callback later, or a negative UV_* error and none. Strings in
 * callbacks are valid only during them. */
#ifndef WC_HOSTS_H
#define WC_HOSTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/keys.h"
#include "common/redis_uv.h"

/* Longest host ("name:port") and origin ("https://name:port") kept. */
#define HOSTS_NAME_MAX 300

/* Longest pause a Retry-After may ask for (the 1 h). */
#define HOSTS_MAX_PAUSE_MS 3600000

/* hosts_of_url writes url's host ("example.com:443") and origin
 * ("https://example.com:443"), lower case; returns 0, or -1 when url is
 * not an http(s) URL with a host. */
int hosts_of_url(const char *url, char host[HOSTS_NAME_MAX + 1], char origin[HOSTS_NAME_MAX + 1]);

/* What hosts_acquire answers. */
struct hosts_grant {
    bool granted;
    int64_t wait_ms;    /* when not granted: how long before it may be */
    const char *reason; /* when not granted: host_paused, host_busy or host_pacing */
};

struct hosts_limits {
    int concurrency;  /* 0: no limit */
    int delay_ms;     /* least time between two starts */
    int max_delay_ms; /* cap on every delay */
    int lease_ms;     /* a slot not renewed for this long is free */
};

typedef void (*hosts_acquire_cb)(int status, const struct hosts_grant *g, const char *errstr,
                                 void *arg);
/* woken: the id of a job that waited for this host, or NULL. */
typedef void (*hosts_release_cb)(int status, const char *woken, const char *errstr, void *arg);

/* hosts_acquire takes one slot of host under token (unique per fetch). */
int hosts_acquire(redis_uv_t *r, const struct keys *k, const char *host, const char *token,
                  const struct hosts_limits *lim, hosts_acquire_cb cb, void *arg);
/* hosts_release frees token's slot and records the answer: http_status
 * (0: no answer) and retry_after_ms (-1: none). cb may be NULL. */
int hosts_release(redis_uv_t *r, const struct keys *k, const char *host, const char *token,
                  long http_status, int64_t retry_after_ms, const struct hosts_limits *lim,
                  hosts_release_cb cb, void *arg);
/* hosts_next_waiter pops the job that has waited longest for host (cb's
 * woken), for when the one a release woke was no longer waiting. */
int hosts_next_waiter(redis_uv_t *r, const struct keys *k, const char *host, hosts_release_cb cb,
                      void *arg);
/* hosts_renew pushes the expiry of token's slot to now + lease_ms (no
 * callback; a failure is harmless until the lease lapses). */
int hosts_renew(redis_uv_t *r, const struct keys *k, const char *host, const char *token,
                int lease_ms);

/* --- robots.txt per origin --- */

/* The states of an origin's robots.txt: "ok" (rules in body), "none"
 * (4xx: everything allowed), "unavailable" (5xx or unreachable:
 * everything disallowed until it expires). */
struct hosts_robots {
    const char *state; /* NULL: not known (never fetched, or expired) */
    const char *body;
    size_t len;
    int64_t expires_at; /* ms since the epoch */
};
typedef void (*hosts_robots_cb)(int status, const struct hosts_robots *rb, const char *errstr,
                                void *arg);
typedef void (*hosts_lock_cb)(int status, bool won, const char *errstr, void *arg);

int hosts_robots_get(redis_uv_t *r, const struct keys *k, const char *origin, hosts_robots_cb cb,
                     void *arg);
/* hosts_robots_lock lets one worker fetch origin's robots.txt: won is
 * true for the caller that set the lock (it expires after ttl_ms). */
int hosts_robots_lock(redis_uv_t *r, const struct keys *k, const char *origin, const char *owner,
                      int ttl_ms, hosts_lock_cb cb, void *arg);
/* hosts_robots_unlock frees the lock when the fetch could not start. No callback. */
int hosts_robots_unlock(redis_uv_t *r, const struct keys *k, const char *origin);
/* hosts_robots_put stores what was learned, frees the lock, and shows the
 * state and Crawl-delay (-1: none) on host. No callback. */
int hosts_robots_put(redis_uv_t *r, const struct keys *k, const char *origin, const char *host,
                     const struct hosts_robots *rb, long crawl_delay_ms, long http_status);

/* --- the operator's view --- */

struct hosts_row {
    char host[HOSTS_NAME_MAX + 1];
    long long inflight, waiting;
    int64_t paused_until; /* 0: not paused */
    long long seen_429, seen_503, fetches;
    char robots[16];
    long long delay_ms;
};
/* rows: the busiest of the most recently active hosts, by in flight plus
 * waiting, then by recency; at most the n asked for. */
typedef void (*hosts_view_cb)(int status, const struct hosts_row *rows, size_t n,
                              const char *errstr, void *arg);
/* hosts_view reads the scan most recently active hosts and answers the
 * top of them (top <= scan <= HOSTS_VIEW_MAX); k must outlive the call. */
#define HOSTS_VIEW_MAX 200
int hosts_view(redis_uv_t *r, const struct keys *k, int scan, int top, hosts_view_cb cb, void *arg);

#endif
