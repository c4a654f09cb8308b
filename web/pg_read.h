/* pg_read — the web process's read-only queries, sent to DATABASE_READ_URL's
 * server (a streaming replica) when it is set, else to the primary.
 *
 * A replica can lag behind the primary: a job is acknowledged in Redis
 * once its row is committed on the primary, so a client can ask for a
 * result the replica has not replayed yet. It can also be down. So a
 * read that fails on the replica is asked again of the primary, and so
 * is a read of one row that should exist (PG_READ_ROW: a job's results
 * row) that the replica does not have. Lists (PG_READ_LIST: the history
 * of a URL) are answered by the replica as it is, and may miss the
 * newest rows for as long as it lags (README, Scaling out). cb gets the
 * pg that answered (app_db_of tells which), so later queries about the
 * same row (web/result_stream.c's cursor) go to the same server.
 *
 * Owns: a copy of the query and its parameters while the replica answers
 * (the primary, asked again, copies them itself). */
#ifndef WC_PG_READ_H
#define WC_PG_READ_H

#include "common/pg_uv.h"
#include "web/app.h"

enum pg_read_want { PG_READ_LIST, PG_READ_ROW };

/* pg_read_query sends sql; the pg_uv contract holds (0 and cb once, or
 * < 0 and no cb). */
int pg_read_query(struct app *a, enum pg_read_want want, const char *sql, int nparams,
                  const char *const *params, pg_uv_cb cb, void *arg);

#endif
