/* batch — many URLs submitted at once, and followed as one (POST
 * /api/v1/batches, `wordcount enqueue`), on top of the queue.
 *
 * A batch is created in a few pipelined steps whatever its size. Each
 * page (normalised URL) is submitted once: its other lines in the batch
 * take the answer of its first (a job created there is joined). The
 * pages' live-job pointers are read (MGET, a slice at a time), then each
 * slice of BATCH_SLICE pages is submitted by one script
 * (common/lua/batch_submit.lua) that applies to every page the rules of a
 * single submit (common/lua/lib/submit.lua: a fresh result the caller
 * found, the page's live job joined unless fresh, else a new job that
 * records the batch), and the batch is recorded. A page whose live job
 * changed under the script (a racing submit, or the same page twice in
 * the batch) is sent again with the pointer as it is now, as a single
 * submit is.
 *
 * Redis (common/keys.h): the batch hash {id, created_at, total, jobs,
 * invalid, created, deduplicated, cached, max_age, fresh, then once
 * ended: started_at, finished_at, counts}, the lines list (one entry per
 * line submitted: "<job id> <how> <url>", how being c created, d
 * deduplicated, k cached; or "- <reason>\t<text>" for a line that was no
 * URL), the jobs list (the job id of each valid line) and the set of
 * batches. A batch's keys expire BATCH_OPEN_TTL_S after its creation;
 * once a status read finds every job ended, the counts are kept in the
 * hash and its keys expire result_ttl_s later, as an ended job's do.
 *
 * The caller owns what it passes (copied before the call returns); data
 * handed to a callback is valid during the callback only. Every function
 * that takes a callback follows the queue's contract (0 and cb once, or
 * a negative UV_* error and no cb). */
#ifndef WC_BATCH_H
#define WC_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/job.h"
#include "common/queue.h"

/* The most lines a batch may have. */
#define BATCH_MAX_LINES 10000
/* Pages per script (4 keys each: well inside QUEUE_OP_EVAL_MAX). */
#define BATCH_SLICE 500
/* How long a batch that has not been seen ended is kept (the live
 * pointers' horizon). */
#define BATCH_OPEN_TTL_S QUEUE_LIVE_TTL_S
/* The longest invalid line kept in the lines list. */
#define BATCH_TEXT_MAX 512
/* The batches kept in the set of batches. */
#define BATCH_LIST_MAX 1000

/* One line of a batch as submitted. */
struct batch_line {
    const char *url;       /* the line's text */
    const char *url_key;   /* its normalised URL; NULL: the line is not a URL */
    const char *reason;    /* with url_key NULL: why */
    const char *cached_id; /* a job whose result is fresh enough (max_age), or NULL */
};

struct batch_new {
    const struct batch_line *lines;
    size_t n; /* at most BATCH_MAX_LINES */
    bool fresh;
    long max_age_s;
};

/* What batch_create made of the lines. */
struct batch_created {
    char id[JOB_ID_LEN + 1];
    long total, created, deduplicated, cached, invalid;
    const char *const *job_ids; /* per line: the job answering it, NULL for an invalid line */
};

typedef void (*batch_create_cb)(int status, const struct batch_created *b, const char *errstr,
                                void *arg);

/* Outcomes counted by a status read: the job states, plus jobs whose
 * state expired (ended long ago). */
#define BATCH_NSTATES (JOB_WAITING + 2)
#define BATCH_EXPIRED (JOB_WAITING + 1)

struct batch_status {
    char id[JOB_ID_LEN + 1];
    int64_t created_at_ms, started_at_ms, finished_at_ms; /* 0: not yet */
    long total, jobs, invalid, created, deduplicated, cached;
    long counts[BATCH_NSTATES]; /* by enum job_state, then BATCH_EXPIRED */
    long done;                  /* jobs ended (finished, failed, canceled, expired) */
    long max_age_s;
    bool fresh;
};

/* s is NULL when the batch is unknown (or expired). */
typedef void (*batch_status_cb)(int status, const struct batch_status *s, const char *errstr,
                                void *arg);

/* One line of a batch as it is now (batch_lines). */
struct batch_row {
    long index;
    const char *url;    /* as submitted */
    const char *reason; /* an invalid line: why (job_id empty) */
    char job_id[JOB_ID_LEN + 1];
    char how; /* 'c' created, 'd' deduplicated, 'k' cached; 0 for an invalid line */
    /* The job's state; NULL when it expired from Redis. */
    const char *status, *error_code, *error;
    const char *result; /* finished: JSON {total_words, unique_words, top}, or NULL */
};

typedef void (*batch_lines_cb)(int status, const struct batch_row *rows, size_t n,
                               const char *errstr, void *arg);
/* value: jobs canceled, or -1 when the batch is unknown. */
typedef void (*batch_done_cb)(int status, long value, const char *errstr, void *arg);
/* ids: the newest batches, newest first. */
typedef void (*batch_ids_cb)(int status, const char *const *ids, size_t n, const char *errstr,
                             void *arg);

/* batch_create creates the jobs of b's valid lines and records the
 * batch. UV_EINVAL (no callback) when b is empty or too long. */
int batch_create(struct queue *q, const struct batch_new *b, batch_create_cb cb, void *arg);
/* batch_status counts the batch's jobs by state (now_ms: the time a
 * batch found ended is recorded as ended, when its jobs tell no later). */
int batch_status(struct queue *q, const char *id, batch_status_cb cb, void *arg);
/* batch_lines reads up to count lines from index start, with their
 * jobs' state; n == 0 past the end. */
int batch_lines(struct queue *q, const char *id, long start, long count, batch_lines_cb cb,
                void *arg);
/* batch_cancel cancels the jobs the batch created that have not started. */
int batch_cancel(struct queue *q, const char *id, batch_done_cb cb, void *arg);
/* batch_list reads the ids of the newest batches (at most limit). */
int batch_list(struct queue *q, long limit, batch_ids_cb cb, void *arg);
/* batch_forget removes an expired batch from the set of batches (no
 * answer awaited). */
void batch_forget(struct queue *q, const char *id);

#endif
