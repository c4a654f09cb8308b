/* polite — the one place a worker asks "may I fetch this URL now, and if
 * not, why and until when?" (DESIGN.md, "Fetch policy is one module").
 *
 * Owns, per worker process: the checks in flight, the robots.txt fetches
 * it makes for them, a small cache of parsed robots.txt (by origin, kept
 * until the shared entry in Redis expires), and the host slots its tasks
 * hold, which it renews every HEARTBEAT_INTERVAL so they outlive a long
 * fetch but lapse within JOB_RESCUE_AFTER when the process dies.
 *
 * A check, in order:
 *   1. robots.txt (FETCH_ROBOTS=respect): known here, else read from
 *      Redis, else fetched by the one worker that wins the origin's lock
 *      (under a host slot, with the limits of any fetch). A check that
 *      finds another worker fetching it waits here, holding no slot,
 *      reading Redis again with backoff for as long as that fetch may
 *      take (FETCH_TIMEOUT and a second), then judges by what it
 *      stored; only when it is still not there does the check answer
 *      POLITE_WAIT robots_pending. 2xx: its rules (first 500 KiB), cached for at
 *      most 24 h or its Cache-Control max-age; 4xx: everything allowed
 *      as long; 5xx or 429: everything disallowed for FETCH_ROBOTS_RETRY;
 *      no answer (connection, DNS, timeout): disallowed, kept 1 s, the
 *      job retried by its own backoff with the fetch's error code. A
 *      disallowed URL is POLITE_DISALLOWED (with the rule), a robots.txt
 *      not had POLITE_ROBOTS_UNAVAILABLE.
 *   2. the host's slot (hosts.h): granted (POLITE_GO, slot held) or
 *      POLITE_WAIT with the reason and how long.
 * With FETCH_HOST_CONCURRENCY=0, FETCH_HOST_DELAY_MS=0 and
 * FETCH_ROBOTS=ignore, a check answers POLITE_GO at once (before
 * polite_check returns), touching nothing (politeness off).
 *
 * Life cycle: polite_check returns 0 and calls cb exactly once (perhaps
 * before it returns, when the answer is known here), or a negative error
 * and never. A slot granted is the caller's until
 * polite_release. polite_close cancels robots.txt fetches (their checks
 * answer UV_ECANCELED) and calls back once its timer has closed; the
 * caller must have released every slot by then or they lapse on their
 * own. Checks waiting for another worker's robots.txt answer UV_ECANCELED
 * at polite_close. */
#ifndef WC_POLITE_H
#define WC_POLITE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "common/config.h"
#include "common/hosts.h"
#include "common/keys.h"
#include "common/queue.h"
#include "common/redis_uv.h"
#include "worker/curl_uv.h"

typedef struct polite polite_t;

/* A host slot a task holds; embedded in the task, linked in polite's
 * renewal list while held. */
struct polite_slot {
    struct polite_slot *prev, *next;
    bool held;
    char host[HOSTS_NAME_MAX + 1];
    char token[192];
};

enum polite_verdict {
    POLITE_GO,                 /* fetch now (the slot is held, if any) */
    POLITE_WAIT,               /* wait wait_ms: reason, on host */
    POLITE_DISALLOWED,         /* robots.txt disallows it: detail names the rule */
    POLITE_ROBOTS_UNAVAILABLE, /* robots.txt not had: code says why (robots_unavailable for a
                                  5xx or 429; connect, dns, timeout...), wait_ms until it is
                                  tried again */
};

struct polite_answer {
    enum polite_verdict verdict;
    int64_t wait_ms;
    const char *reason; /* POLITE_WAIT: host_busy, host_paused, host_pacing, robots_pending */
    const char *code;   /* POLITE_ROBOTS_UNAVAILABLE: the job's error code */
    const char *host;   /* "host:port" */
    const char *detail; /* for people */
};

/* status: 0, or a negative UV_* error (Redis did not answer; the check can
 * be tried again); a is valid only during the call. */
typedef void (*polite_cb)(int status, const struct polite_answer *a, void *arg);

/* One Redis shard as polite reaches it (borrowed: the runner's). A
 * host's slots, pacing and robots.txt live on the host's shard
 * (common/shards.h), whichever shard the job that asks is on. */
struct polite_shard {
    redis_uv_t *redis;
    const struct keys *keys;
    struct queue *queue;
};

/* polite_new copies the array of n shards (not what they point to). */
polite_t *polite_new(uv_loop_t *loop, const struct config *cfg, const struct polite_shard *shards,
                     int nshards, curl_uv_t *curl, const char *consumer);
/* polite_enabled: false when politeness is off (see above). */
bool polite_enabled(const polite_t *p);
int polite_check(polite_t *p, const char *url, struct polite_slot *slot, polite_cb cb, void *arg);
/* polite_release frees slot (if held) and records the answer that the
 * fetch got: http_status (0: none) and retry_after_ms (-1: none). A job
 * waiting for the host is woken. */
void polite_release(polite_t *p, struct polite_slot *slot, long http_status,
                    int64_t retry_after_ms);
/* polite_cancel ends the check for slot (its cb runs with UV_ECANCELED)
 * when it waits for another worker's robots.txt: now, or when the Redis
 * read it is making answers (with the robots.txt, if that read found
 * it); the checks of this process that waited with it wait on. A check waiting
 * on Redis or on its own robots.txt fetch answers when that does. */
void polite_cancel(polite_t *p, struct polite_slot *slot);
void polite_close(polite_t *p, void (*cb)(void *arg), void *arg);

#endif
