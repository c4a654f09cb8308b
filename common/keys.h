/* keys — the Redis key schema, every key under the configured prefix.
 *
 * Pure functions over a struct keys (no I/O), so they are unit-tested.
 * Each writes into a caller-owned struct keybuf and returns its string.
 *
 *   {p}job:{id}        hash   the job's state (see common/queue.h for fields)
 *   {p}queue           stream the queue; entries carry field "id"; consumer
 *                             group KEYS_GROUP; XACK+XDEL when a job ends
 *   {p}retry           zset   jobs waiting out a backoff, score = due time (ms)
 *   {p}failed          zset   failed jobs, score = failure time (ms)
 *   {p}workers         hash   consumer name -> heartbeat JSON
 *   {p}stats           hash   counters (submitted, finished, failed, ...)
 *   {p}idem:{key}      string Idempotency-Key -> job id (24 h)
 */
#ifndef WC_KEYS_H
#define WC_KEYS_H

#include <stddef.h>

#define KEYS_GROUP "workers"
#define KEYS_PREFIX_MAX 64

struct keys {
    char prefix[KEYS_PREFIX_MAX + 1];
};

/* A key: prefix (64) + name (16) + argument (up to 256). */
struct keybuf {
    char s[352];
};

/* keys_init copies the prefix; returns 0, or -1 when it is too long. */
int keys_init(struct keys *k, const char *prefix);
const char *keys_job(const struct keys *k, const char *id, struct keybuf *out);
const char *keys_queue(const struct keys *k, struct keybuf *out);
const char *keys_retry(const struct keys *k, struct keybuf *out);
const char *keys_failed(const struct keys *k, struct keybuf *out);
const char *keys_workers(const struct keys *k, struct keybuf *out);
const char *keys_stats(const struct keys *k, struct keybuf *out);
/* keys_idem returns NULL when the idempotency key is longer than 256 bytes. */
const char *keys_idem(const struct keys *k, const char *idem, struct keybuf *out);

#endif
