/* runner_int — what the two files of the runner share: worker/runner.c
 * (tasks, taking, heartbeat, construction, drain and close) and
 * worker/runner_shard.c (one Redis shard as the runner reads it: its
 * connections and consumer group, outages and the rescue embargo,
 * rescue scans, retry promotion, lease renewals).
 *
 * Internal to the runner: nothing else includes it. The structs are
 * runner.c's (runner_new makes them, maybe_free frees them). */
#ifndef WC_RUNNER_INT_H
#define WC_RUNNER_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "common/keys.h"
#include "common/pg_uv.h"
#include "common/queue.h"
#include "common/redis_uv.h"
#include "worker/cpu_pool.h"
#include "worker/curl_uv.h"
#include "worker/membudget.h"
#include "worker/polite.h"
#include "worker/runner.h"
#include "worker/store_batch.h"
#include "worker/task.h"
#include "worker/upkeep.h"

/* How long one XREADGROUP blocks; the blocking connection's command
 * timeout must exceed it (redis_uv drops a connection whose command is
 * late). Short, so a drain does not wait long for it. */
#define TAKE_BLOCK_MS 1000
/* A take that found fewer deliveries than it had room for (the stream
 * is shallow: jobs are taken as fast as they are submitted) is followed
 * by the next one this long after it, while the process has jobs in
 * flight, so deliveries gather in the stream and come several to a read
 * instead of one read (and one wake-up of Redis and of the process) per
 * job. A process with nothing in flight reads at once. */
#define TAKE_PACE_MS 5
#define REDIS_CMD_TIMEOUT_MS 5000

/* Postgres connections per worker process (at most WORKER_CONCURRENCY)
 * for result rows. Rows that arrive while a connection's statement runs
 * go together in its next one (worker/store_batch.h), so fewer
 * connections mean more rows per commit and less Postgres CPU per row:
 * in the drain (2 x 64), 4 connections gave 2.9 rows per commit and
 * 0.74 ms of Postgres per row, 2 gave 5.1 and 0.58, 1 gave 9.1 and 0.52
 * (a loaded machine); on a quiet one, taking turns, 2 gave 3.8 rows and
 * 0.33 to 0.41 ms, 1 gave 6.8 to 7.6 rows and 0.29 to 0.31 ms, at the
 * same jobs/s (a statement's round trip, commit included, is a few
 * milliseconds: one connection carries 32 rows a turn, thousands a
 * second). So one; the array stays for a deployment that wants more. */
#define RUNNER_PG_CONNS 1

/* One Redis shard (common/shards.h) as this process reads it: its
 * connections, its queue, and the runner's state on it. */
struct rshard {
    struct runner *r;
    int index;
    struct keys keys;
    redis_uv_t *redis;
    redis_uv_t *redis_block;
    struct queue queue;
    int rescue_asked; /* room given to the scan in flight */
    char rescue_cursor[48];
    uint64_t rescue_not_before; /* uv_now before which no rescue scan runs */
    bool rescue_due;            /* a scan is due: it goes before new deliveries */
    bool uptime_known;          /* Redis's uptime was read since the last connect */
    bool redis_lost;            /* the command connection went down since it was up */
    bool group_ready, ensuring_group, promoting, renewing;
};

struct runner {
    uv_loop_t *loop;
    const struct config *cfg;
    char consumer[160];
    struct rshard *shards; /* [nshards]; shard 0 also holds the process keys */
    int nshards;
    int next_take;                         /* the shard the next take reads (round robin) */
    int idle_takes;                        /* takes in a row that found nothing */
    int take_room;                         /* what the take in flight asked for */
    bool take_shallow;                     /* the last take found fewer than it asked for */
    uint64_t took_at;                      /* when it answered (uv_now) */
    pg_uv_t *pg[RUNNER_PG_CONNS];          /* result writes spread over a few connections */
    store_batch_t *batch[RUNNER_PG_CONNS]; /* each connection's rows, several to a statement */
    int npg;
    pg_uv_t *pg_big;  /* and big rows' writes */
    upkeep_t *upkeep; /* the results table's partitions (on pg_big) */
    curl_uv_t *curl;
    cpu_pool_t *pool; /* the counting threads; NULL: count on the loop */
    polite_t *polite;
    struct membudget mem; /* this process's share of WORKER_MEMORY_MB */
    struct task_env env;
    uv_timer_t take_timer;
    uv_timer_t heartbeat;
    uv_timer_t rescue_timer;
    uv_timer_t promote_timer;
    uv_timer_t grace;
    struct task *tasks; /* live (not ended) tasks */
    int inflight;       /* tasks not yet freed */
    int rescue_interval_ms;
    long rescue_idle_ms;
    bool taking, rescuing; /* one take or rescue scan at a time, on any shard */
    bool draining, handing_back, stopping_now, drained, closing;
    runner_cb drained_cb;
    void *drained_arg;
    runner_cb close_cb;
    void *close_arg;
    int pending_closes;
    uint64_t processed, failed, retried, rescued;
};

/* runner.c, for runner_shard.c. */

/* runner_take_more starts a take (or a due rescue scan) when there is
 * room and none is in flight. */
void runner_take_more(struct runner *r);
/* runner_on_take_timer calls runner_take_more (the take timer's callback). */
void runner_on_take_timer(uv_timer_t *timer);
/* runner_check_drained ends a drain once nothing is in flight. */
void runner_check_drained(struct runner *r);
/* runner_begin starts a task for delivery e of shard s. */
void runner_begin(struct rshard *s, const struct queue_entry *e);
/* runner_on_heartbeat renews leases and the workers registry entry. */
void runner_on_heartbeat(uv_timer_t *timer);

/* runner_shard.c, for runner.c. */

/* rshard_open_all connects to every shard (two connections each:
 * commands, and the blocking take). Returns 0, or -1 with a message in
 * err (nothing left open). */
int rshard_open_all(struct runner *r, char *err, size_t errlen);
/* rshard_usable: both connections up and the consumer group there (asked
 * for when missing). */
bool rshard_usable(struct rshard *s);
/* rshard_on_state is each shard connection's state callback. */
void rshard_on_state(redis_uv_t *redis, bool connected, void *arg);
/* rshard_rescue_allowed: no scan while draining, before the consumer
 * group exists, before Redis's uptime is known, or within the embargo. */
bool rshard_rescue_allowed(const struct rshard *s);
/* rshard_rescue scans s for up to room deliveries whose lease lapsed. */
void rshard_rescue(struct rshard *s, int room);
/* The rescue and promotion timers' callbacks (every shard). */
void rshard_on_rescue_timer(uv_timer_t *timer);
void rshard_on_promote_timer(uv_timer_t *timer);
/* rshard_renew_all renews each shard's leases on that shard. */
void rshard_renew_all(struct runner *r);

#endif
