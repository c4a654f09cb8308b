/* result_stream — a stored result's word counts sent to the client as
 * Postgres hands them over, never whole in memory.
 *
 * A result's counts can be megabytes of JSON (350,000 distinct words of a
 * 10 MB page). Building them (PGresult, parsed JSON, serialised copy)
 * took the web process past 100 MB per request, so a few clients
 * re-reading one big result could take it past any limit. Here the
 * counts stay text: Postgres reads the maps (json, or jsonb rendered) and cuts them into
 * pieces of RESULT_STREAM_PIECE bytes behind a cursor (DECLARE ... WITH
 * HOLD, so other queries share the connection meanwhile); each piece is
 * fetched only once the socket has taken the one before (req_stream_*,
 * web/conn.h), so one request holds a few pieces at a time whatever the
 * result's size and however slow its reader. The answer starts (status
 * line and headers) only once the cursor is declared: a server that
 * cannot declare it (down, restarting, a standby cancelling the
 * statement) gets the client a whole 503 with Retry-After. The cursor is
 * closed when the answer ends, the client leaves, or Postgres fails
 * later (the answer is then cut off: the connection closes mid-body).
 * The cursors live on
 * connections of their own (web/stream_pool.h), so big results do not
 * hold up other routes' queries; when the pool's line is full the
 * answer is 503 with Retry-After.
 *
 * Owns its per-request state; it frees itself once the cursor is closed. */
#ifndef WC_RESULT_STREAM_H
#define WC_RESULT_STREAM_H

#include <jansson.h>
#include <stdbool.h>

#include "web/app.h"
#include "web/conn.h"

/* Bytes of counts JSON per piece, and pieces per fetch. */
#define RESULT_STREAM_PIECE 32768
#define RESULT_STREAM_FETCH 2

/* result_stream_send answers req with 200 and the JSON object fields
 * (consumed; the small members, sent first) followed by "counts" (when
 * all) and "counts_no_stop_words" (when no_stop) of job_id's row, read
 * from db (the server the row was found on: web/pg_read.h). */
void result_stream_send(struct req *req, enum app_db db, json_t *fields, const char *job_id,
                        bool all, bool no_stop);

#endif
