/* job_events — one web process's subscription to the job events channel
 * (keys.h: every state change is announced there by the queue script
 * that makes it, common/lua/lib/event.lua), and the watches that wait on
 * it: long-polls (web/longpoll.h) and event streams (web/sse.h).
 *
 * Owns: a subscriber Redis connection of its own per shard (pub/sub
 * needs one; a job's events are announced on its shard's server; these
 * are the process's only extra connections however many requests
 * wait), and a hash table of watches by job id. The watches are the callers'
 * (embedded in their state): job_events_watch links one in, and
 * job_events_unwatch takes it out; a watch must be unwatched before its
 * memory goes.
 *
 * A watch's callback runs for every event of its job with the new state
 * and the event's id in the job's event stream, and with state NULL when
 * events may have been missed (the subscription was made again after
 * Redis came back): the watcher then reads the job again. In a callback
 * a watcher may unwatch itself (and free itself), never another watch.
 *
 * Batches (when they come) announce on the same channel with their own
 * id; a watch is keyed by any id. */
#ifndef WC_JOB_EVENTS_H
#define WC_JOB_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "common/config.h"
#include "common/job.h"
#include "common/keys.h"
#include "common/redis_uv.h"

#define JOB_EVENTS_BUCKETS 16384

struct job_watch;
/* state: "queued", "started", ... or NULL (read the job again); event_id:
 * the event's id in the job's event stream, or NULL. */
typedef void (*job_watch_cb)(struct job_watch *w, const char *state, const char *event_id,
                             void *arg);

struct job_watch {
    struct job_watch *prev, *next; /* in its bucket */
    char id[JOB_ID_LEN + 1];
    job_watch_cb cb;
    void *arg;
    bool linked;
};

typedef void (*job_events_closed_cb)(void *arg);

/* One shard's subscription. */
struct job_events_sub {
    struct job_events *h;
    redis_uv_t *conn;
    bool subscribed; /* the SUBSCRIBE was answered on the live connection */
    bool ever_subscribed;
};

struct job_events {
    struct job_events_sub *subs; /* [nsubs], one per shard */
    int nsubs;
    int closing_left;
    struct keybuf channel;
    struct job_watch *buckets[JOB_EVENTS_BUCKETS];
    size_t nwatches;
    bool closing;
    job_events_closed_cb closed_cb;
    void *closed_arg;
};

/* job_events_open connects the subscribers (in the background; each
 * reconnects and subscribes again on its own). Returns 0, or -1 with a
 * message in err (a bad REDIS_URL). */
int job_events_open(struct job_events *h, uv_loop_t *loop, const struct config *cfg,
                    const struct keys *keys, char *err, size_t errlen);
/* job_events_watch links w in for job (or batch) id, calling cb with arg. */
void job_events_watch(struct job_events *h, struct job_watch *w, const char *id, job_watch_cb cb,
                      void *arg);
/* job_events_unwatch takes w out (nothing when it is not linked). */
void job_events_unwatch(struct job_events *h, struct job_watch *w);
/* job_events_live tells whether events are arriving now (subscribed on
 * every shard). */
bool job_events_live(const struct job_events *h);
/* job_events_dispatch calls the watches of id (what a message does; for
 * tests and the hub itself). */
void job_events_dispatch(struct job_events *h, const char *id, const char *state,
                         const char *event_id);
/* job_events_close closes the connections; every watch must be gone by
 * then. cb runs once its memory is. */
void job_events_close(struct job_events *h, job_events_closed_cb cb, void *arg);

#endif
