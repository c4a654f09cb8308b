/* job_search — finding jobs by URL, host, status, error code and batch,
 * newest first, a page at a time (GET /api/v1/jobs, the admin's bulk
 * actions).
 *
 * The indexes live in Redis beside the jobs (keys.h's ix:*), kept by the
 * queue's own scripts in the step that changes the job, so they never
 * disagree with it for long: every job (ix:all), the jobs of a host
 * (ix:host:h) and of a page (ix:url:hash), added at submit
 * (common/lua/lib/submit.lua); the jobs that ended an attempt with an
 * error code (ix:err:code), added by queue_fail, queue_retry and
 * queue_start's worker_lost. Their members all score 0 and are job ids,
 * UUIDv7s, which sort by creation time: a reverse walk by member is
 * newest first, and the last id seen is the cursor (a sharded queue
 * merges its shards' answers by id, which is by time). A batch's jobs are
 * its jobs list (common/batch.h), walked from its end; there the cursor
 * is how many entries were walked.
 *
 * A search walks the most selective index its filters allow (page, then
 * batch, then error code, then host, then every job) and checks the other
 * filters against each candidate's job hash in one script per round
 * (common/lua/job_search.lua), at most JOB_SEARCH_ROUND candidates a
 * round and JOB_SEARCH_EXAMINE a search: a rare match on a large index
 * answers in bounded time with what it found and a cursor to go on.
 * Status is checked, not indexed: a job changes state five times or more,
 * and its state is one field of the hash the round reads anyway. Entries
 * whose job hash has expired are dropped when a search meets them; every
 * add also drops the entries older than the horizon (lib/ix.lua).
 *
 * Callbacks follow queue.h's contract; the jobs and the cursor handed to
 * one are valid only during it. */
#ifndef WC_JOB_SEARCH_H
#define WC_JOB_SEARCH_H

#include <stddef.h>

#include "common/queue.h"

#define JOB_SEARCH_LIMIT_MAX 500
#define JOB_SEARCH_ROUND 1000
#define JOB_SEARCH_EXAMINE 2000
/* A cursor is a job id or a count: at most this many bytes. */
#define JOB_SEARCH_CURSOR_MAX 40

/* What a search asks for; NULL (or "") for a filter not given. Strings
 * are the caller's, copied before job_search returns. */
struct job_search_filter {
    const char *url_key;    /* the page: a normalised URL (common/url_norm.h) */
    const char *url_prefix; /* a prefix of the normalised URL */
    const char *host;       /* a host as url_norm_host gives it */
    const char *status;     /* a job state's name (common/job.h) */
    const char *error;      /* an error code */
    const char *batch;      /* a batch id: the jobs it created */
};

/* The index a search walks. */
enum job_search_index {
    JOB_SEARCH_BY_URL,
    JOB_SEARCH_BY_BATCH,
    JOB_SEARCH_BY_ERROR,
    JOB_SEARCH_BY_HOST,
    JOB_SEARCH_BY_ALL
};

/* next_cursor: where the next page starts, NULL when the index is walked
 * to its end. jobs: this page's matches, newest first (fewer than asked
 * when the search reached JOB_SEARCH_EXAMINE candidates: go on from
 * next_cursor). */
typedef void (*job_search_cb)(int status, const struct job *jobs, size_t n, const char *next_cursor,
                              const char *errstr, void *arg);

/* job_search_pick names the index f's search walks; host (at least 256
 * bytes) gets the host whose index it is (f's host, or the host of a URL
 * prefix that holds a whole one, "https://example.com/...").
 * Pure, for tests. */
enum job_search_index job_search_pick(const struct job_search_filter *f, char *host,
                                      size_t hostlen);
/* job_search_cursor_ok tells whether cursor suits f's index: a job id
 * for a search index, a count (0 to 10,000,000) for a batch. */
bool job_search_cursor_ok(const struct job_search_filter *f, const char *cursor);

/* job_search finds up to limit (1 to JOB_SEARCH_LIMIT_MAX) jobs matching
 * f, newer than cursor (NULL: from the newest). UV_EINVAL (no callback)
 * for a bad limit, cursor or filter. */
int job_search(struct queue *q, const struct job_search_filter *f, const char *cursor, int limit,
               job_search_cb cb, void *arg);

#endif
