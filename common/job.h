/* job — the job model: states and UUIDv7 ids.
 *
 * Owns: struct job (the strings in it are heap copies owned by the struct
 * and released by job_free), the state names used on the wire and in
 * Redis, and id generation.
 *
 * The transitions are made by the queue's Lua scripts, one script per
 * move (common/lua/queue_*.lua); they are the only copy of the state
 * machine, and tests/unit/common/test_queue.c (every_transition) drives
 * every operation from every state against it:
 *
 *   queued   -> started   queue_start
 *            -> failed    queue_start, when the job's workers were lost
 *                         max_attempts times (worker_lost)
 *            -> canceled  queue_cancel
 *   started  -> finished  queue_finish
 *            -> failed    queue_fail; queue_start of a rescued delivery
 *                         out of attempts (worker_lost)
 *            -> retrying  queue_retry
 *            -> queued    queue_release (a drain out of time)
 *            -> waiting   queue_defer (politeness: its host is busy, paused
 *                         or paced, or its robots.txt is being fetched;
 *                         the attempt is not counted)
 *            -> queued    queue_defer, when the host's slot freed meanwhile
 *            -> started   queue_start of a rescued delivery (its holder was lost)
 *   retrying -> queued    queue_promote, once due
 *            -> canceled  queue_cancel
 *   waiting  -> queued    queue_promote, once due; queue_wake, when a slot
 *                         of its host is freed
 *            -> canceled  queue_cancel
 *   failed   -> queued    queue_failed_retry (an operator's retry)
 *
 * finished, failed and canceled are terminal (job_state_terminal): only
 * an operator's retry leaves failed. */
#ifndef WC_JOB_H
#define WC_JOB_H

#include <stdbool.h>
#include <stdint.h>

#define JOB_ID_LEN 36

enum job_state {
    JOB_QUEUED,
    JOB_STARTED,
    JOB_RETRYING,
    JOB_FINISHED,
    JOB_FAILED,
    JOB_CANCELED,
    JOB_WAITING
};

struct job {
    char id[JOB_ID_LEN + 1];
    char *url;
    char *url_key; /* the normalised URL (common/url_norm.h), or NULL (jobs from before it) */
    enum job_state state;
    int attempts;
    int64_t created_at_ms; /* 0 = not set */
    int64_t started_at_ms;
    int64_t finished_at_ms;
    int64_t next_attempt_at_ms;
    char *error;      /* human message of the last failure, or NULL */
    char *error_code; /* stable machine code ("http_404", "timeout", ...), or NULL */
    char *history;    /* JSON array of every failed attempt {attempt, code, message, at}, or NULL */
    char *worker;     /* consumer holding the job while started, or NULL */
    char *result;     /* finished: JSON {total_words, unique_words, top} (ten words), or NULL */
    char *waiting;    /* waiting: why (host_busy, host_paused, host_pacing, robots_pending) */
    char *batch;      /* the batch that created the job (common/batch.h), or NULL */
};

/* job_copy makes dst a copy of src with strings of its own (job_free). */
void job_copy(struct job *dst, const struct job *src);
/* job_free releases the strings a job owns (not the struct itself). */
void job_free(struct job *j);
const char *job_state_name(enum job_state s);
/* job_state_parse maps a name to a state; returns 0 or -1 when unknown. */
int job_state_parse(const char *name, enum job_state *out);
bool job_state_terminal(enum job_state s);

/* job_id_new writes a new UUIDv7 (RFC 9562: 48-bit ms timestamp, version 7,
 * variant 10, random rest) as 36 lower-case characters plus NUL. Ids made
 * in one process in the same millisecond still sort in creation order. */
void job_id_new(char out[JOB_ID_LEN + 1]);
/* job_id_new_on writes a new id of a job (or batch) on shard (0..255,
 * common/shards.h). Shard 0's ids are the UUIDv7 of job_id_new, as every
 * id was before there were shards. Shard i >= 1's are UUIDv8 (RFC 9562's
 * version for custom layouts) laid out as a UUIDv7 (the same timestamp
 * and counter, so they sort with the others by creation time) whose
 * byte after the variant (characters 21-22) is the shard number. */
void job_id_new_on(char out[JOB_ID_LEN + 1], int shard);
/* job_id_shard returns the shard an id names (see job_id_new_on): 0 for
 * a UUIDv7, the shard byte for a UUIDv8, -1 for anything else. */
int job_id_shard(const char *id);
/* job_id_valid accepts the canonical 8-4-4-4-12 hex form, either case. */
bool job_id_valid(const char *s);
/* job_id_timestamp_ms returns the creation time embedded in a UUIDv7. */
int64_t job_id_timestamp_ms(const char *id);

#endif
