/* store — writes a job's result row to Postgres through pg_uv.
 *
 * Owns: the encoding of an analysis result into the row's column values
 * (common/results.h names the columns and builds the INSERT) and the
 * lookups of stored rows (by job, and a page's newest, whose validators
 * make the next fetch conditional). A 304 stores a row that repeats the
 * newest one's counts (store_row_init_copy). The write is idempotent by
 * job: every row of a job carries the job's submission time as created_at
 * (the partition key), (job_id, created_at) is unique and the insert does
 * nothing on conflict, so a job that runs twice after a rescue stores one
 * result. store_insert follows the pg_uv contract:
 * returns 0 and calls cb exactly once, or returns a negative UV_* error
 * and never calls cb. A row is encoded from the analysis result (nothing
 * of that is kept) and is read, not copied, by the write: it must stay as
 * it is until the write's callback. The JSON is written straight into one
 * buffer (common/json_out.h): no jansson value per word, no printf. */
#ifndef WC_STORE_H
#define WC_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/pg_uv.h"
#include "common/results.h"
#include "worker/analysis.h"

/* How many of the most frequent non-stop words are stored in top_words. */
#define STORE_TOP_WORDS 100

/* A result encoded as the INSERT's text values, by column
 * (value[RESULTS_BYTES] is the page's size in decimal; NULL is SQL NULL),
 * and the job's summary. It owns its strings, all in one block (mem;
 * store_row_free), so a write that failed can be tried again later, after
 * the analysis that produced it is gone. */
struct store_row {
    char *value[RESULTS_NWRITTEN];
    char *summary; /* in mem; NULL for a copy */
    char *copy_of; /* a 304: the id of the stored row it repeats (in mem); NULL otherwise */
    char *mem;
};

/* A page's newest stored row, as a conditional fetch needs it. */
struct store_prev {
    bool found;
    char id[24];
    char etag[FETCH_VALIDATOR_MAX + 1];          /* "" when none */
    char last_modified[FETCH_VALIDATOR_MAX + 1]; /* "" when none */
};

/* status 0: committed (inserted now, or already there); < 0: not stored,
 * errstr says why (connection lost, SQL error). */
typedef void (*store_done_cb)(int status, const char *errstr, void *arg);

/* store_row_init encodes an analysis result (counts as JSON objects, the
 * top STORE_TOP_WORDS words, totals and fetch metadata). created_at_ms is
 * when the job was submitted (the row's partition key; 0: unknown, the
 * row takes the time of its write). */
void store_row_init(struct store_row *row, const char *job_id, const char *url,
                    int64_t created_at_ms, const struct analysis_result *r);
/* store_row_init_copy encodes a 304 to the conditional fetch of prev:
 * the row repeats prev's counts, content type and charset (and its
 * validators when the 304 sent none) with this fetch's metadata and
 * not_modified true. */
void store_row_init_copy(struct store_row *row, const char *job_id, const char *url,
                         int64_t created_at_ms, const struct store_prev *prev,
                         const struct analysis_result *r);
void store_row_free(struct store_row *row);
/* store_row_bytes: the bytes the row's values hold. */
size_t store_row_bytes(const struct store_row *row);
/* store_row_summary returns the job's result summary, JSON
 * {"total_words", "unique_words", "top": the first ten of the top words}
 * (malloc'd), or NULL when the row's JSON cannot be read or is a copy's
 * (readers then find it in Postgres). */
char *store_row_summary(const struct store_row *row);
/* store_insert writes the row; see the contract above. When pg has a
 * store_batch attached (store_batch.h), the row waits there for its batch. */
int store_insert(pg_uv_t *pg, const struct store_row *row, store_done_cb cb, void *arg);
/* store_insert_one writes the row in a statement of its own, batch or not. */
int store_insert_one(pg_uv_t *pg, const struct store_row *row, store_done_cb cb, void *arg);

/* status 0: Postgres answered, and found says whether the job's row is
 * there; < 0: it could not say (errstr says why). */
typedef void (*store_found_cb)(int status, bool found, const char *errstr, void *arg);
/* store_find asks whether job_id's result is stored (a job delivered
 * again may have been stored by a worker that died before finishing it);
 * same contract as store_insert. */
int store_find(pg_uv_t *pg, const char *job_id, store_found_cb cb, void *arg);

/* status 0: Postgres answered (prev->found says whether the page has a
 * row); < 0: it could not say. prev is valid during the call. */
typedef void (*store_prev_cb)(int status, const struct store_prev *prev, const char *errstr,
                              void *arg);
/* store_last reads the newest row of the page whose normalised URL is
 * url_key; same contract as store_insert. */
int store_last(pg_uv_t *pg, const char *url_key, store_prev_cb cb, void *arg);

#endif
