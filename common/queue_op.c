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
queue_op_eval(struct queue *q, redis_uv_cb cb, struct queue_op *op, const char *script, int nkeys,
              const char *const *keys, int nargs, const char *const *args) {
    enum { MAX = 32 };
    if (nkeys + nargs + 3 > MAX) return UV_E2BIG;
    const char *argv[MAX];
    size_t argvlen[MAX];
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

const char *
queue_op_ms(int64_t ms, char out[24]) {
    snprintf(out, 24, "%lld", (long long)ms);
    return out;
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
        }
    }
    if (!have_id || !j->url) goto fail;
    return 0;
fail:
    job_free(j);
    return -1;
}
