#include "common/queue_op.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

struct queue_op *
queue_op_new(struct queue *q, void *arg) {
    struct queue_op *op = xcalloc(1, sizeof *op);
    op->q = q;
    op->arg = arg;
    return op;
}

void
queue_op_free(struct queue_op *op) {
    free(op->url);
    if (op->ctx_free) op->ctx_free(op->ctx);
    free(op);
}

int
queue_op_error(const redisReply *r, const char *errstr, const char **msg) {
    if (!r) {
        *msg = errstr ? errstr : "redis command failed";
        return UV_ECONNRESET;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        *msg = r->str;
        return UV_EPROTO;
    }
    *msg = NULL;
    return 0;
}

int
queue_op_eval(struct queue *q, redis_uv_cb cb, void *arg, const char *script, int nkeys,
              const char *const *keys, int nargs, const char *const *args) {
    /* Most scripts take a handful of keys; pages of the failed set take
     * one per job, so larger calls get their arrays from the heap. */
    enum { SMALL = 32 };
    if (nkeys < 0 || nargs < 0 || nkeys > QUEUE_OP_EVAL_MAX || nargs > QUEUE_OP_EVAL_MAX)
        return UV_E2BIG;
    size_t argc = 3 + (size_t)nkeys + (size_t)nargs;
    const char *small_argv[SMALL];
    size_t small_len[SMALL];
    const char **argv = argc <= SMALL ? small_argv : xcalloc(argc, sizeof *argv);
    size_t *argvlen = argc <= SMALL ? small_len : xcalloc(argc, sizeof *argvlen);
    char nk[16];
    snprintf(nk, sizeof nk, "%d", nkeys);
    size_t n = 0;
    argv[n++] = "EVAL";
    argv[n++] = script;
    argv[n++] = nk;
    for (int i = 0; i < nkeys; i++) argv[n++] = keys[i];
    for (int i = 0; i < nargs; i++) argv[n++] = args[i];
    for (size_t i = 0; i < n; i++) argvlen[i] = strlen(argv[i]);
    int rc = redis_uv_command(q->redis, cb, arg, (int)n, argv, argvlen);
    if (argv != small_argv) free(argv);
    if (argvlen != small_len) free(argvlen);
    return rc;
}

int
queue_op_eval_ids(struct queue *q, redis_uv_cb cb, struct queue_op *op, const char *script,
                  int nkeys, const char *const *keys, int nargs, const char *const *args,
                  size_t nids, const char *const *ids, bool events) {
    size_t per = events ? 2 : 1;
    if (nids > QUEUE_OP_EVAL_MAX / 4) return UV_E2BIG;
    size_t nk = (size_t)nkeys + per * nids, na = (size_t)nargs + nids;
    const char **k = xcalloc(nk + 1, sizeof *k), **a = xcalloc(na + 1, sizeof *a);
    struct keybuf *jobs = xcalloc(per * nids + 1, sizeof *jobs);
    int rc = 0;
    for (int i = 0; i < nkeys; i++) k[i] = keys[i];
    for (int i = 0; i < nargs; i++) a[i] = args[i];
    for (size_t i = 0; i < nids && rc == 0; i++) {
        size_t at = (size_t)nkeys + per * i;
        k[at] = keys_job(&q->keys, ids[i], &jobs[per * i]);
        if (events) k[at + 1] = keys_events(&q->keys, ids[i], &jobs[per * i + 1]);
        a[nargs + i] = ids[i];
        if (!k[at] || (events && !k[at + 1])) rc = UV_EINVAL;
    }
    if (rc == 0) rc = queue_op_eval(q, cb, op, script, (int)nk, k, (int)na, a);
    free(jobs);
    free(k);
    free(a);
    return rc;
}

/* ids_of collects the strings of an array reply (valid while the reply
 * is); returns how many, or -1 when r is not an array of strings. *out is
 * malloc'd (free it) and NULL when there are none. */
static int
ids_of(const redisReply *r, const char ***out) {
    *out = NULL;
    if (r->type != REDIS_REPLY_ARRAY) return -1;
    for (size_t i = 0; i < r->elements; i++)
        if (r->element[i]->type != REDIS_REPLY_STRING) return -1;
    if (r->elements == 0) return 0;
    const char **ids = xcalloc(r->elements, sizeof *ids);
    for (size_t i = 0; i < r->elements; i++) ids[i] = r->element[i]->str;
    *out = ids;
    return (int)r->elements;
}

static void
on_ids(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    struct queue_op *op = arg;
    (void)r;
    const char *msg;
    const char **ids = NULL;
    int n = 0;
    int st = queue_op_error(reply, errstr, &msg);
    if (!st && (n = ids_of(reply, &ids)) < 0)
        st = UV_EPROTO, msg = "unexpected reply to a read of ids";
    if (!st && (st = op->step(op, ids, (size_t)n)) < 0) msg = uv_strerror(st);
    free(ids);
    if (st < 0) {
        op->fail(op, st, msg);
        queue_op_free(op);
    }
}

int
queue_op_read_ids(struct queue_op *op, int argc, const char **argv, queue_op_ids_step step,
                  queue_op_fail_fn fail) {
    enum { MAX = 16 };
    if (argc > MAX) return UV_E2BIG;
    size_t argvlen[MAX];
    for (int i = 0; i < argc; i++) argvlen[i] = strlen(argv[i]);
    op->step = step;
    op->fail = fail;
    return redis_uv_command(op->q->redis, on_ids, op, argc, argv, argvlen);
}

void
queue_op_done_now(struct queue_op *op, long long value) {
    op->cb.done(0, value, NULL, op->arg);
    queue_op_free(op);
}

void
queue_op_fail_done(struct queue_op *op, int status, const char *msg) {
    op->cb.done(status, 0, msg, op->arg);
}

const char *
queue_op_ms(int64_t ms, char out[24]) {
    snprintf(out, 24, "%lld", (long long)ms);
    return out;
}

void
queue_op_ix_args(const struct queue *q, int64_t now, struct queue_ix_args *out) {
    int64_t horizon = ((int64_t)q->result_ttl_s + QUEUE_LIVE_TTL_S) * 1000;
    uint64_t t = now > horizon ? (uint64_t)(now - horizon) : 0;
    /* A UUIDv7 begins with its 48-bit ms time in hex: 8 digits, '-', 4. */
    snprintf(out->floor, sizeof out->floor, "(%08llx-%04llx", (unsigned long long)(t >> 16),
             (unsigned long long)(t & 0xffff));
    snprintf(out->ttl_ms, sizeof out->ttl_ms, "%lld", (long long)horizon);
}

static int64_t
parse_ms(const char *s) {
    return s ? strtoll(s, NULL, 10) : 0;
}

static void
set_str(char **field, const char *val) {
    free(*field);
    *field = xstrdup(val);
}

int
queue_op_job(const redisReply *r, struct job *j) {
    memset(j, 0, sizeof *j);
    if (r->type != REDIS_REPLY_ARRAY || r->elements % 2) return -1;
    bool have_id = false;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i], *v = r->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) goto fail;
        const char *f = k->str, *val = v->str;
        if (!strcmp(f, "id")) {
            if (!job_id_valid(val)) goto fail;
            memcpy(j->id, val, JOB_ID_LEN + 1);
            have_id = true;
        } else if (!strcmp(f, "url")) {
            set_str(&j->url, val);
        } else if (!strcmp(f, "url_key")) {
            set_str(&j->url_key, val);
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
            set_str(&j->error, val);
        } else if (!strcmp(f, "error_code")) {
            set_str(&j->error_code, val);
        } else if (!strcmp(f, "history")) {
            set_str(&j->history, val);
        } else if (!strcmp(f, "worker")) {
            set_str(&j->worker, val);
        } else if (!strcmp(f, "result")) {
            set_str(&j->result, val);
        } else if (!strcmp(f, "waiting")) {
            set_str(&j->waiting, val);
        } else if (!strcmp(f, "batch")) {
            set_str(&j->batch, val);
        }
    }
    if (!have_id || !j->url) goto fail;
    return 0;
fail:
    job_free(j);
    return -1;
}

void
queue_op_on_int(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    struct queue_op *op = arg;
    (void)r;
    const char *msg;
    int st = queue_op_error(reply, errstr, &msg);
    if (!st && reply->type != REDIS_REPLY_INTEGER) st = UV_EPROTO, msg = "unexpected reply";
    op->cb.done(st, st ? 0 : reply->integer, msg, op->arg);
    queue_op_free(op);
}
