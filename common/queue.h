/* queue — job operations on Redis: submit, read, take, start, finish,
 * fail, written on top of redis_uv.
 *
 * Owns: the Lua scripts that keep each state change atomic, and the field
 * layout of the job hash ({p}job:{id}):
 *   id, url, status, attempts, created_at, started_at, finished_at,
 *   next_attempt_at (ms since epoch), error, error_code, entry (the
 *   stream entry id of the current delivery), worker (consumer name).
 *
 * Delivery is at least once through a Redis stream and consumer group
 * (keys.h): XADD on submit, XREADGROUP to take, XACK+XDEL only after the
 * result is committed (queue_finish) or the job has failed for good. Ended
 * jobs' hashes expire after result_ttl_s; results live on in Postgres.
 *
 * Every function that takes a callback follows the redis_uv contract: it
 * returns 0 and calls cb exactly once, or returns a negative UV_* error
 * and never calls cb. A struct job handed to a callback is owned by the
 * queue and valid only during the callback (copy what you keep). */
#ifndef WC_QUEUE_H
#define WC_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/job.h"
#include "common/keys.h"
#include "common/redis_uv.h"

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

/* status: 0, or a negative UV_* error (UV_ENOTCONN, UV_ETIMEDOUT, UV_EPROTO for
 * an unexpected reply); job is NULL when the job does not exist. */
typedef void (*queue_job_cb)(int status, const struct job *job, const char *errstr, void *arg);
typedef void (*queue_done_cb)(int status, const char *errstr, void *arg);
/* entries is valid during the callback only; n may be 0 (block timed out). */
typedef void (*queue_take_cb)(int status, const struct queue_entry *entries, size_t n,
                              const char *errstr, void *arg);

void queue_init(struct queue *q, redis_uv_t *redis, const struct keys *keys, int result_ttl_s);

/* queue_submit creates a job for url (state queued, a new UUIDv7 id,
 * created_at now) and appends it to the stream in one atomic step. */
int queue_submit(struct queue *q, const char *url, queue_job_cb cb, void *arg);
/* queue_get reads a job's state; job == NULL in cb when unknown or expired. */
int queue_get(struct queue *q, const char *id, queue_job_cb cb, void *arg);

/* queue_ensure_group creates the consumer group (and stream) if missing. */
int queue_ensure_group(struct queue *q, queue_done_cb cb, void *arg);
/* queue_take reads up to count new deliveries for consumer, blocking up to
 * block_ms on the connection `blocking` (its timeout must exceed block_ms). */
int queue_take(struct queue *q, redis_uv_t *blocking, const char *consumer, int count,
               int block_ms, queue_take_cb cb, void *arg);
/* queue_start marks the delivered job started (attempts + 1). cb's job is
 * NULL when the job is gone or already ended; that delivery was acked and
 * there is nothing to run. */
int queue_start(struct queue *q, const struct queue_entry *e, const char *consumer,
                queue_job_cb cb, void *arg);
/* queue_finish marks the job finished and acknowledges the delivery. Call
 * only after the result is committed. */
int queue_finish(struct queue *q, const struct queue_entry *e, queue_done_cb cb, void *arg);
/* queue_fail marks the job failed for good with a machine code and a
 * human message, adds it to the failed set, and acknowledges it. */
int queue_fail(struct queue *q, const struct queue_entry *e, const char *code,
               const char *message, queue_done_cb cb, void *arg);

#endif
