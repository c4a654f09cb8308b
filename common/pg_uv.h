/* pg_uv — one libpq connection driven asynchronously by a libuv loop, with
 * a FIFO of queries and reconnect.
 *
 * Owns: the PGconn, the uv_poll_t on its socket (heap-allocated, one per
 * socket; PQfinish runs in the poll's close callback), the reconnect
 * backoff timer, the query timeout timer, and the queue of pending queries
 * (their SQL and parameters are copied at submit).
 *
 * Connect: PQconnectStartParams (with application_name "wordcount
 * <name>" unless the URL sets one), PQsetnonblocking, then PQconnectPoll
 * driven by its READING/WRITING answers, re-checking PQsocket each time.
 * Queries: text parameters, text results, one in flight, PQflush until
 * done, PQconsumeInput + PQgetResult until NULL. Each SQL text is
 * prepared once per connection (PQsendPrepare, then PQsendQueryPrepared
 * at every run; common/pg_stmts.h), so it is planned once, not at every
 * run; pg_uv_set_prepare(pg, false) sends every query unprepared
 * (PQsendQueryParams), as a transaction-pooling pgbouncer before 1.21
 * needs (DATABASE_PREPARE=false).
 *
 * Contract:
 *  - pg_uv_query returns 0 and later calls cb exactly once, or returns a
 *    negative UV_* error (UV_ENOTCONN while the server is known to be
 *    down, i.e. waiting to reconnect; UV_ENOBUFS when max_queue queries
 *    are already waiting; UV_ECANCELED while closing) and never calls cb.
 *    While the first connect or a reconnect attempt is in progress,
 *    queries are queued and run once connected.
 *  - cb gets res == NULL and a message in errstr when the query could not
 *    run to completion (connection lost, timeout, close). Otherwise res is
 *    the query's last PGresult, whatever its status (check
 *    PQresultStatus: an SQL error is a result, with
 *    PQresultErrorMessage); it is PQclear'ed after cb returns — copy what
 *    you keep.
 *  - A query that takes longer than query_timeout_ms is canceled by
 *    dropping the connection; it and the queued ones fail with "timeout".
 *  - Reconnect: backoff 100 ms doubling to 5 s, with jitter, forever;
 *    pg_uv_retry_now cuts a wait short.
 *  - pg_uv_close(pg, cb): pending queries get cb(NULL, "closing"); the
 *    connection is finished; close_cb runs once the memory is gone. */
#ifndef WC_PG_UV_H
#define WC_PG_UV_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

typedef struct pg_uv pg_uv_t;

typedef void (*pg_uv_cb)(pg_uv_t *pg, PGresult *res, const char *errstr, void *arg);
typedef void (*pg_uv_state_cb)(pg_uv_t *pg, bool connected, void *arg);
typedef void (*pg_uv_close_cb)(void *arg);

/* pg_uv_new starts connecting to conninfo (a postgresql:// URL or key=value
 * string). name is used in log lines. */
pg_uv_t *pg_uv_new(uv_loop_t *loop, const char *conninfo, const char *name, int query_timeout_ms,
                   size_t max_queue);
void pg_uv_on_state(pg_uv_t *pg, pg_uv_state_cb cb, void *arg);
bool pg_uv_connected(const pg_uv_t *pg);
/* pg_uv_query queues sql with nparams text parameters (NULL = SQL NULL). */
int pg_uv_query(pg_uv_t *pg, const char *sql, int nparams, const char *const *params, pg_uv_cb cb,
                void *arg);
/* pg_uv_query_borrowed is pg_uv_query without copying the parameter
 * strings (the array itself is copied): each must stay as it is until cb
 * has run. For large values whose owner outlives the query anyway (a
 * batch of result rows). */
int pg_uv_query_borrowed(pg_uv_t *pg, const char *sql, int nparams, const char *const *params,
                         pg_uv_cb cb, void *arg);
/* pg_uv_set_prepare turns the preparing of statements on (the default) or
 * off, for the queries sent from then on. */
void pg_uv_set_prepare(pg_uv_t *pg, bool on);
/* pg_uv_set_data keeps one pointer for the connection's owner (pg_uv
 * never touches it); pg_uv_data returns it (NULL until set). */
void pg_uv_set_data(pg_uv_t *pg, void *data);
void *pg_uv_data(const pg_uv_t *pg);
/* pg_uv_retry_now makes a connection that is waiting out its reconnect
 * backoff (pg_uv_query says UV_ENOTCONN) try at once, for a caller that
 * knows the server is up (another connection has just been answered by
 * it); queries sent after this wait for the attempt. The count of failed
 * attempts is kept: if this one fails, the next wait is a longer step.
 * Returns true when the connection is up or connecting now, false while
 * closing. */
bool pg_uv_retry_now(pg_uv_t *pg);
/* pg_uv_last_error returns the last connection error text ("" if none). */
const char *pg_uv_last_error(const pg_uv_t *pg);
void pg_uv_close(pg_uv_t *pg, pg_uv_close_cb cb, void *arg);

#endif
