/* queue.c — the client side of the queue: get, cancel and the failed set
 * (submit is queue_submit.c). See queue.h for the contract and common/lua/queue_*.lua for
 * the scripts. */
#include "common/queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/lua_scripts.h"
#include "common/queue_op.h"
#include "common/xalloc.h"

void
queue_init(struct queue *q, redis_uv_t *redis, const struct keys *keys, int result_ttl_s) {
    q->redis = redis;
    q->keys = *keys;
    q->result_ttl_s = result_ttl_s;
}

/* --- get --- */

static void
on_get(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    struct queue_op *op = arg;
    (void)r;
    const char *msg;
    int st = queue_op_error(reply, errstr, &msg);
    if (st) {
        op->cb.job(st, NULL, msg, op->arg);
    } else if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 0) {
        op->cb.job(0, NULL, NULL, op->arg);
    } else {
        struct job j;
        if (queue_op_job(reply, &j) < 0) {
            op->cb.job(UV_EPROTO, NULL, "malformed job hash", op->arg);
        } else {
            op->cb.job(0, &j, NULL, op->arg);
            job_free(&j);
        }
    }
    queue_op_free(op);
}

int
queue_get(struct queue *q, const char *id, queue_job_cb cb, void *arg) {
    if (!job_id_valid(id)) return UV_EINVAL;
    struct queue_op *op = queue_op_new(q, arg);
    op->cb.job = cb;
    struct keybuf kj;
    const char *argv[] = {"HGETALL", keys_job(&q->keys, id, &kj)};
    size_t argvlen[] = {7, strlen(argv[1])};
    int rc = redis_uv_command(q->redis, on_get, op, 2, argv, argvlen);
    if (rc < 0) queue_op_free(op);
    return rc;
}

/* --- cancel --- */

static void
on_cancel(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    struct queue_op *op = arg;
    (void)r;
    const char *msg;
    int st = queue_op_error(reply, errstr, &msg);
    if (st) op->cb.cancel(st, NULL, msg, op->arg);
    else if (reply->type == REDIS_REPLY_STRING) op->cb.cancel(0, reply->str, NULL, op->arg);
    else op->cb.cancel(0, NULL, NULL, op->arg); /* nil: unknown job */
    queue_op_free(op);
}

int
queue_cancel(struct queue *q, const char *id, queue_cancel_cb cb, void *arg) {
    if (!job_id_valid(id)) return UV_EINVAL;
    struct queue_op *op = queue_op_new(q, arg);
    op->cb.cancel = cb;
    struct keybuf kj, ks, kr, kst, ke, kh, khs, kc;
    const char *keys[] = {keys_job(&q->keys, id, &kj),    keys_queue(&q->keys, &ks),
                          keys_retry(&q->keys, &kr),      keys_stats(&q->keys, &kst),
                          keys_events(&q->keys, id, &ke), keys_hook(&q->keys, id, &kh),
                          keys_hooks(&q->keys, &khs)};
    char now[24], ttl[16];
    snprintf(ttl, sizeof ttl, "%d", q->result_ttl_s);
    const char *args[] = {queue_op_ms(clock_now_ms(), now), ttl, KEYS_GROUP, id,
                          keys_events_channel(&q->keys, &kc)};
    int rc = queue_op_eval(q, on_cancel, op, lua_queue_cancel, 7, keys, 5, args);
    if (rc < 0) queue_op_free(op);
    return rc;
}

/* --- the failed set --- */

static void
on_failed_list(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    struct queue_op *op = arg;
    (void)r;
    const char *msg;
    int st = queue_op_error(reply, errstr, &msg);
    if (!st && (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
                reply->element[0]->type != REDIS_REPLY_INTEGER ||
                reply->element[1]->type != REDIS_REPLY_ARRAY))
        st = UV_EPROTO, msg = "unexpected reply to failed list";
    if (st) {
        op->cb.list(st, 0, NULL, 0, msg, op->arg);
        queue_op_free(op);
        return;
    }
    const redisReply *items = reply->element[1];
    struct job *jobs = xcalloc(items->elements ? items->elements : 1, sizeof *jobs);
    size_t n = 0;
    for (size_t i = 0; i < items->elements; i++)
        if (queue_op_job(items->element[i], &jobs[n]) == 0) n++;
    op->cb.list(0, reply->element[0]->integer, jobs, n, NULL, op->arg);
    for (size_t i = 0; i < n; i++) job_free(&jobs[i]);
    free(jobs);
    queue_op_free(op);
}

/* failed_page_step reads the page's hashes and the set's size in one
 * script, given the page's ids (ZREVRANGE). */
static int
failed_page_step(struct queue_op *op, const char *const *ids, size_t n) {
    struct keybuf kf;
    const char *keys[] = {keys_failed(&op->q->keys, &kf)};
    return queue_op_eval_ids(op->q, on_failed_list, op, lua_queue_failed_list, 1, keys, 0, NULL, n,
                             ids, false);
}

static void
fail_list(struct queue_op *op, int status, const char *msg) {
    op->cb.list(status, 0, NULL, 0, msg, op->arg);
}

int
queue_failed_list(struct queue *q, long offset, long limit, queue_list_cb cb, void *arg) {
    if (offset < 0 || limit < 1 || limit > 1000) return UV_EINVAL;
    struct queue_op *op = queue_op_new(q, arg);
    op->cb.list = cb;
    struct keybuf kf;
    char start[24], stop[24];
    snprintf(start, sizeof start, "%ld", offset);
    snprintf(stop, sizeof stop, "%ld", offset + limit - 1);
    const char *argv[] = {"ZREVRANGE", keys_failed(&q->keys, &kf), start, stop};
    int rc = queue_op_read_ids(op, 4, argv, failed_page_step, fail_list);
    if (rc < 0) queue_op_free(op);
    return rc;
}

/* failed_retry_step requeues ids (the failed set's oldest, or the caller's). */
static int
failed_retry_step(struct queue_op *op, const char *const *ids, size_t n) {
    if (n == 0) { /* an empty failed set */
        queue_op_done_now(op, 0);
        return 0;
    }
    struct queue *q = op->q;
    struct keybuf kf, ks, kst, kc;
    const char *keys[] = {keys_failed(&q->keys, &kf), keys_queue(&q->keys, &ks),
                          keys_stats(&q->keys, &kst)};
    char now[24];
    const char *args[] = {queue_op_ms(clock_now_ms(), now), keys_events_channel(&q->keys, &kc)};
    return queue_op_eval_ids(q, queue_op_on_int, op, lua_queue_failed_retry, 3, keys, 2, args, n,
                             ids, true);
}

int
queue_failed_retry(struct queue *q, const char *const *ids, size_t n, queue_done_cb cb, void *arg) {
    enum { MAX_IDS = 24, MAX_ALL = 1000 };
    if (n < 1 || (ids && n > MAX_IDS) || n > MAX_ALL) return UV_EINVAL;
    for (size_t i = 0; ids && i < n; i++)
        if (!job_id_valid(ids[i])) return UV_EINVAL;
    struct queue_op *op = queue_op_new(q, arg);
    op->cb.done = cb;
    int rc;
    if (ids) {
        rc = failed_retry_step(op, ids, n);
    } else {
        /* The oldest ids first: the script must be given each job's key. */
        struct keybuf kf;
        char stop[24];
        snprintf(stop, sizeof stop, "%zu", n - 1);
        const char *argv[] = {"ZRANGE", keys_failed(&q->keys, &kf), "0", stop};
        rc = queue_op_read_ids(op, 4, argv, failed_retry_step, queue_op_fail_done);
    }
    if (rc < 0) queue_op_free(op);
    return rc;
}

int
queue_failed_delete(struct queue *q, const char *id, queue_done_cb cb, void *arg) {
    if (!job_id_valid(id)) return UV_EINVAL;
    struct queue_op *op = queue_op_new(q, arg);
    op->cb.done = cb;
    struct keybuf kf, kj;
    const char *keys[] = {keys_failed(&q->keys, &kf), keys_job(&q->keys, id, &kj)};
    const char *args[] = {id};
    int rc = queue_op_eval(q, queue_op_on_int, op, lua_queue_failed_delete, 2, keys, 1, args);
    if (rc < 0) queue_op_free(op);
    return rc;
}
