/* runner — one worker process's job engine on one libuv loop.
 *
 * Owns: the process's Redis connections, two per shard (common/shards.h:
 * one for commands, one for the blocking XREADGROUP), its Postgres
 * connection, the curl multi glue, the tasks in flight (up to
 * WORKER_CONCURRENCY), and the heartbeat. worker/runner.c has the
 * tasks, the takes, construction, drain and close; worker/runner_shard.c
 * what the process does on each shard (connections, the rescue embargo
 * after an outage, rescue scans, retry promotion, lease renewals);
 * worker/runner_int.h is what the two share.
 *
 * Shards: every shard is read by every process, fairly: takes go round
 * the shards one at a time, each asking for the room there is, and one
 * that finds nothing goes on to the next at once; only a whole round
 * that found nothing blocks (TAKE_BLOCK_MS shared among the shards), so
 * no shard waits behind a deep or an empty one. A task's every step goes
 * to its job's shard; rescue scans, retry promotion and lease renewals
 * run on each shard on their own, and a shard's outage pauses only its
 * own rescues. The workers registry (a process key) is on shard 0.
 *
 * A task goes: take (XREADGROUP) -> start (job started in Redis) ->
 * analyze (fetch, extract, count) -> store (INSERT, idempotent) -> finish
 * (job finished, delivery acknowledged), or -> fail (job failed with a
 * code and message, acknowledged). A store or finish that cannot reach its
 * server is retried with backoff; nothing is acknowledged before the
 * result is committed. JOB_TIMEOUT bounds fetching and counting.
 *
 * Life cycle: runner_new starts connecting and taking; runner_drain stops
 * taking (deliveries still arriving from a take sent before are handed
 * straight back), lets the tasks in flight finish for grace_ms, then
 * hands the unfinished ones back to the queue (queue_release: they run
 * again at once elsewhere, the attempt not counted) and calls drained_cb
 * once nothing is in flight; a second runner_drain hands back at once.
 * Handing back needs Redis: when it is not done RUNNER_HANDBACK_MS after
 * it began, or on a third runner_drain, the runner stops now: it abandons
 * what it still holds (rescued by lease after JOB_RESCUE_AFTER) and calls
 * drained_cb without waiting for Redis or Postgres to answer. So
 * drained_cb always runs within grace_ms + RUNNER_HANDBACK_MS.
 * runner_close then releases everything (cancelling what still waits on
 * a server) and calls close_cb when the memory is gone. */
#ifndef WC_RUNNER_H
#define WC_RUNNER_H

#include <stdint.h>
#include <uv.h>

#include "common/config.h"
#include "worker/stopwords.h"

/* How long handing jobs back may take before they are abandoned (ms). */
#define RUNNER_HANDBACK_MS 3000

typedef struct runner runner_t;
typedef void (*runner_cb)(runner_t *r, void *arg);

/* runner_new returns NULL with a message in err when a URL in cfg is invalid. */
runner_t *runner_new(uv_loop_t *loop, const struct config *cfg, const struct stopwords *sw,
                     const char *consumer, char *err, size_t errlen);
/* runner_drain stops taking jobs; drained_cb runs once nothing is in
 * flight, or at the latest grace_ms + RUNNER_HANDBACK_MS later. */
void runner_drain(runner_t *r, int grace_ms, runner_cb drained_cb, void *arg);
/* runner_close releases everything; call after drained_cb. Steps still
 * waiting on Redis or Postgres are canceled (their jobs are rescued). */
void runner_close(runner_t *r, runner_cb close_cb, void *arg);
/* runner_inflight returns how many jobs are in flight. */
int runner_inflight(const runner_t *r);

#endif
