/* queue_wait.c — jobs that wait for their host: deferral without using
 * an attempt, and waking. See queue.h, common/lua/queue_defer.lua and
 * queue_wake.lua. */
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/lua_scripts.h"
#include "common/queue.h"
#include "common/queue_op.h"

int
queue_defer(struct queue *q, const struct queue_entry *e, const char *consumer, int64_t due_ms,
            const char *reason, const char *host, int limit, queue_done_cb cb, void *arg) {
    struct keybuf kj, ks, kr, kw, kl, kst, ke, kc;
    const char *keys[] = {keys_job(&q->keys, e->job_id, &kj),
                          keys_queue(&q->keys, &ks),
                          keys_retry(&q->keys, &kr),
                          keys_host_wait(&q->keys, host, &kw),
                          keys_host_slots(&q->keys, host, &kl),
                          keys_stats(&q->keys, &kst),
                          keys_events(&q->keys, e->job_id, &ke)};
    if (!keys[3] || !keys[4]) return UV_EINVAL;
    char now[24], due[24], lim[16];
    snprintf(lim, sizeof lim, "%d", limit);
    const char *args[] = {e->stream_id,
                          KEYS_GROUP,
                          consumer,
                          e->job_id,
                          queue_op_ms(clock_now_ms(), now),
                          queue_op_ms(due_ms, due),
                          reason,
                          lim,
                          keys_events_channel(&q->keys, &kc)};
    struct queue_op *op = queue_op_new(q, arg);
    op->cb.done = cb;
    int rc = queue_op_eval(q, queue_op_on_int, op, lua_queue_defer, 7, keys, 9, args);
    if (rc < 0) queue_op_free(op);
    return rc;
}

int
queue_wake(struct queue *q, const char *id, queue_done_cb cb, void *arg) {
    struct keybuf kj, kr, ks, ke, kc;
    if (!job_id_valid(id)) return UV_EINVAL;
    const char *keys[] = {keys_job(&q->keys, id, &kj), keys_retry(&q->keys, &kr),
                          keys_queue(&q->keys, &ks), keys_events(&q->keys, id, &ke)};
    char now[24];
    const char *args[] = {id, queue_op_ms(clock_now_ms(), now), keys_events_channel(&q->keys, &kc)};
    struct queue_op *op = queue_op_new(q, arg);
    op->cb.done = cb;
    int rc = queue_op_eval(q, queue_op_on_int, op, lua_queue_wake, 4, keys, 3, args);
    if (rc < 0) queue_op_free(op);
    return rc;
}
