/* batch_read.c — a batch's status, lines, cancel and list; see batch.h.
 *
 * Each read of jobs is two steps: the batch's job ids (LRANGE), then
 * scripts over slices of them (batch_jobs.lua, batch_cancel.lua) that
 * get every job key in KEYS[], all slices pipelined. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/batch.h"
#include "common/clock.h"
#include "common/lua_scripts.h"
#include "common/queue_op.h"
#include "common/xalloc.h"

/* Jobs per read script; lines per export page are the caller's. */
#define READ_SLICE 1000

/* A read on its way: the batch, what was asked, and the sum so far. */
struct rd {
    struct queue *q;
    void *arg;
    union {
        batch_status_cb status;
        batch_lines_cb lines;
        batch_done_cb done;
        batch_ids_cb ids;
    } cb;
    char id[JOB_ID_LEN + 1];
    struct batch_status st;
    long value;
    int inflight, status;
    char err[256];
    /* batch_lines: the page's entries (copied) and the rows made of them */
    long start;
    char **entries;
    struct batch_row *rows;
    size_t n;
};

static struct rd *
rd_new(struct queue *q, const char *id, void *arg) {
    struct rd *r = xcalloc(1, sizeof *r);
    r->q = q;
    r->arg = arg;
    if (id) snprintf(r->id, sizeof r->id, "%s", id);
    return r;
}

static void
rd_free(struct rd *r) {
    for (size_t i = 0; i < r->n; i++) free(r->entries ? r->entries[i] : NULL);
    free(r->entries);
    free(r->rows);
    free(r);
}

/* rd_send sends argv (strings, at most 8) for r, answered by cb; when it
 * cannot be sent, r is freed and the error returned. */
static int
rd_send(struct rd *r, redis_uv_cb cb, int argc, const char **argv) {
    size_t len[8];
    for (int i = 0; i < argc; i++) len[i] = strlen(argv[i]);
    int rc = redis_uv_command(r->q->redis, cb, r, argc, argv, len);
    if (rc < 0) rd_free(r);
    return rc;
}

/* reply_error is queue_op_error, and UV_EPROTO when the reply is not of type. */
static int
reply_error(const redisReply *reply, const char *errstr, int type, const char **msg) {
    int st = queue_op_error(reply, errstr, msg);
    if (!st && reply->type != type) st = UV_EPROTO, *msg = "unexpected reply";
    return st;
}

static void
rd_fail(struct rd *r, int status, const char *msg) {
    if (r->status) return;
    r->status = status;
    snprintf(r->err, sizeof r->err, "%s", msg ? msg : uv_strerror(status));
}

/* send_jobs_script sends script over ids[0..n) in slices; per job the
 * keys are the job hash (and, with cancel, its events and hook). */
static int
send_slices(struct rd *r, redis_uv_cb cb, const char *script, bool cancel, const redisReply *ids,
            size_t from, size_t n) {
    struct queue *q = r->q;
    int per = cancel ? 3 : 1, fixed = cancel ? 4 : 0, fixed_args = cancel ? 5 : 0;
    for (size_t i = 0; i < n; i += READ_SLICE) {
        size_t m = n - i < READ_SLICE ? n - i : READ_SLICE;
        size_t nk = (size_t)fixed + (size_t)per * m, na = (size_t)fixed_args + (cancel ? m : 0);
        struct keybuf *kb = xcalloc(nk, sizeof *kb);
        const char **keys = xcalloc(nk, sizeof *keys), **args = xcalloc(na + 1, sizeof *args);
        char now[24], ttl[24];
        struct keybuf kc;
        int rc = 0;
        if (cancel) {
            keys[0] = keys_queue(&q->keys, &kb[0]);
            keys[1] = keys_retry(&q->keys, &kb[1]);
            keys[2] = keys_stats(&q->keys, &kb[2]);
            keys[3] = keys_hooks(&q->keys, &kb[3]);
            snprintf(ttl, sizeof ttl, "%d", q->result_ttl_s);
            args[0] = queue_op_ms(clock_now_ms(), now);
            args[1] = ttl;
            args[2] = KEYS_GROUP;
            args[3] = keys_events_channel(&q->keys, &kc);
            args[4] = r->id;
        }
        for (size_t j = 0; j < m; j++) {
            const redisReply *e = ids->element[from + i + j];
            const char *id = e->type == REDIS_REPLY_STRING ? e->str : NULL;
            if (!job_id_valid(id)) {
                rc = UV_EPROTO;
                break;
            }
            size_t k = (size_t)fixed + (size_t)per * j;
            keys[k] = keys_job(&q->keys, id, &kb[k]);
            if (cancel) {
                keys[k + 1] = keys_events(&q->keys, id, &kb[k + 1]);
                keys[k + 2] = keys_hook(&q->keys, id, &kb[k + 2]);
                args[fixed_args + j] = id;
            }
        }
        if (!rc) rc = queue_op_eval(q, cb, r, script, (int)nk, keys, (int)na, args);
        free(kb);
        free(keys);
        free(args);
        if (rc < 0) return rc;
        r->inflight++;
    }
    return 0;
}

/* --- status --- */

static void answer_status(struct rd *r);

static int64_t
num(const redisReply *e) {
    return e && e->type == REDIS_REPLY_STRING ? strtoll(e->str, NULL, 10) : 0;
}

static void
on_status_jobs(redis_uv_t *rr, redisReply *reply, const char *errstr, void *arg) {
    struct rd *r = arg;
    (void)rr;
    const char *msg;
    int st = reply_error(reply, errstr, REDIS_REPLY_ARRAY, &msg);
    for (size_t i = 0; !st && i < reply->elements; i++) {
        const redisReply *f = reply->element[i];
        if (f->type != REDIS_REPLY_ARRAY || f->elements != 6) {
            st = UV_EPROTO, msg = "unexpected reply";
            break;
        }
        enum job_state s;
        int k = f->element[0]->type == REDIS_REPLY_STRING &&
                        job_state_parse(f->element[0]->str, &s) == 0
                    ? (int)s
                    : BATCH_EXPIRED;
        r->st.counts[k]++;
        int64_t started = num(f->element[1]), ended = num(f->element[2]);
        if (started && (!r->st.started_at_ms || started < r->st.started_at_ms))
            r->st.started_at_ms = started;
        if (k == BATCH_EXPIRED || job_state_terminal((enum job_state)k)) {
            r->st.done++;
            if (ended > r->st.finished_at_ms) r->st.finished_at_ms = ended;
        }
    }
    if (st) rd_fail(r, st, msg);
    if (--r->inflight == 0) answer_status(r);
}

static void
on_ended_kept(redis_uv_t *rr, redisReply *reply, const char *errstr, void *arg) {
    (void)rr, (void)reply, (void)errstr, (void)arg; /* the next read counts again */
}

/* keep_ended records an ended batch's counts and lets its keys expire
 * result_ttl_s from now, as an ended job's hash does. */
static void
keep_ended(struct rd *r) {
    struct queue *q = r->q;
    struct keybuf kb, kl, kj;
    const char *batch = keys_batch(&q->keys, r->id, &kb);
    char counts[BATCH_NSTATES * 24] = "", started[24], finished[24], ttl[24];
    for (int i = 0; i < BATCH_NSTATES; i++) {
        size_t len = strlen(counts);
        snprintf(counts + len, sizeof counts - len, "%s%ld", i ? " " : "", r->st.counts[i]);
    }
    snprintf(ttl, sizeof ttl, "%d", q->result_ttl_s);
    const char *hset[] = {"HSET",        batch,
                          "counts",      counts,
                          "started_at",  queue_op_ms(r->st.started_at_ms, started),
                          "finished_at", queue_op_ms(r->st.finished_at_ms, finished)};
    const char *cmds[4][8] = {{0}};
    int argc[4] = {8, 3, 3, 3};
    memcpy(cmds[0], hset, sizeof hset);
    const char *keys[3] = {batch, keys_batch_lines(&q->keys, r->id, &kl),
                           keys_batch_jobs(&q->keys, r->id, &kj)};
    for (int i = 0; i < 3; i++) {
        cmds[i + 1][0] = "EXPIRE";
        cmds[i + 1][1] = keys[i];
        cmds[i + 1][2] = ttl;
    }
    for (int i = 0; i < 4; i++) {
        size_t len[8];
        for (int j = 0; j < argc[i]; j++) len[j] = strlen(cmds[i][j]);
        (void)redis_uv_command(q->redis, on_ended_kept, NULL, argc[i], cmds[i], len);
    }
}

static void
answer_status(struct rd *r) {
    if (r->status) {
        r->cb.status(r->status, NULL, r->err, r->arg);
    } else {
        if (r->st.done < r->st.jobs) r->st.finished_at_ms = 0;
        else if (r->st.finished_at_ms == 0) r->st.finished_at_ms = r->st.created_at_ms;
        if (r->st.done >= r->st.jobs) keep_ended(r);
        r->cb.status(0, &r->st, NULL, r->arg);
    }
    rd_free(r);
}

static void
on_status_ids(redis_uv_t *rr, redisReply *reply, const char *errstr, void *arg) {
    struct rd *r = arg;
    (void)rr;
    const char *msg;
    int st = reply_error(reply, errstr, REDIS_REPLY_ARRAY, &msg);
    if (!st) st = send_slices(r, on_status_jobs, lua_batch_jobs, false, reply, 0, reply->elements);
    if (st) rd_fail(r, st, msg);
    if (r->inflight == 0) answer_status(r);
}

/* parse_batch fills r->st from the batch hash (HGETALL); -1 if malformed. */
static int
parse_batch(struct rd *r, const redisReply *h, bool *ended) {
    struct batch_status *s = &r->st;
    *ended = false;
    for (size_t i = 0; i + 1 < h->elements; i += 2) {
        const redisReply *k = h->element[i], *v = h->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) return -1;
        const char *name = k->str;
        long n = strtol(v->str, NULL, 10);
        if (!strcmp(name, "created_at")) s->created_at_ms = strtoll(v->str, NULL, 10);
        else if (!strcmp(name, "started_at")) s->started_at_ms = strtoll(v->str, NULL, 10);
        else if (!strcmp(name, "finished_at")) s->finished_at_ms = strtoll(v->str, NULL, 10);
        else if (!strcmp(name, "total")) s->total = n;
        else if (!strcmp(name, "jobs")) s->jobs = n;
        else if (!strcmp(name, "invalid")) s->invalid = n;
        else if (!strcmp(name, "created")) s->created = n;
        else if (!strcmp(name, "deduplicated")) s->deduplicated = n;
        else if (!strcmp(name, "cached")) s->cached = n;
        else if (!strcmp(name, "max_age")) s->max_age_s = n;
        else if (!strcmp(name, "fresh")) s->fresh = n == 1;
        else if (!strcmp(name, "counts")) {
            const char *p = v->str;
            for (int j = 0; j < BATCH_NSTATES; j++) {
                char *end;
                s->counts[j] = strtol(p, &end, 10);
                if (end == p) return -1;
                p = end;
            }
            *ended = true;
        }
    }
    if (*ended) s->done = s->jobs;
    return 0;
}

static void
on_batch_hash(redis_uv_t *rr, redisReply *reply, const char *errstr, void *arg) {
    struct rd *r = arg;
    (void)rr;
    const char *msg;
    int st = queue_op_error(reply, errstr, &msg);
    bool ended = false;
    if (!st && reply->type != REDIS_REPLY_ARRAY) st = UV_EPROTO, msg = "unexpected reply";
    if (!st && reply->elements == 0) {
        r->cb.status(0, NULL, NULL, r->arg);
        rd_free(r);
        return;
    }
    if (!st && parse_batch(r, reply, &ended) < 0) st = UV_EPROTO, msg = "malformed batch hash";
    if (!st && !ended) {
        memset(r->st.counts, 0, sizeof r->st.counts);
        r->st.started_at_ms = r->st.finished_at_ms = 0;
        struct keybuf kj;
        const char *argv[] = {"LRANGE", keys_batch_jobs(&r->q->keys, r->id, &kj), "0", "-1"};
        size_t len[] = {6, strlen(argv[1]), 1, 2};
        st = redis_uv_command(r->q->redis, on_status_ids, r, 4, argv, len);
        if (!st) return;
        msg = NULL;
    }
    if (st) {
        r->cb.status(st, NULL, msg ? msg : uv_strerror(st), r->arg);
    } else {
        r->cb.status(0, &r->st, NULL, r->arg);
    }
    rd_free(r);
}

int
batch_status(struct queue *q, const char *id, batch_status_cb cb, void *arg) {
    if (!job_id_valid(id)) return UV_EINVAL;
    struct rd *r = rd_new(q, id, arg);
    r->cb.status = cb;
    snprintf(r->st.id, sizeof r->st.id, "%s", id);
    struct keybuf kb;
    const char *argv[] = {"HGETALL", keys_batch(&q->keys, id, &kb)};
    return rd_send(r, on_batch_hash, 2, argv);
}

/* --- lines --- */

/* parse_entry turns a lines-list entry into row (pointing into e). */
static int
parse_entry(char *e, struct batch_row *row) {
    if (e[0] == '-' && e[1] == ' ') {
        char *tab = strchr(e + 2, '\t');
        if (!tab) return -1;
        *tab = '\0';
        row->reason = e + 2;
        row->url = tab + 1;
        return 0;
    }
    if (strlen(e) < JOB_ID_LEN + 3 || e[JOB_ID_LEN] != ' ' || e[JOB_ID_LEN + 2] != ' ') return -1;
    memcpy(row->job_id, e, JOB_ID_LEN);
    row->job_id[JOB_ID_LEN] = '\0';
    if (!job_id_valid(row->job_id)) return -1;
    row->how = e[JOB_ID_LEN + 1];
    row->url = e + JOB_ID_LEN + 3;
    return 0;
}

static const char *
str_of(const redisReply *e) {
    return e && e->type == REDIS_REPLY_STRING ? e->str : NULL;
}

/* answer_lines answers with the page's rows; jobs (batch_jobs.lua's
 * reply, or NULL) gives the valid lines' job fields, in order. */
static void
answer_lines(struct rd *r, const redisReply *jobs) {
    if (r->status) {
        r->cb.lines(r->status, NULL, 0, r->err, r->arg);
        rd_free(r);
        return;
    }
    size_t j = 0;
    for (size_t i = 0; i < r->n; i++) {
        struct batch_row *row = &r->rows[i];
        if (!row->job_id[0]) continue;
        const redisReply *f = jobs && j < jobs->elements ? jobs->element[j] : NULL;
        j++;
        if (!f || f->type != REDIS_REPLY_ARRAY || f->elements != 6) continue;
        row->status = str_of(f->element[0]);
        row->error_code = str_of(f->element[3]);
        row->error = str_of(f->element[4]);
        row->result = str_of(f->element[5]);
    }
    r->cb.lines(0, r->rows, r->n, NULL, r->arg);
    rd_free(r);
}

static void
on_lines_jobs(redis_uv_t *rr, redisReply *reply, const char *errstr, void *arg) {
    struct rd *r = arg;
    (void)rr;
    const char *msg;
    int st = reply_error(reply, errstr, REDIS_REPLY_ARRAY, &msg);
    if (st) rd_fail(r, st, msg);
    answer_lines(r, st ? NULL : reply);
}

static void
on_lines(redis_uv_t *rr, redisReply *reply, const char *errstr, void *arg) {
    struct rd *r = arg;
    (void)rr;
    const char *msg;
    int st = reply_error(reply, errstr, REDIS_REPLY_ARRAY, &msg);
    if (st) {
        rd_fail(r, st, msg);
        answer_lines(r, NULL);
        return;
    }
    r->n = reply->elements;
    r->entries = xcalloc(r->n ? r->n : 1, sizeof *r->entries);
    r->rows = xcalloc(r->n ? r->n : 1, sizeof *r->rows);
    const char **ids = xcalloc(r->n ? r->n : 1, sizeof *ids);
    size_t nids = 0;
    for (size_t i = 0; i < r->n; i++) {
        const redisReply *e = reply->element[i];
        r->entries[i] = xstrdup(e->type == REDIS_REPLY_STRING ? e->str : "");
        r->rows[i].index = r->start + (long)i;
        if (parse_entry(r->entries[i], &r->rows[i]) < 0) {
            rd_fail(r, UV_EPROTO, "malformed batch line");
            break;
        }
        if (r->rows[i].job_id[0]) ids[nids++] = r->rows[i].job_id;
    }
    if (!r->status && nids > 0) {
        struct keybuf *kb = xcalloc(nids, sizeof *kb);
        const char **keys = xcalloc(nids, sizeof *keys);
        for (size_t i = 0; i < nids; i++) keys[i] = keys_job(&r->q->keys, ids[i], &kb[i]);
        int rc = queue_op_eval(r->q, on_lines_jobs, r, lua_batch_jobs, (int)nids, keys, 0, NULL);
        free(kb);
        free(keys);
        free(ids);
        if (rc == 0) return;
        rd_fail(r, rc, NULL);
    } else {
        free(ids);
    }
    answer_lines(r, NULL);
}

int
batch_lines(struct queue *q, const char *id, long start, long count, batch_lines_cb cb, void *arg) {
    if (!job_id_valid(id) || start < 0 || count < 1 || count > QUEUE_OP_EVAL_MAX) return UV_EINVAL;
    struct rd *r = rd_new(q, id, arg);
    r->cb.lines = cb;
    r->start = start;
    struct keybuf kl;
    char from[24], to[24];
    snprintf(from, sizeof from, "%ld", start);
    snprintf(to, sizeof to, "%ld", start + count - 1);
    const char *argv[] = {"LRANGE", keys_batch_lines(&q->keys, id, &kl), from, to};
    return rd_send(r, on_lines, 4, argv);
}

/* --- cancel --- */

static void
on_canceled(redis_uv_t *rr, redisReply *reply, const char *errstr, void *arg) {
    struct rd *r = arg;
    (void)rr;
    const char *msg;
    int st = reply_error(reply, errstr, REDIS_REPLY_INTEGER, &msg);
    if (st) rd_fail(r, st, msg);
    else r->value += (long)reply->integer;
    if (--r->inflight > 0) return;
    r->cb.done(r->status, r->status ? 0 : r->value, r->status ? r->err : NULL, r->arg);
    rd_free(r);
}

static void
on_cancel_ids(redis_uv_t *rr, redisReply *reply, const char *errstr, void *arg) {
    struct rd *r = arg;
    (void)rr;
    const char *msg;
    int st = reply_error(reply, errstr, REDIS_REPLY_ARRAY, &msg);
    r->inflight = 1; /* held until every slice is sent */
    if (!st) st = send_slices(r, on_canceled, lua_batch_cancel, true, reply, 0, reply->elements);
    if (st) rd_fail(r, st, msg);
    on_canceled(NULL, &(redisReply){.type = REDIS_REPLY_INTEGER}, NULL, r);
}

static void
on_cancel_exists(redis_uv_t *rr, redisReply *reply, const char *errstr, void *arg) {
    struct rd *r = arg;
    (void)rr;
    const char *msg;
    int st = reply_error(reply, errstr, REDIS_REPLY_INTEGER, &msg);
    if (!st && reply->integer == 0) {
        r->cb.done(0, -1, NULL, r->arg);
        rd_free(r);
        return;
    }
    if (!st) {
        struct keybuf kj;
        const char *argv[] = {"LRANGE", keys_batch_jobs(&r->q->keys, r->id, &kj), "0", "-1"};
        size_t len[] = {6, strlen(argv[1]), 1, 2};
        st = redis_uv_command(r->q->redis, on_cancel_ids, r, 4, argv, len);
        if (!st) return;
        msg = uv_strerror(st);
    }
    r->cb.done(st, 0, msg, r->arg);
    rd_free(r);
}

int
batch_cancel(struct queue *q, const char *id, batch_done_cb cb, void *arg) {
    if (!job_id_valid(id)) return UV_EINVAL;
    struct rd *r = rd_new(q, id, arg);
    r->cb.done = cb;
    struct keybuf kb;
    const char *argv[] = {"EXISTS", keys_batch(&q->keys, id, &kb)};
    return rd_send(r, on_cancel_exists, 2, argv);
}

/* --- list --- */

static void
on_list(redis_uv_t *rr, redisReply *reply, const char *errstr, void *arg) {
    struct rd *r = arg;
    (void)rr;
    const char *msg;
    int st = reply_error(reply, errstr, REDIS_REPLY_ARRAY, &msg);
    if (st) {
        r->cb.ids(st, NULL, 0, msg, r->arg);
    } else {
        const char **ids = xcalloc(reply->elements + 1, sizeof *ids);
        size_t n = 0;
        for (size_t i = 0; i < reply->elements; i++)
            if (reply->element[i]->type == REDIS_REPLY_STRING &&
                job_id_valid(reply->element[i]->str))
                ids[n++] = reply->element[i]->str;
        r->cb.ids(0, ids, n, NULL, r->arg);
        free(ids);
    }
    rd_free(r);
}

int
batch_list(struct queue *q, long limit, batch_ids_cb cb, void *arg) {
    if (limit < 1 || limit > BATCH_LIST_MAX) return UV_EINVAL;
    struct rd *r = rd_new(q, NULL, arg);
    r->cb.ids = cb;
    struct keybuf ks;
    char to[24];
    snprintf(to, sizeof to, "%ld", limit - 1);
    const char *argv[] = {"ZREVRANGE", keys_batches(&q->keys, &ks), "0", to};
    return rd_send(r, on_list, 4, argv);
}

static void
on_forgotten(redis_uv_t *rr, redisReply *reply, const char *errstr, void *arg) {
    (void)rr, (void)reply, (void)errstr, (void)arg;
}

void
batch_forget(struct queue *q, const char *id) {
    struct keybuf ks;
    const char *argv[] = {"ZREM", keys_batches(&q->keys, &ks), id};
    size_t len[] = {4, strlen(argv[1]), strlen(id)};
    (void)redis_uv_command(q->redis, on_forgotten, NULL, 3, argv, len);
}
