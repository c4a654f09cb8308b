/* app — what the handlers of one web process reach: the configuration,
 * the Redis and Postgres connections and the queue on top of Redis.
 *
 * Owns: one redis_uv_t and one struct queue per Redis shard (REDIS_URL,
 * common/shards.h; one URL: one shard), the pg_uv_t of DATABASE_URL, with a second one
 * for DATABASE_READ_URL when it is set, the result streams' own
 * connections (web/stream_pool.h) (made by app_open in the process
 * that serves, after any fork), the struct queue, the request statistics
 * (web/http_metrics.h), and what waits for job events: the subscription
 * (web/job_events.h), the long-polls (web/longpoll.h) and the event
 * streams (web/sse.h). The config is borrowed. app_drain (at SIGTERM)
 * answers every long-poll and ends every event stream.
 * app_close closes the connections (their pending commands fail with
 * "closing", so handlers waiting on them answer) and calls cb once both
 * are gone. The struct is embedded by its owner and must outlive that. */
#ifndef WC_APP_H
#define WC_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "common/config.h"
#include "common/pg_uv.h"
#include "common/queue.h"
#include "common/redis_uv.h"
#include "web/http_metrics.h"
#include "web/job_events.h"
#include "web/longpoll.h"
#include "web/ratelimit.h"
#include "web/sse.h"
#include "web/stream_pool.h"

/* Timeouts for one Redis command and one Postgres query from a handler;
 * past them the client gets 503 rather than waiting. */
#define APP_REDIS_TIMEOUT_MS 3000
#define APP_PG_TIMEOUT_MS 5000
#define APP_PG_MAX_QUEUE 512
/* How long a new web process waits for its Redis connection before it
 * takes connections anyway (answering 503 until Redis is back). */
#define APP_START_WAIT_MS 5000

typedef void (*app_closed_cb)(void *arg);
typedef void (*app_ready_cb)(bool redis_up, void *arg);

struct app {
    uv_loop_t *loop;
    const struct config *cfg;
    redis_uv_t *redis;                /* shard 0's connection: process keys (common/keys.h) */
    int nshards;                      /* REDIS_URL's shards */
    redis_uv_t **redis_of;            /* [nshards]: each shard's connection ([0] is redis) */
    struct queue *queues;             /* [nshards]: each shard's queue */
    pg_uv_t *pg;                      /* DATABASE_URL: the primary */
    pg_uv_t *pg_read;                 /* DATABASE_READ_URL's server (a replica), or NULL */
    struct http_metrics http_metrics; /* request statistics, flushed to Redis */
    struct ratelimit submit_limit;    /* SUBMIT_RATE per client address */
    struct job_events events;         /* the job events subscription */
    struct longpoll longpoll;         /* GET /api/v1/jobs/{id}?wait=N */
    struct sse sse;                   /* GET /api/v1/jobs/{id}/events */
    struct stream_pool streams;       /* result streams' connections (web/result_stream.h) */
    uv_timer_t start_timer;           /* app_when_started's limit */
    app_ready_cb ready_cb;            /* app_when_started's callback, until it runs */
    void *ready_arg;
    int closing;
    app_closed_cb closed_cb;
    void *closed_arg;
};

/* app_open starts connecting to Redis and Postgres (connections come up
 * in the background; /readyz tells when). Returns 0, or -1 with a
 * message in err (a bad REDIS_URL or key prefix). */
int app_open(struct app *a, uv_loop_t *loop, const struct config *cfg, char *err, size_t errlen);
/* app_when_started calls cb once, on the loop: when every shard's Redis
 * connection is up (redis_up true), or after APP_START_WAIT_MS without
 * them (false).
 * A process takes connections only then, so the first requests after a
 * start or a restart of one prefork child are not refused for a Redis
 * connection that is still being made (the other children, or the
 * listen backlog, hold them). Not called when app_close comes first. */
void app_when_started(struct app *a, app_ready_cb cb, void *arg);
/* app_close closes the connections; cb runs when their memory is gone.
 * From then on app_queue returns NULL and app_pg_query UV_ECANCELED, so a
 * handler called back during the close cannot reach a closed connection. */
void app_close(struct app *a, app_closed_cb cb, void *arg);
/* app_drain answers every long-poll with the job's state now and ends
 * every event stream (clients reconnect elsewhere), and every later one
 * at once: the first step of a stop. */
void app_drain(struct app *a);
/* app_queue returns shard 0's queue (one shard: the queue), or NULL once
 * closing. What belongs to a job, a page or a batch goes through the
 * functions below; what spans the queue reads every shard. */
struct queue *app_queue(struct app *a);
/* app_queue_at returns shard's queue, or NULL once closing or when there
 * is no such shard. */
struct queue *app_queue_at(struct app *a, int shard);
/* app_queue_of_id returns the queue of the shard job (or batch) id names;
 * an id that names no shard of this list gets shard 0's (where it is
 * not found: the caller answers as for an unknown id). NULL once closing. */
struct queue *app_queue_of_id(struct app *a, const char *id);
/* app_queue_of_url returns the queue a submission of the normalised URL
 * url_key goes to (its host's shard). NULL once closing. */
struct queue *app_queue_of_url(struct app *a, const char *url_key);
/* app_shards returns how many shards there are. */
int app_shards(const struct app *a);
/* The web process's two Postgres servers: the primary, and what
 * DATABASE_READ_URL names for reads that may lag behind it (the primary
 * again when it is unset). */
enum app_db { APP_DB_PRIMARY, APP_DB_READ };
/* app_pg_query is pg_uv_query on db's connection, or UV_ECANCELED once
 * closing. Reads that may lag go through web/pg_read.h, which also asks
 * the primary when the replica fails or is behind. */
int app_pg_query(struct app *a, enum app_db db, const char *sql, int nparams,
                 const char *const *params, pg_uv_cb cb, void *arg);
/* app_db_of tells which of a's connections pg is (a callback's pg). */
enum app_db app_db_of(const struct app *a, const pg_uv_t *pg);
/* app_has_replica tells whether reads have a server of their own. */
bool app_has_replica(const struct app *a);

#endif
