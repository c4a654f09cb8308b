/* queue — job operations on Redis, written on top of redis_uv.
 *
 * Owns: the field layout of the job hash (keys_job) and the calls that
 * change it (each one Lua script, common/lua/queue_*.lua, so every change
 * is atomic; common/job.h lists the transitions):
 *   id, url, url_key (the normalised URL), status, attempts, created_at,
 *   started_at, finished_at,
 *   batch (the batch that created it, common/batch.h),
 *   next_attempt_at (ms since epoch), error, error_code, history (JSON
 *   list of failed attempts), entry (the stream entry of the current
 *   delivery), worker (the consumer holding it while started).
 *
 * Delivery is at least once through a Redis stream and consumer group
 * (keys.h). A script that touches jobs named by data (promote, the failed
 * set's list and retry) runs after a plain read of their ids, so that it
 * too is given every key in KEYS[]; it checks again what it read. A worker takes deliveries with XREADGROUP, holds a lease on
 * each by renewing it (queue_renew, every heartbeat), and acknowledges
 * only when the result is committed (queue_finish) or the job has ended
 * otherwise (fail, retry, release). Deliveries whose lease lapsed are
 * taken over by another worker (queue_rescue, XAUTOCLAIM) and start again;
 * a job whose workers keep dying ends failed (worker_lost) after
 * max_attempts deliveries. A worker that lost a lease can neither
 * acknowledge nor change the job. Ended jobs' hashes expire after
 * result_ttl_s; results live on in Postgres.
 *
 * Client side (web, CLI): submit, get, cancel, the failed set.
 * Worker side: queue_work.c.
 *
 * Every function that takes a callback follows the redis_uv contract: it
 * returns 0 and calls cb exactly once, or returns a negative UV_* error
 * and never calls cb. Data handed to a callback (jobs, entries, ids) is
 * owned by the queue and valid only during the callback. */
#ifndef WC_QUEUE_H
#define WC_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/job.h"
#include "common/keys.h"
#include "common/redis_uv.h"

/* How long a page's live pointer (keys_live) lives: past any retry
 * schedule; the submit script also checks the job it names is still live. */
#define QUEUE_LIVE_TTL_S (7 * 86400)
/* How long a page's note (common/keys.h, keys_page) lasts after its
 * newest job finished: a page submitted with max_age later than this is
 * looked up in Postgres, and one fetched again is fetched in full. */
#define QUEUE_PAGE_TTL_S (30 * 86400)

struct queue {
    redis_uv_t *redis; /* commands; not owned */
    struct keys keys;
    int result_ttl_s;
};

/* One delivery taken from the stream. */
struct queue_entry {
    char stream_id[48];
    char job_id[JOB_ID_LEN + 1];
};

/* status: 0, or a negative UV_* error (UV_ECONNRESET when Redis did not
 * answer, UV_EPROTO for an error reply); errstr says more. */
typedef void (*queue_job_cb)(int status, const struct job *job, const char *errstr, void *arg);
/* value: the script's answer (1 done / 0 not done, or a count). */
typedef void (*queue_done_cb)(int status, long long value, const char *errstr, void *arg);
typedef void (*queue_take_cb)(int status, const struct queue_entry *entries, size_t n,
                              const char *errstr, void *arg);
/* state: the job's state after the call ("canceled" when it worked), NULL when unknown. */
typedef void (*queue_cancel_cb)(int status, const char *state, const char *errstr, void *arg);
/* total: size of the failed set; jobs: this page, newest first. */
typedef void (*queue_list_cb)(int status, long long total, const struct job *jobs, size_t n,
                              const char *errstr, void *arg);
/* lost: deliveries this consumer no longer owns. */
typedef void (*queue_renew_cb)(int status, const char *const *lost, size_t n, const char *errstr,
                               void *arg);

/* outcome of a submit (queue_submit_with): the job was created; the
 * idempotency key was used before with the same body (replay: id names
 * that job) or with another body (conflict); the page's live job was
 * joined (deduplicated); or the caller's fresh result was taken
 * (cached). */
enum queue_submit_outcome {
    QUEUE_CREATED,
    QUEUE_REPLAY,
    QUEUE_CONFLICT,
    QUEUE_DEDUPLICATED,
    QUEUE_CACHED,
    /* max_age_ms asked, and Redis has no note of the page: nothing was
     * done; ask Postgres, then submit again (with cached_id, or without
     * max_age_ms). */
    QUEUE_FRESH_UNKNOWN
};
/* job: the new job (QUEUE_CREATED), or for QUEUE_CACHED from the page's
 * note the job as it finished (NULL when its copy expired: read it);
 * existing_id: the other job when not QUEUE_CREATED. */
typedef void (*queue_submit_cb)(int status, enum queue_submit_outcome outcome,
                                const struct job *job, const char *existing_id, const char *errstr,
                                void *arg);

/* What a submit asks for (queue_submit_with). Strings are the caller's,
 * copied before the call returns. */
struct queue_submit_req {
    const char *url;          /* as submitted; checked (url_norm) by the caller */
    const char *url_key;      /* its normalised form (common/url_norm.h) */
    const char *callback_url; /* NULL: none */
    bool fresh;               /* never join the page's live job */
    const char *cached_id;    /* a finished job whose result is fresh enough: the answer,
                                 nothing is created (NULL: none) */
    int64_t max_age_ms;       /* > 0: the page's newest finished job, if it ended less than
                                 this long ago (the page's note, keys_page), is the answer */
    const char *idem_key;     /* Idempotency-Key (NULL: none), at most 256 bytes */
    const char *body_hash;    /* with idem_key: the body's fingerprint */
    int idem_ttl_s;
};

void queue_init(struct queue *q, redis_uv_t *redis, const struct keys *keys, int result_ttl_s);

/* --- client side (queue_submit.c, queue.c) --- */

/* queue_submit creates a job for url (queued, new UUIDv7 id, created_at
 * now, url_key its normalised form) and appends it to the stream in one
 * step; cb gets the new job. It never joins a live job (see
 * queue_submit_with); UV_EINVAL (no callback) when url does not
 * normalise.
 * callback_url (NULL for none) is kept in the job hash: when the job
 * ends, a webhook delivery is recorded in the same step (worker/hooks.h).
 * Every state change is recorded in the job's event stream and announced
 * on the events channel (common/lua/lib/event.lua, keys.h). */
int queue_submit(struct queue *q, const char *url, const char *callback_url, queue_job_cb cb,
                 void *arg);
/* queue_submit_with submits r in one script (common/lua/queue_submit.lua),
 * in this order:
 *   - under an Idempotency-Key used before, nothing is done (replay or
 *     conflict); otherwise the key records the id the call answers with,
 *     for idem_ttl_s;
 *   - with cached_id, that job is the answer (QUEUE_CACHED);
 *   - with max_age_ms, the page's note (keys_page, written by
 *     queue_finish_with) decides: its job, when it ended that recently,
 *     is the answer (QUEUE_CACHED); an older one means no result is
 *     fresh enough (on to the rules below); no note at all answers
 *     QUEUE_FRESH_UNKNOWN and does nothing (Postgres may know). Without
 *     an idem_key, the copy of that job (keys_page_job, written with the
 *     note) is read first, as a poll reads a job; when it is fresh
 *     enough it is the answer and no script runs;
 *   - unless fresh, a page whose newest job (keys_live) is queued,
 *     started, retrying or waiting, with the same callback_url, answers
 *     with that job (QUEUE_DEDUPLICATED): under a burst of identical
 *     submissions from many clients, one job;
 *   - otherwise a new job is created and becomes the page's newest.
 * The live pointer names a job the script must be given in KEYS[]; when
 * it changed between this call's read and the script (a racing submit),
 * the script says so and the call reads it again (a few times, then
 * UV_EAGAIN). UV_EINVAL (no callback) for an unusable key or URL. */
int queue_submit_with(struct queue *q, const struct queue_submit_req *r, queue_submit_cb cb,
                      void *arg);
/* queue_get reads a job; job == NULL in cb when unknown or expired.
 * Returns UV_EINVAL (no callback) for a malformed id. */
int queue_get(struct queue *q, const char *id, queue_job_cb cb, void *arg);
/* queue_cancel cancels a queued or retrying job. */
int queue_cancel(struct queue *q, const char *id, queue_cancel_cb cb, void *arg);
/* queue_failed_list pages through the failed set, newest first. */
int queue_failed_list(struct queue *q, long offset, long limit, queue_list_cb cb, void *arg);
/* queue_failed_retry requeues the failed jobs ids (n of them, at most
 * 24), or, with ids == NULL, up to n (at most 1000) of the oldest; value
 * = how many were requeued. */
int queue_failed_retry(struct queue *q, const char *const *ids, size_t n, queue_done_cb cb,
                       void *arg);
/* queue_failed_delete deletes a failed job; value = 1, or 0 if not failed. */
int queue_failed_delete(struct queue *q, const char *id, queue_done_cb cb, void *arg);

/* --- worker side (queue_work.c) --- */

/* queue_ensure_group creates the consumer group (and stream) if missing. */
int queue_ensure_group(struct queue *q, queue_done_cb cb, void *arg);
/* queue_take reads up to count new deliveries for consumer, blocking up to
 * block_ms on the connection `blocking` (whose timeout must exceed it);
 * n == 0 when the block timed out. block_ms 0: no waiting, n == 0 when
 * there is nothing new. */
int queue_take(struct queue *q, redis_uv_t *blocking, const char *consumer, int count, int block_ms,
               queue_take_cb cb, void *arg);
/* queue_rescue takes over up to count deliveries idle for min_idle_ms
 * (their holder stopped renewing), scanning the pending list from
 * *cursor ("0-0" to start) and updating it. */
int queue_rescue(struct queue *q, const char *consumer, long min_idle_ms, int count,
                 char cursor[48], queue_take_cb cb, void *arg);
/* queue_start marks the delivered job started (attempts + 1). cb's job is
 * NULL when there is nothing to run (gone, ended, superseded, or out of
 * attempts and now failed worker_lost); that delivery was acknowledged. */
int queue_start(struct queue *q, const struct queue_entry *e, const char *consumer,
                int max_attempts, queue_job_cb cb, void *arg);
/* queue_renew renews the lease on n deliveries held by consumer. */
int queue_renew(struct queue *q, const char *consumer, const struct queue_entry *entries, size_t n,
                queue_renew_cb cb, void *arg);
/* queue_finish marks the job finished and acknowledges it; call only after
 * the result is committed. value 0: the lease was lost, nothing changed. */
int queue_finish(struct queue *q, const struct queue_entry *e, const char *consumer,
                 queue_done_cb cb, void *arg);
/* What a finish records besides the job's state. */
struct queue_result {
    /* The job's result field: JSON {total_words, unique_words, top}, kept
     * in the job hash so a poll of a finished job is answered from Redis
     * alone until the hash expires; NULL for none. */
    const char *summary;
    /* The page's normalised URL, whose note (keys_page) then names this
     * job as the page's newest finished one, with whether its stored
     * result has validators; NULL leaves the note alone. */
    const char *url_key;
    bool validators;
};
/* queue_finish_with is queue_finish recording res (may be NULL). */
int queue_finish_with(struct queue *q, const struct queue_entry *e, const char *consumer,
                      const struct queue_result *res, queue_done_cb cb, void *arg);
/* queue_page_noted asks whether the page whose normalised URL is url_key
 * has the note queue_finish_with leaves, saying its newest result has
 * validators: value 1 (that row may be looked up), 0 (not, or no note
 * within QUEUE_PAGE_TTL_S). */
int queue_page_noted(struct queue *q, const char *url_key, queue_done_cb cb, void *arg);
/* queue_fail marks the job failed for good (code, message), adds it to
 * the failed set, and acknowledges it. value 0: the lease was lost. */
int queue_fail(struct queue *q, const struct queue_entry *e, const char *consumer, const char *code,
               const char *message, queue_done_cb cb, void *arg);
/* queue_retry parks the job as retrying until due_ms, recording the error,
 * and acknowledges this delivery. value 0: the lease was lost. */
int queue_retry(struct queue *q, const struct queue_entry *e, const char *consumer, int64_t due_ms,
                const char *code, const char *message, queue_done_cb cb, void *arg);
/* queue_release hands a started job back to the queue at once, not
 * counting the attempt (a drain out of time). value 0: not ours. */
int queue_release(struct queue *q, const struct queue_entry *e, const char *consumer,
                  queue_done_cb cb, void *arg);
/* --- politeness (queue_wait.c) --- */

/* queue_defer parks the started job as waiting (reason: host_busy,
 * host_paused, host_pacing, robots_pending) until due_ms, not counting
 * the attempt, and acknowledges this delivery. A job waiting for a busy
 * host is also put on host's wait list (host_wait key), unless a slot is
 * free by now (host_slots key, limit): then it is queued again at once.
 * limit < 0: host's state is on another shard (common/shards.h; a
 * redirect to another host, a batch's job): the due time alone.
 * value: 1 waiting, 2 queued again, 0 the lease was lost. */
int queue_defer(struct queue *q, const struct queue_entry *e, const char *consumer, int64_t due_ms,
                const char *reason, const char *host, int limit, queue_done_cb cb, void *arg);
/* queue_wake queues a waiting job again at once (a slot of its host was
 * freed); value 0 when it was not waiting. */
int queue_wake(struct queue *q, const char *id, queue_done_cb cb, void *arg);

/* queue_promote moves up to limit due retries and waits back to the stream. */
int queue_promote(struct queue *q, int limit, queue_done_cb cb, void *arg);

#endif
