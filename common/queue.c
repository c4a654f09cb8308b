#include "common/queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/xalloc.h"

/* Each state change is one Lua script, so a job's hash, the stream and the
 * counters never disagree, even when a worker dies between two commands.
 * Scripts are sent with EVAL; Redis caches the compiled script by its SHA. */

/* KEYS: job, stream, stats. ARGV: id, url, now. Returns the stream entry id. */
static const char SUBMIT_LUA[] =
    "redis.call('HSET', KEYS[1], 'id', ARGV[1], 'url', ARGV[2], 'status', 'queued',"
    " 'attempts', 0, 'created_at', ARGV[3])\n"
    "local e = redis.call('XADD', KEYS[2], '*', 'id', ARGV[1])\n"
    "redis.call('HSET', KEYS[1], 'entry', e)\n"
    "redis.call('HINCRBY', KEYS[3], 'submitted', 1)\n"
    "return e\n";

/* KEYS: job, stream. ARGV: entry, consumer, now, group. Returns the job
 * hash after the change, or nil when there is nothing to run (the job is
 * gone or ended; that delivery is acknowledged and removed). */
static const char START_LUA[] =
    "local st = redis.call('HGET', KEYS[1], 'status')\n"
    "if (not st) or st == 'finished' or st == 'failed' or st == 'canceled' then\n"
    "  redis.call('XACK', KEYS[2], ARGV[4], ARGV[1])\n"
    "  redis.call('XDEL', KEYS[2], ARGV[1])\n"
    "  return false\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'status', 'started', 'started_at', ARGV[3],"
    " 'worker', ARGV[2], 'entry', ARGV[1])\n"
    "redis.call('HINCRBY', KEYS[1], 'attempts', 1)\n"
    "return redis.call('HGETALL', KEYS[1])\n";

/* KEYS: job, stream, stats. ARGV: entry, now, ttl, group. A delivery that
 * is no longer the job's current one (the job was handed to another
 * worker meanwhile) is only acknowledged; returns 1 when the job changed. */
static const char FINISH_LUA[] =
    "local cur = redis.call('HGET', KEYS[1], 'entry')\n"
    "redis.call('XACK', KEYS[2], ARGV[4], ARGV[1])\n"
    "redis.call('XDEL', KEYS[2], ARGV[1])\n"
    "if cur ~= ARGV[1] then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'status', 'finished', 'finished_at', ARGV[2])\n"
    "redis.call('HDEL', KEYS[1], 'next_attempt_at')\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[3])\n"
    "redis.call('HINCRBY', KEYS[3], 'finished', 1)\n"
    "return 1\n";

/* KEYS: job, stream, stats, failed. ARGV: entry, now, ttl, group, code,
 * message, id. Same stale-delivery rule as FINISH_LUA. */
static const char FAIL_LUA[] =
    "local cur = redis.call('HGET', KEYS[1], 'entry')\n"
    "redis.call('XACK', KEYS[2], ARGV[4], ARGV[1])\n"
    "redis.call('XDEL', KEYS[2], ARGV[1])\n"
    "if cur ~= ARGV[1] then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'status', 'failed', 'finished_at', ARGV[2],"
    " 'error_code', ARGV[5], 'error', ARGV[6])\n"
    "redis.call('HDEL', KEYS[1], 'next_attempt_at')\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[3])\n"
    "redis.call('ZADD', KEYS[4], ARGV[2], ARGV[7])\n"
    "redis.call('HINCRBY', KEYS[3], 'failed', 1)\n"
    "redis.call('HINCRBY', KEYS[3], 'failed:' .. ARGV[5], 1)\n"
    "return 1\n";

void
queue_init(struct queue *q, redis_uv_t *redis, const struct keys *keys, int result_ttl_s) {
    q->redis = redis;
    q->keys = *keys;
    q->result_ttl_s = result_ttl_s;
}

/* One pending operation: what to call back and what the reply parser needs. */
struct op {
    struct queue *q;
    union {
        queue_job_cb job;
        queue_done_cb done;
        queue_take_cb take;
    } cb;
    void *arg;
    char id[JOB_ID_LEN + 1];
    char *url;
    int64_t now;
};

static struct op *
op_new(struct queue *q, void *arg) {
    struct op *op = xcalloc(1, sizeof *op);
    op->q = q;
    op->arg = arg;
    return op;
}

static void
op_free(struct op *op) {
    free(op->url);
    free(op);
}

static int64_t
parse_ms(const char *s) {
    return s ? strtoll(s, NULL, 10) : 0;
}

/* job_from_pairs fills j from an HGETALL-style array; returns -1 when the
 * reply is not a field/value array or lacks the id. */
static int
job_from_pairs(const redisReply *r, struct job *j) {
    memset(j, 0, sizeof *j);
    if (r->type != REDIS_REPLY_ARRAY || r->elements % 2) return -1;
    bool have_id = false;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i], *v = r->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) return -1;
        const char *f = k->str, *val = v->str;
        if (!strcmp(f, "id") && strlen(val) == JOB_ID_LEN) {
            memcpy(j->id, val, JOB_ID_LEN + 1);
            have_id = true;
        } else if (!strcmp(f, "url")) {
            free(j->url);
            j->url = xstrdup(val);
        } else if (!strcmp(f, "status")) {
            if (job_state_parse(val, &j->state) < 0) goto fail;
        } else if (!strcmp(f, "attempts")) {
            j->attempts = atoi(val);
        } else if (!strcmp(f, "created_at")) {
            j->created_at_ms = parse_ms(val);
        } else if (!strcmp(f, "started_at")) {
            j->started_at_ms = parse_ms(val);
        } else if (!strcmp(f, "finished_at")) {
            j->finished_at_ms = parse_ms(val);
        } else if (!strcmp(f, "next_attempt_at")) {
            j->next_attempt_at_ms = parse_ms(val);
        } else if (!strcmp(f, "error")) {
            free(j->error);
            j->error = xstrdup(val);
        } else if (!strcmp(f, "error_code")) {
            free(j->error_code);
            j->error_code = xstrdup(val);
        }
    }
    if (!have_id || !j->url) goto fail;
    return 0;
fail:
    job_free(j);
    return -1;
}

/* reply_error maps a failed command to a status and message. */
static int
reply_error(const redisReply *r, const char *errstr, const char **msg) {
    if (!r) {
        *msg = errstr ? errstr : "redis command failed";
        return UV_ECONNRESET;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        *msg = r->str;
        return UV_EPROTO;
    }
    return 0;
}

static int
eval(struct queue *q, redis_uv_cb cb, struct op *op, const char *script, int nkeys,
     const char **keys, int nargs, const char **args) {
    const char *argv[16];
    size_t argvlen[16];
    char nk[8];
    snprintf(nk, sizeof nk, "%d", nkeys);
    int argc = 0;
    argv[argc++] = "EVAL";
    argv[argc++] = script;
    argv[argc++] = nk;
    for (int i = 0; i < nkeys; i++) argv[argc++] = keys[i];
    for (int i = 0; i < nargs; i++) argv[argc++] = args[i];
    for (int i = 0; i < argc; i++) argvlen[i] = strlen(argv[i]);
    return redis_uv_command(q->redis, cb, op, argc, argv, argvlen);
}

/* --- submit --- */

static void
on_submit(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    struct op *op = arg;
    (void)r;
    const char *msg = NULL;
    int st = reply_error(reply, errstr, &msg);
    if (!st && reply->type != REDIS_REPLY_STRING) st = UV_EPROTO, msg = "unexpected reply to submit";
    if (st) {
        op->cb.job(st, NULL, msg, op->arg);
    } else {
        struct job j = {.url = op->url, .state = JOB_QUEUED, .created_at_ms = op->now};
        memcpy(j.id, op->id, sizeof j.id);
        op->cb.job(0, &j, NULL, op->arg);
    }
    op_free(op);
}

int
queue_submit(struct queue *q, const char *url, queue_job_cb cb, void *arg) {
    struct op *op = op_new(q, arg);
    op->cb.job = cb;
    op->url = xstrdup(url);
    op->now = clock_now_ms();
    job_id_new(op->id);
    struct keybuf kj, ks, kst;
    const char *keys[] = {keys_job(&q->keys, op->id, &kj), keys_queue(&q->keys, &ks),
                          keys_stats(&q->keys, &kst)};
    char now[24];
    snprintf(now, sizeof now, "%lld", (long long)op->now);
    const char *args[] = {op->id, url, now};
    int rc = eval(q, on_submit, op, SUBMIT_LUA, 3, keys, 3, args);
    if (rc < 0) op_free(op);
    return rc;
}

/* --- get and start: both answer with a job hash --- */

static void
on_job_hash(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    struct op *op = arg;
    (void)r;
    const char *msg = NULL;
    int st = reply_error(reply, errstr, &msg);
    if (st) {
        op->cb.job(st, NULL, msg, op->arg);
    } else if (reply->type == REDIS_REPLY_NIL ||
               (reply->type == REDIS_REPLY_ARRAY && reply->elements == 0)) {
        op->cb.job(0, NULL, NULL, op->arg);
    } else {
        struct job j;
        if (job_from_pairs(reply, &j) < 0) {
            op->cb.job(UV_EPROTO, NULL, "malformed job hash", op->arg);
        } else {
            op->cb.job(0, &j, NULL, op->arg);
            job_free(&j);
        }
    }
    op_free(op);
}

int
queue_get(struct queue *q, const char *id, queue_job_cb cb, void *arg) {
    if (!job_id_valid(id)) return UV_EINVAL;
    struct op *op = op_new(q, arg);
    op->cb.job = cb;
    struct keybuf kj;
    const char *argv[] = {"HGETALL", keys_job(&q->keys, id, &kj)};
    size_t argvlen[] = {7, strlen(argv[1])};
    int rc = redis_uv_command(q->redis, on_job_hash, op, 2, argv, argvlen);
    if (rc < 0) op_free(op);
    return rc;
}

int
queue_start(struct queue *q, const struct queue_entry *e, const char *consumer, queue_job_cb cb,
            void *arg) {
    struct op *op = op_new(q, arg);
    op->cb.job = cb;
    struct keybuf kj, ks;
    const char *keys[] = {keys_job(&q->keys, e->job_id, &kj), keys_queue(&q->keys, &ks)};
    char now[24];
    snprintf(now, sizeof now, "%lld", (long long)clock_now_ms());
    const char *args[] = {e->stream_id, consumer, now, KEYS_GROUP};
    int rc = eval(q, on_job_hash, op, START_LUA, 2, keys, 4, args);
    if (rc < 0) op_free(op);
    return rc;
}

/* --- finish, fail, ensure_group: done callbacks --- */

static void
on_done(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    struct op *op = arg;
    (void)r;
    const char *msg = NULL;
    int st = reply_error(reply, errstr, &msg);
    /* The group already existing is success for queue_ensure_group. */
    if (st == UV_EPROTO && msg && strncmp(msg, "BUSYGROUP", 9) == 0) st = 0, msg = NULL;
    op->cb.done(st, msg, op->arg);
    op_free(op);
}

int
queue_ensure_group(struct queue *q, queue_done_cb cb, void *arg) {
    struct op *op = op_new(q, arg);
    op->cb.done = cb;
    struct keybuf ks;
    const char *argv[] = {"XGROUP", "CREATE", keys_queue(&q->keys, &ks), KEYS_GROUP, "0", "MKSTREAM"};
    size_t argvlen[6];
    for (int i = 0; i < 6; i++) argvlen[i] = strlen(argv[i]);
    int rc = redis_uv_command(q->redis, on_done, op, 6, argv, argvlen);
    if (rc < 0) op_free(op);
    return rc;
}

int
queue_finish(struct queue *q, const struct queue_entry *e, queue_done_cb cb, void *arg) {
    struct op *op = op_new(q, arg);
    op->cb.done = cb;
    struct keybuf kj, ks, kst;
    const char *keys[] = {keys_job(&q->keys, e->job_id, &kj), keys_queue(&q->keys, &ks),
                          keys_stats(&q->keys, &kst)};
    char now[24], ttl[16];
    snprintf(now, sizeof now, "%lld", (long long)clock_now_ms());
    snprintf(ttl, sizeof ttl, "%d", q->result_ttl_s);
    const char *args[] = {e->stream_id, now, ttl, KEYS_GROUP};
    int rc = eval(q, on_done, op, FINISH_LUA, 3, keys, 4, args);
    if (rc < 0) op_free(op);
    return rc;
}

int
queue_fail(struct queue *q, const struct queue_entry *e, const char *code, const char *message,
           queue_done_cb cb, void *arg) {
    struct op *op = op_new(q, arg);
    op->cb.done = cb;
    struct keybuf kj, ks, kst, kf;
    const char *keys[] = {keys_job(&q->keys, e->job_id, &kj), keys_queue(&q->keys, &ks),
                          keys_stats(&q->keys, &kst), keys_failed(&q->keys, &kf)};
    char now[24], ttl[16];
    snprintf(now, sizeof now, "%lld", (long long)clock_now_ms());
    snprintf(ttl, sizeof ttl, "%d", q->result_ttl_s);
    const char *args[] = {e->stream_id, now, ttl, KEYS_GROUP, code, message, e->job_id};
    int rc = eval(q, on_done, op, FAIL_LUA, 4, keys, 7, args);
    if (rc < 0) op_free(op);
    return rc;
}

/* --- take --- */

/* parse_entries walks [[stream, [[entry, [field, value, ...]], ...]]]. */
static size_t
parse_entries(const redisReply *r, struct queue_entry *out, size_t max) {
    size_t n = 0;
    if (r->type != REDIS_REPLY_ARRAY) return 0;
    for (size_t s = 0; s < r->elements; s++) {
        const redisReply *stream = r->element[s];
        if (stream->type != REDIS_REPLY_ARRAY || stream->elements != 2) continue;
        const redisReply *items = stream->element[1];
        if (items->type != REDIS_REPLY_ARRAY) continue;
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
    }
    return n;
}

struct take_op {
    queue_take_cb cb;
    void *arg;
    int count;
};

static void
on_take(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    struct take_op *op = arg;
    (void)r;
    const char *msg = NULL;
    int st = reply_error(reply, errstr, &msg);
    if (st) {
        op->cb(st, NULL, 0, msg, op->arg);
    } else if (reply->type == REDIS_REPLY_NIL) {
        op->cb(0, NULL, 0, NULL, op->arg);
    } else {
        struct queue_entry *entries = xcalloc((size_t)op->count, sizeof *entries);
        size_t n = parse_entries(reply, entries, (size_t)op->count);
        op->cb(0, entries, n, NULL, op->arg);
        free(entries);
    }
    free(op);
}

int
queue_take(struct queue *q, redis_uv_t *blocking, const char *consumer, int count, int block_ms,
           queue_take_cb cb, void *arg) {
    if (count < 1) return UV_EINVAL;
    struct take_op *op = xcalloc(1, sizeof *op);
    op->cb = cb;
    op->arg = arg;
    op->count = count;
    struct keybuf ks;
    char cnt[16], blk[16];
    snprintf(cnt, sizeof cnt, "%d", count);
    snprintf(blk, sizeof blk, "%d", block_ms);
    const char *argv[] = {"XREADGROUP", "GROUP", KEYS_GROUP, consumer, "COUNT", cnt, "BLOCK", blk,
                          "STREAMS", keys_queue(&q->keys, &ks), ">"};
    size_t argvlen[11];
    for (int i = 0; i < 11; i++) argvlen[i] = strlen(argv[i]);
    int rc = redis_uv_command(blocking, on_take, op, 11, argv, argvlen);
    if (rc < 0) free(op);
    return rc;
}
