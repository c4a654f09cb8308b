/* stream_pool — the Postgres connections that result streams
 * (web/result_stream.h) hold their cursors on, and the line of streams
 * waiting for one.
 *
 * A result of a 10 MB page is about 10 MB of JSON: declaring its cursor
 * renders and cuts all of it, and fetching it takes hundreds of queries.
 * On the web process's one connection (app->pg, 5 s per query) fifty such
 * reads starved every other route (/readyz, job polls) and ran into the
 * timeout themselves (503s). So streams have connections of their own,
 * STREAM_POOL_CONNS per server (the primary, and the replica when
 * DATABASE_READ_URL is set), at most STREAM_POOL_PER_CONN streams with a
 * cursor open on each (a connection runs one statement at a time; the
 * streams on it take turns piece by piece), and a bounded first-come
 * line behind them: STREAM_POOL_WAITING. Only when that line is full is a
 * reader turned away (the caller answers 503 with Retry-After).
 * A connection that lost its server and waits out its reconnect backoff
 * (up to 5 s) can be told to try at once (stream_pool_wake), by a stream
 * that knows the server is up.
 *
 * Owns: the connections, each one's count of streams, and the line (of
 * slots the callers embed: a slot must stay alive while it waits or holds
 * a connection). stream_pool_close closes the connections; a slot still
 * waiting then is called back with UV_ECANCELED, and later queries fail
 * with UV_ECANCELED; cb runs once the connections are gone. */
#ifndef WC_STREAM_POOL_H
#define WC_STREAM_POOL_H

#include <stdbool.h>
#include <uv.h>

#include "common/config.h"
#include "common/pg_uv.h"

#define STREAM_POOL_CONNS 2
#define STREAM_POOL_PER_CONN 4
#define STREAM_POOL_WAITING 256
/* A cursor over 10 MB of JSON takes seconds to declare on a busy host;
 * only the streams wait on these connections, so they may take long. */
#define STREAM_POOL_TIMEOUT_MS 60000

struct stream_slot;
/* stream_pool_cb: slot holds a connection now (status 0), or the pool
 * is closing (UV_ECANCELED). */
typedef void (*stream_pool_cb)(struct stream_slot *slot, int status, void *arg);

struct stream_slot {
    struct stream_slot *next; /* private: the line */
    int conn;                 /* private: the connection held, -1 none */
    int server;               /* private */
    stream_pool_cb cb;
    void *arg;
};

struct stream_server {
    pg_uv_t *pg[STREAM_POOL_CONNS];
    int streams[STREAM_POOL_CONNS];
    int waiting; /* slots in line for this server */
};

struct stream_pool {
    struct stream_server server[2]; /* 0: the primary, 1: the replica */
    int nserver;
    struct stream_slot *head, *tail; /* waiting, first come first */
    int waiting;
    bool closing;
    int closes;
    void (*closed_cb)(void *arg);
    void *closed_arg;
};

/* stream_pool_init makes the primary's connections (and read_url's, when
 * not NULL); they connect in the background. */
void stream_pool_init(struct stream_pool *p, uv_loop_t *loop, const char *primary_url,
                      const char *read_url);
/* stream_pool_acquire asks for a connection of server (0 primary, 1 the
 * replica; the primary when there is none): 0 when slot has one (cb has
 * run, inside this call), 1 when slot waits in line (cb runs later,
 * once), UV_EBUSY when the line is full, or UV_ECANCELED while closing
 * (no cb either way). */
int stream_pool_acquire(struct stream_pool *p, int server, struct stream_slot *slot,
                        stream_pool_cb cb, void *arg);
/* stream_pool_release gives slot's connection back (the next in line
 * gets it, called back inside this call). */
void stream_pool_release(struct stream_pool *p, struct stream_slot *slot);
/* stream_pool_query is pg_uv_query on slot's connection (UV_ECANCELED
 * once closing, or when slot holds none). */
int stream_pool_query(struct stream_pool *p, struct stream_slot *slot, const char *sql, int nparams,
                      const char *const *params, pg_uv_cb cb, void *arg);
/* stream_pool_wake makes slot's connection, if it is waiting out its
 * reconnect backoff, try again at once (pg_uv_retry_now); queries sent
 * after it wait for the attempt. For a stream's first query: its row has
 * just been read on that server, so the server is up. */
void stream_pool_wake(struct stream_pool *p, struct stream_slot *slot);
/* stream_pool_waiting: how many wait in line. */
int stream_pool_waiting(const struct stream_pool *p);
void stream_pool_close(struct stream_pool *p, void (*cb)(void *arg), void *arg);

#endif
