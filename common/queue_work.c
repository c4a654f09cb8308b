/* queue_work.c — the worker side of the queue: taking deliveries, leases,
 * rescue, and ending a job. See queue.h for the contract and
 * common/lua/queue_*.lua for the scripts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/lua_scripts.h"
#include "common/queue.h"
#include "common/queue_op.h"
#include "common/stats.h"
#include "common/xalloc.h"

static int
send_argv(struct queue *q, redis_uv_t *conn, redis_uv_cb cb, struct queue_op *op, int argc,
          const char **argv) {
    size_t argvlen[16];
    for (int i = 0; i < argc; i++) argvlen[i] = strlen(argv[i]);
    int rc = redis_uv_command(conn ? conn : q->redis, cb, op, argc, argv, argvlen);
    if (rc < 0) queue_op_free(op);
    return rc;
}

/* --- consumer group --- */

static void
on_group(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    struct queue_op *op = arg;
    (void)r;
    const char *msg;
    int st = queue_op_error(reply, errstr, &msg);
    /* The group already existing is what we want. */
    if (st == UV_EPROTO && msg && strncmp(msg, "BUSYGROUP", 9) == 0) st = 0, msg = NULL;
    op->cb.done(st, st ? 0 : 1, msg, op->arg);
    queue_op_free(op);
}

int
queue_ensure_group(struct queue *q, queue_done_cb cb, void *arg) {
    struct queue_op *op = queue_op_new(q, arg);
    op->cb.done = cb;
    struct keybuf ks;
    const char *argv[] = {"XGROUP",   "CREATE", keys_queue(&q->keys, &ks),
                          KEYS_GROUP, "0",      "MKSTREAM"};
    return send_argv(q, NULL, on_group, op, 6, argv);
}

/* --- take and rescue --- */

/* parse_items reads [[entry, [field, value, ...]], ...] into out. */
static size_t
parse_items(const redisReply *items, struct queue_entry *out, size_t max) {
    size_t n = 0;
    if (!items || items->type != REDIS_REPLY_ARRAY) return 0;
    for (size_t i = 0; i < items->elements && n < max; i++) {
        const redisReply *it = items->element[i];
        if (it->type != REDIS_REPLY_ARRAY || it->elements != 2) continue;
        const redisReply *eid = it->element[0], *fields = it->element[1];
        if (eid->type != REDIS_REPLY_STRING || eid->len >= sizeof out[n].stream_id) continue;
        if (fields->type != REDIS_REPLY_ARRAY) continue;
        for (size_t f = 0; f + 1 < fields->elements; f += 2) {
            const redisReply *k = fields->element[f], *v = fields->element[f + 1];
            if (k->type == REDIS_REPLY_STRING && !strcmp(k->str, "id") &&
                v->type == REDIS_REPLY_STRING && job_id_valid(v->str)) {
                memcpy(out[n].stream_id, eid->str, eid->len + 1);
                memcpy(out[n].job_id, v->str, JOB_ID_LEN + 1);
                n++;
                break;
            }
        }
    }
    return n;
}

static void
deliver(struct queue_op *op, const redisReply *items) {
    struct queue_entry *entries = xcalloc((size_t)op->count, sizeof *entries);
    size_t n = parse_items(items, entries, (size_t)op->count);
    op->cb.take(0, entries, n, NULL, op->arg);
    free(entries);
}

static void
on_take(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    struct queue_op *op = arg;
    (void)r;
    const char *msg;
    int st = queue_op_error(reply, errstr, &msg);
    if (st) {
        op->cb.take(st, NULL, 0, msg, op->arg);
    } else if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) {
        op->cb.take(0, NULL, 0, NULL, op->arg); /* nil: the block timed out */
    } else {
        /* [[stream, items]]: one stream was asked for. */
        const redisReply *stream = reply->element[0];
        deliver(op, stream->type == REDIS_REPLY_ARRAY && stream->elements == 2 ? stream->element[1]
                                                                               : NULL);
    }
    queue_op_free(op);
}

int
queue_take(struct queue *q, redis_uv_t *blocking, const char *consumer, int count, int block_ms,
           queue_take_cb cb, void *arg) {
    if (count < 1 || block_ms < 0) return UV_EINVAL;
    struct queue_op *op = queue_op_new(q, arg);
    op->cb.take = cb;
    op->count = count;
    struct keybuf ks;
    char cnt[16], blk[16];
    snprintf(cnt, sizeof cnt, "%d", count);
    snprintf(blk, sizeof blk, "%d", block_ms);
    const char *argv[] = {"XREADGROUP", "GROUP", KEYS_GROUP, consumer,  "COUNT",
                          cnt,          "BLOCK", blk,        "STREAMS", keys_queue(&q->keys, &ks),
                          ">"};
    if (block_ms == 0) {
        /* No BLOCK (BLOCK 0 would wait for ever): an answer at once. */
        const char *now[] = {"XREADGROUP", "GROUP",   KEYS_GROUP, consumer, "COUNT",
                             cnt,          "STREAMS", argv[9],    ">"};
        return send_argv(q, blocking, on_take, op, 9, now);
    }
    return send_argv(q, blocking, on_take, op, 11, argv);
}

static void
on_rescue(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    struct queue_op *op = arg;
    (void)r;
    const char *msg;
    int st = queue_op_error(reply, errstr, &msg);
    /* XAUTOCLAIM answers [next-cursor, items, deleted-ids]. */
    if (!st && (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 ||
                reply->element[0]->type != REDIS_REPLY_STRING))
        st = UV_EPROTO, msg = "unexpected reply to XAUTOCLAIM";
    if (st) {
        op->cb.take(st, NULL, 0, msg, op->arg);
    } else {
        snprintf(op->cursor, 48, "%s", reply->element[0]->str);
        deliver(op, reply->element[1]);
    }
    queue_op_free(op);
}

int
queue_rescue(struct queue *q, const char *consumer, long min_idle_ms, int count, char cursor[48],
             queue_take_cb cb, void *arg) {
    if (count < 1 || min_idle_ms < 0) return UV_EINVAL;
    struct queue_op *op = queue_op_new(q, arg);
    op->cb.take = cb;
    op->count = count;
    op->cursor = cursor;
    struct keybuf ks;
    char idle[24], cnt[16];
    snprintf(idle, sizeof idle, "%ld", min_idle_ms);
    snprintf(cnt, sizeof cnt, "%d", count);
    const char *argv[] = {"XAUTOCLAIM", keys_queue(&q->keys, &ks),  KEYS_GROUP, consumer,
                          idle,         cursor[0] ? cursor : "0-0", "COUNT",    cnt};
    return send_argv(q, NULL, on_rescue, op, 8, argv);
}

/* --- start --- */

static void
on_start(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    struct queue_op *op = arg;
    (void)r;
    const char *msg;
    int st = queue_op_error(reply, errstr, &msg);
    if (st) {
        op->cb.job(st, NULL, msg, op->arg);
    } else if (reply->type != REDIS_REPLY_ARRAY) {
        op->cb.job(0, NULL, NULL, op->arg); /* false -> nil: nothing to run */
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

/* The keys of the scripts that may fail a job (queue_start, when the job
 * is out of attempts, and queue_fail): job, stream, stats, failed, ts
 * (the minute of now), events, hook, hooks, the search index of the
 * error code; and the index's upkeep arguments. */
struct fail_keys {
    struct keybuf b[9];
    const char *k[9];
    struct queue_ix_args ix;
};

/* error_index is the search index of error code (keys_ix_error); a code
 * no key can hold (none, or too long) is indexed as "unknown". */
static const char *
error_index(struct queue *q, const char *code, struct keybuf *out) {
    const char *k = keys_ix_error(&q->keys, code, out);
    return k ? k : keys_ix_error(&q->keys, "unknown", out);
}

static const char *const *
fail_keys(struct queue *q, const char *id, const char *code, int64_t now_ms, struct fail_keys *f) {
    f->k[8] = error_index(q, code, &f->b[8]);
    queue_op_ix_args(q, now_ms, &f->ix);
    f->k[0] = keys_job(&q->keys, id, &f->b[0]);
    f->k[1] = keys_queue(&q->keys, &f->b[1]);
    f->k[2] = keys_stats(&q->keys, &f->b[2]);
    f->k[3] = keys_failed(&q->keys, &f->b[3]);
    f->k[4] = keys_ts(&q->keys, keys_ts_minute(now_ms), &f->b[4]);
    f->k[5] = keys_events(&q->keys, id, &f->b[5]);
    f->k[6] = keys_hook(&q->keys, id, &f->b[6]);
    f->k[7] = keys_hooks(&q->keys, &f->b[7]);
    return f->k;
}

int
queue_start(struct queue *q, const struct queue_entry *e, const char *consumer, int max_attempts,
            queue_job_cb cb, void *arg) {
    struct queue_op *op = queue_op_new(q, arg);
    op->cb.job = cb;
    int64_t now_ms = clock_now_ms();
    struct fail_keys fk;
    const char *const *keys = fail_keys(q, e->job_id, "worker_lost", now_ms, &fk);
    struct keybuf kc;
    char now[24], max[16], ttl[16];
    snprintf(max, sizeof max, "%d", max_attempts);
    snprintf(ttl, sizeof ttl, "%d", q->result_ttl_s);
    const char *args[] = {e->stream_id, consumer,     queue_op_ms(now_ms, now),
                          KEYS_GROUP,   max,          ttl,
                          e->job_id,    STATS_TS_TTL, keys_events_channel(&q->keys, &kc),
                          fk.ix.floor,  fk.ix.ttl_ms};
    int rc = queue_op_eval(q, on_start, op, lua_queue_start, 9, keys, 11, args);
    if (rc < 0) queue_op_free(op);
    return rc;
}

/* --- leases --- */

static void
on_renew(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    struct queue_op *op = arg;
    (void)r;
    const char *msg;
    int st = queue_op_error(reply, errstr, &msg);
    if (!st && reply->type != REDIS_REPLY_ARRAY) st = UV_EPROTO, msg = "unexpected reply to renew";
    if (st) {
        op->cb.renew(st, NULL, 0, msg, op->arg);
    } else {
        const char **lost = xcalloc(reply->elements ? reply->elements : 1, sizeof *lost);
        size_t n = 0;
        for (size_t i = 0; i < reply->elements; i++)
            if (reply->element[i]->type == REDIS_REPLY_STRING) lost[n++] = reply->element[i]->str;
        op->cb.renew(0, lost, n, NULL, op->arg);
        free(lost);
    }
    queue_op_free(op);
}

int
queue_renew(struct queue *q, const char *consumer, const struct queue_entry *entries, size_t n,
            queue_renew_cb cb, void *arg) {
    /* One EVAL per call; callers batch up to QUEUE_RENEW_MAX entries. */
    enum { MAX = 4096 };
    if (n < 1 || n > MAX) return UV_EINVAL;
    struct queue_op *op = queue_op_new(q, arg);
    op->cb.renew = cb;
    struct keybuf ks;
    size_t argc = 6 + n;
    const char **argv = xcalloc(argc, sizeof *argv);
    size_t *argvlen = xcalloc(argc, sizeof *argvlen);
    argv[0] = "EVAL";
    argv[1] = lua_queue_renew;
    argv[2] = "1";
    argv[3] = keys_queue(&q->keys, &ks);
    argv[4] = KEYS_GROUP;
    argv[5] = consumer;
    for (size_t i = 0; i < n; i++) argv[6 + i] = entries[i].stream_id;
    for (size_t i = 0; i < argc; i++) argvlen[i] = strlen(argv[i]);
    int rc = redis_uv_command(q->redis, on_renew, op, (int)argc, argv, argvlen);
    free(argv);
    free(argvlen);
    if (rc < 0) queue_op_free(op);
    return rc;
}

/* --- ending a delivery: finish, fail, retry, release --- */

int
queue_finish(struct queue *q, const struct queue_entry *e, const char *consumer, queue_done_cb cb,
             void *arg) {
    return queue_finish_with(q, e, consumer, NULL, cb, arg);
}

int
queue_finish_with(struct queue *q, const struct queue_entry *e, const char *consumer,
                  const struct queue_result *res, queue_done_cb cb, void *arg) {
    struct keybuf kj, ks, kst, kt, ke, kh, khs, kp, kpj, kc;
    const char *page = res && res->url_key ? keys_page(&q->keys, res->url_key, &kp) : NULL;
    const char *page_job = page ? keys_page_job(&q->keys, res->url_key, &kpj) : NULL;
    if (res && res->url_key && !page_job) return UV_EINVAL;
    struct queue_op *op = queue_op_new(q, arg);
    op->cb.done = cb;
    int64_t now_ms = clock_now_ms();
    const char *keys[] = {keys_job(&q->keys, e->job_id, &kj),
                          keys_queue(&q->keys, &ks),
                          keys_stats(&q->keys, &kst),
                          keys_ts(&q->keys, keys_ts_minute(now_ms), &kt),
                          keys_events(&q->keys, e->job_id, &ke),
                          keys_hook(&q->keys, e->job_id, &kh),
                          keys_hooks(&q->keys, &khs),
                          page,
                          page_job};
    char now[24], ttl[16], page_ttl[16];
    snprintf(ttl, sizeof ttl, "%d", q->result_ttl_s);
    snprintf(page_ttl, sizeof page_ttl, "%d", QUEUE_PAGE_TTL_S);
    const char *args[] = {e->stream_id,
                          queue_op_ms(now_ms, now),
                          ttl,
                          KEYS_GROUP,
                          consumer,
                          res && res->summary ? res->summary : "",
                          STATS_TS_TTL,
                          STATS_MS_BOUNDS_TEXT,
                          keys_events_channel(&q->keys, &kc),
                          res && res->validators ? "1" : "0",
                          page_ttl,
                          e->job_id};
    int rc = queue_op_eval(q, queue_op_on_int, op, lua_queue_finish, page ? 9 : 7, keys,
                           page ? 12 : 9, args);
    if (rc < 0) queue_op_free(op);
    return rc;
}

/* on_noted: the note's "v" is "1" when the page's result has validators. */
static void
on_noted(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    struct queue_op *op = arg;
    (void)r;
    const char *msg;
    int st = queue_op_error(reply, errstr, &msg);
    bool noted = !st && reply->type == REDIS_REPLY_STRING && !strcmp(reply->str, "1");
    op->cb.done(st, noted, msg, op->arg);
    queue_op_free(op);
}

int
queue_page_noted(struct queue *q, const char *url_key, queue_done_cb cb, void *arg) {
    struct keybuf kp;
    const char *page = keys_page(&q->keys, url_key, &kp);
    if (!page) return UV_EINVAL;
    struct queue_op *op = queue_op_new(q, arg);
    op->cb.done = cb;
    const char *argv[] = {"HGET", page, "v"};
    return send_argv(q, NULL, on_noted, op, 3, argv);
}

int
queue_fail(struct queue *q, const struct queue_entry *e, const char *consumer, const char *code,
           const char *message, queue_done_cb cb, void *arg) {
    struct queue_op *op = queue_op_new(q, arg);
    op->cb.done = cb;
    int64_t now_ms = clock_now_ms();
    struct fail_keys fk;
    const char *const *keys = fail_keys(q, e->job_id, code, now_ms, &fk);
    struct keybuf kc;
    char now[24], ttl[16];
    snprintf(ttl, sizeof ttl, "%d", q->result_ttl_s);
    const char *args[] = {e->stream_id, queue_op_ms(now_ms, now),
                          ttl,          KEYS_GROUP,
                          consumer,     code,
                          message,      e->job_id,
                          STATS_TS_TTL, keys_events_channel(&q->keys, &kc),
                          fk.ix.floor,  fk.ix.ttl_ms};
    int rc = queue_op_eval(q, queue_op_on_int, op, lua_queue_fail, 9, keys, 12, args);
    if (rc < 0) queue_op_free(op);
    return rc;
}

int
queue_retry(struct queue *q, const struct queue_entry *e, const char *consumer, int64_t due_ms,
            const char *code, const char *message, queue_done_cb cb, void *arg) {
    struct queue_op *op = queue_op_new(q, arg);
    op->cb.done = cb;
    struct keybuf kj, ks, kst, kr, ke, ki, kc;
    const char *keys[] = {keys_job(&q->keys, e->job_id, &kj),
                          keys_queue(&q->keys, &ks),
                          keys_stats(&q->keys, &kst),
                          keys_retry(&q->keys, &kr),
                          keys_events(&q->keys, e->job_id, &ke),
                          error_index(q, code, &ki)};
    char now[24], due[24];
    int64_t now_ms = clock_now_ms();
    struct queue_ix_args ix;
    queue_op_ix_args(q, now_ms, &ix);
    const char *args[] = {e->stream_id,
                          queue_op_ms(now_ms, now),
                          queue_op_ms(due_ms, due),
                          KEYS_GROUP,
                          consumer,
                          code,
                          message,
                          e->job_id,
                          keys_events_channel(&q->keys, &kc),
                          ix.floor,
                          ix.ttl_ms};
    int rc = queue_op_eval(q, queue_op_on_int, op, lua_queue_retry, 6, keys, 11, args);
    if (rc < 0) queue_op_free(op);
    return rc;
}

int
queue_release(struct queue *q, const struct queue_entry *e, const char *consumer, queue_done_cb cb,
              void *arg) {
    struct queue_op *op = queue_op_new(q, arg);
    op->cb.done = cb;
    struct keybuf kj, ks, ke, kc;
    const char *keys[] = {keys_job(&q->keys, e->job_id, &kj), keys_queue(&q->keys, &ks),
                          keys_events(&q->keys, e->job_id, &ke)};
    char now[24];
    const char *args[] = {e->stream_id,
                          KEYS_GROUP,
                          consumer,
                          e->job_id,
                          queue_op_ms(clock_now_ms(), now),
                          keys_events_channel(&q->keys, &kc)};
    int rc = queue_op_eval(q, queue_op_on_int, op, lua_queue_release, 3, keys, 6, args);
    if (rc < 0) queue_op_free(op);
    return rc;
}

/* promote_step moves the due ids (ZRANGEBYSCORE) still due, given each
 * job's key. */
static int
promote_step(struct queue_op *op, const char *const *ids, size_t n) {
    if (n == 0) { /* nothing due: the usual answer */
        queue_op_done_now(op, 0);
        return 0;
    }
    struct queue *q = op->q;
    struct keybuf kr, ks, kc;
    const char *keys[] = {keys_retry(&q->keys, &kr), keys_queue(&q->keys, &ks)};
    char now[24];
    const char *args[] = {queue_op_ms(op->now, now), keys_events_channel(&q->keys, &kc)};
    return queue_op_eval_ids(q, queue_op_on_int, op, lua_queue_promote, 2, keys, 2, args, n, ids,
                             true);
}

int
queue_promote(struct queue *q, int limit, queue_done_cb cb, void *arg) {
    if (limit < 1) return UV_EINVAL;
    struct queue_op *op = queue_op_new(q, arg);
    op->cb.done = cb;
    op->now = clock_now_ms();
    struct keybuf kr;
    char now[24], lim[16];
    snprintf(lim, sizeof lim, "%d", limit);
    const char *argv[] = {"ZRANGEBYSCORE",
                          keys_retry(&q->keys, &kr),
                          "-inf",
                          queue_op_ms(op->now, now),
                          "LIMIT",
                          "0",
                          lim};
    int rc = queue_op_read_ids(op, 7, argv, promote_step, queue_op_fail_done);
    if (rc < 0) queue_op_free(op);
    return rc;
}
