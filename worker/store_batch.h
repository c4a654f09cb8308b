/* store_batch — result rows of one Postgres connection written several
 * to a statement: one multi-row INSERT, one commit, for the rows that
 * arrived together.
 *
 * When rows go: at once (on the loop's next turn) when STORE_BATCH_ROWS
 * rows or STORE_BATCH_BYTES of values are waiting; when the statement in
 * flight on this connection answers (rows that came meanwhile go
 * together: one statement runs at a time on a connection anyway), but
 * no sooner than STORE_BATCH_PACE_MS after that statement was sent
 * unless STORE_BATCH_ROWS / 4 are waiting, so that under a steady stream
 * of results each commit carries several (a commit costs Postgres about
 * as much as three or four rows); and otherwise STORE_BATCH_DELAY_MS
 * after the first row came to an idle connection, so a lone job waits no
 * longer than that.
 *
 * Every row keeps store_insert's contract (worker/store.h): its callback
 * runs exactly once, after the statement that holds it has committed (0)
 * or failed (< 0), never from inside store_batch_add. The write stays
 * idempotent by job id (ON CONFLICT (job_id) DO NOTHING; the same job
 * twice in one batch stores one row). When a batch of several rows fails
 * with an SQL error (one bad row fails its whole statement), each row is
 * written again in a statement of its own, so the good rows are stored
 * and only the bad one reports the error. A lost connection fails every
 * row of the statement in flight; nothing was committed, or the row is
 * there already and its retry does nothing.
 *
 * Owns: the rows waiting (by reference: a row must stay as it is until
 * its callback), the SQL text of each batch size, and a timer. The
 * connection is the caller's: store_batch_new attaches the batch to it
 * (pg_uv_set_data), so store_insert on that connection comes here.
 * store_batch_close fails the rows still waiting (UV_ECANCELED), detaches,
 * and calls close_cb once the timer has closed and no statement of the
 * batch is in flight any more (close the connection after calling it: its
 * close fails those statements). */
#ifndef WC_STORE_BATCH_H
#define WC_STORE_BATCH_H

#include <uv.h>

#include "common/pg_uv.h"
#include "worker/store.h"

#define STORE_BATCH_ROWS 32
#define STORE_BATCH_BYTES (1024 * 1024)
#define STORE_BATCH_DELAY_MS 2
#define STORE_BATCH_PACE_MS 10

typedef struct store_batch store_batch_t;
typedef void (*store_batch_close_cb)(void *arg);

store_batch_t *store_batch_new(uv_loop_t *loop, pg_uv_t *pg);
/* store_batch_add queues row; returns 0 (cb runs later) or a negative
 * UV_* error (UV_ECANCELED while closing) and never calls cb. */
int store_batch_add(store_batch_t *b, const struct store_row *row, store_done_cb cb, void *arg);
void store_batch_close(store_batch_t *b, store_batch_close_cb cb, void *arg);

#endif
