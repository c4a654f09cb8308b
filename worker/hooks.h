/* hooks — webhook deliveries, run by every worker process beside its jobs.
 *
 * When a job with a callback_url ends (finished, failed, canceled), the
 * queue script that ends it records a delivery in the same step
 * (common/lua/lib/hook.lua): a record {p}hook:{id} and the job's id in
 * the set {p}hooks, scored by when it is due (keys.h). So a delivery
 * exists as soon as the end does, whoever made it (a worker, a cancel in
 * the web, an operator), and survives any process.
 *
 * Each worker process takes due deliveries (worker/lua/hooks_claim.lua)
 * under a lease (WEBHOOK_TIMEOUT + HOOKS_LEASE_SLACK_MS: the delivery's
 * score moves to the lease's end), POSTs the job's JSON (as GET
 * /api/v1/jobs/{id} shows it, built at the first attempt and kept, so
 * every attempt sends the same bytes) with the Standard Webhooks headers
 * (webhook-id stable across attempts, webhook-timestamp, webhook-signature
 * by every WEBHOOK_SECRET key; common/webhook_sig.h), and records the
 * outcome (worker/lua/hooks_done.lua). Any 2xx within WEBHOOK_TIMEOUT is
 * delivered; anything else is retried after WEBHOOK_RETRY_BASE doubling
 * per attempt up to WEBHOOK_RETRY_MAX (common/backoff: a random point in
 * the upper half),
 * until WEBHOOK_RETRY_FOR after the job's end, and then failed. A callback
 * whose address the fetch policy refuses (common/addr_policy.h, checked
 * on every address the name resolves to) fails at once. Redirects are not
 * followed. A process killed mid-delivery leaves the lease to run out:
 * delivery is at least once, and receivers deduplicate by webhook-id.
 *
 * Owns: its own Redis connection, its own curl_uv, a poll timer, and the
 * deliveries in flight (at most WEBHOOK_CONCURRENCY). The config is
 * borrowed.
 *
 * Life cycle: hooks_new starts polling; hooks_stop stops taking new
 * deliveries (those in flight go on); hooks_close cancels what is still
 * in flight (its leases run out, another process delivers it) and calls
 * cb once every handle is closed. Batches (when they come) record their
 * deliveries the same way, under their own id. */
#ifndef WC_HOOKS_H
#define WC_HOOKS_H

#include <stddef.h>
#include <uv.h>

#include "common/config.h"

/* How often a process looks for due deliveries when it found none. */
#define HOOKS_POLL_MS 250
/* A lease outlasts one attempt's timeout by this much. */
#define HOOKS_LEASE_SLACK_MS 5000
/* An ended delivery record (and its attempts) is kept this long. */
#define HOOKS_KEEP_S (7 * 86400)
/* Response bytes read from a receiver before the answer is cut short. */
#define HOOKS_MAX_RESPONSE 65536

typedef struct hooks hooks_t;

/* hooks_new connects to shard's Redis (common/shards.h: a job's delivery
 * is recorded on its shard; a process runs one hooks_t per shard) and
 * starts polling; NULL with a message in err when REDIS_URL is unusable. */
hooks_t *hooks_new(uv_loop_t *loop, const struct config *cfg, int shard, char *err, size_t errlen);
/* hooks_stop stops taking deliveries. */
void hooks_stop(hooks_t *h);
/* hooks_close stops, cancels what is in flight, and calls cb when done. */
void hooks_close(hooks_t *h, void (*cb)(void *arg), void *arg);
#endif
