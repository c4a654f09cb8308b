/* queue_submit.c — submitting jobs: a new job, an idempotent replay, the
 * page's live job joined, or a fresh result taken. See queue.h
 * (queue_submit_with) for the contract and common/lua/queue_submit.lua
 * for the script. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/lua_scripts.h"
#include "common/queue.h"
#include "common/queue_op.h"
#include "common/url_norm.h"
#include "common/xalloc.h"

/* How many times a submit reads the page's live job again after a racing
 * submit changed it; each race is won by someone, so a few are plenty. */
#define SUBMIT_MAX_AGAIN 8

/* The copies a submit keeps for its script (sent again after a race). */
struct submit_ctx {
    char *url_key, *callback_url, *cached_id, *idem_key, *body_hash;
    bool fresh, plain; /* plain: queue_submit (queue_job_cb) */
    int idem_ttl_s;
    int64_t max_age_ms;
    int again;
    char live[JOB_ID_LEN + 1]; /* the live job as last read ("" none) */
};

static void
ctx_free(void *p) {
    struct submit_ctx *c = p;
    free(c->url_key);
    free(c->callback_url);
    free(c->cached_id);
    free(c->idem_key);
    free(c->body_hash);
    free(c);
}

static int submit_eval(struct queue_op *op);

static void
answer(struct queue_op *op, int st, enum queue_submit_outcome outcome, const char *other,
       const char *msg) {
    struct submit_ctx *c = op->ctx;
    struct job j = {
        .url = op->url, .url_key = c->url_key, .state = JOB_QUEUED, .created_at_ms = op->now};
    memcpy(j.id, op->id, sizeof j.id);
    bool created = !st && outcome == QUEUE_CREATED;
    if (c->plain) op->cb.job(st, created ? &j : NULL, msg, op->arg);
    else op->cb.submit(st, outcome, created ? &j : NULL, created ? NULL : other, msg, op->arg);
    queue_op_free(op);
}

/* answered_with_copy answers a max_age submit with the page's newest
 * finished job id: with the job itself when the copy of its hash read
 * (an expired copy is empty, and a damaged one is ignored: the caller
 * reads the job, as after a cached_id submit). */
static void
answered_with_copy(struct queue_op *op, const char *id, const redisReply *copy) {
    struct job j;
    bool have = copy->elements > 0 && queue_op_job(copy, &j) == 0;
    if (have && strcmp(j.id, id) != 0) {
        job_free(&j);
        have = false;
    }
    op->cb.submit(0, QUEUE_CACHED, have ? &j : NULL, id, NULL, op->arg);
    if (have) job_free(&j);
    queue_op_free(op);
}

/* failed answers op with a reply's error and returns true, if it is one. */
static bool
failed(struct queue_op *op, const redisReply *reply, const char *errstr) {
    const char *msg;
    int st = queue_op_error(reply, errstr, &msg);
    if (st) answer(op, st, QUEUE_CREATED, NULL, msg);
    return st != 0;
}

static void
on_submit(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    struct queue_op *op = arg;
    struct submit_ctx *c = op->ctx;
    (void)r;
    if (failed(op, reply, errstr)) return;
    if (reply->type == REDIS_REPLY_STRING) {
        answer(op, 0, QUEUE_CREATED, NULL, NULL);
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 || reply->elements > 3 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[1]->type != REDIS_REPLY_STRING) {
        answer(op, UV_EPROTO, QUEUE_CREATED, NULL, "unexpected reply to submit");
        return;
    }
    if (reply->elements == 3) {
        /* A max_age answer with the copy of the job as it finished. */
        answered_with_copy(op, reply->element[1]->str, reply->element[2]);
        return;
    }
    const char *what = reply->element[0]->str, *id = reply->element[1]->str;
    if (!strcmp(what, "unknown")) {
        answer(op, 0, QUEUE_FRESH_UNKNOWN, NULL, NULL);
        return;
    }
    if (!strcmp(what, "again")) {
        /* A racing submit changed the page's live job: ask again with it. */
        if (++c->again > SUBMIT_MAX_AGAIN || (*id && !job_id_valid(id))) {
            answer(op, UV_EAGAIN, QUEUE_CREATED, NULL, "the page's live job keeps changing");
            return;
        }
        snprintf(c->live, sizeof c->live, "%s", id);
        int rc = submit_eval(op);
        if (rc < 0) answer(op, rc, QUEUE_CREATED, NULL, uv_strerror(rc));
        return;
    }
    static const struct {
        const char *name;
        enum queue_submit_outcome outcome;
    } outcomes[] = {{"replay", QUEUE_REPLAY},
                    {"conflict", QUEUE_CONFLICT},
                    {"dedup", QUEUE_DEDUPLICATED},
                    {"cached", QUEUE_CACHED}};
    for (size_t i = 0; i < sizeof outcomes / sizeof *outcomes; i++) {
        if (!strcmp(what, outcomes[i].name)) {
            answer(op, 0, outcomes[i].outcome, id, NULL);
            return;
        }
    }
    answer(op, UV_EPROTO, QUEUE_CREATED, NULL, "unexpected reply to submit");
}

/* submit_eval sends the script for op with the live job last read. */
static int
submit_eval(struct queue_op *op) {
    struct queue *q = op->q;
    struct submit_ctx *c = op->ctx;
    if (!op->id[0]) job_id_new_on(op->id, q->keys.shard); /* drawn only when a job may be created */
    struct keybuf kj, ks, kst, ke, kl, klj, kp, kpj, kia, kih, kiu, ki, kc;
    char host[300];
    const char *live = keys_live(&q->keys, c->url_key, &kl);
    const char *page = keys_page(&q->keys, c->url_key, &kp);
    const char *page_job = keys_page_job(&q->keys, c->url_key, &kpj);
    if (!live || !page || !page_job || url_norm_host(c->url_key, host, sizeof host) < 0)
        return UV_EINVAL;
    const char *keys[] = {keys_job(&q->keys, op->id, &kj),
                          keys_queue(&q->keys, &ks),
                          keys_stats(&q->keys, &kst),
                          keys_events(&q->keys, op->id, &ke),
                          live,
                          c->live[0] ? keys_job(&q->keys, c->live, &klj) : live,
                          page,
                          page_job,
                          keys_ix_all(&q->keys, &kia),
                          keys_ix_host(&q->keys, host, &kih),
                          keys_ix_url(&q->keys, c->url_key, &kiu),
                          c->idem_key ? keys_idem(&q->keys, c->idem_key, &ki) : NULL};
    if (!keys[9] || !keys[10] || (c->idem_key && !keys[11])) return UV_EINVAL;
    char now[24], idem_ttl[24], live_ttl[24], max_age[24];
    struct queue_ix_args ix;
    queue_op_ix_args(q, op->now, &ix);
    snprintf(idem_ttl, sizeof idem_ttl, "%d", c->idem_ttl_s);
    snprintf(live_ttl, sizeof live_ttl, "%d", QUEUE_LIVE_TTL_S);
    snprintf(max_age, sizeof max_age, "%lld", (long long)c->max_age_ms);
    const char *args[] = {op->id,
                          op->url,
                          queue_op_ms(op->now, now),
                          keys_events_channel(&q->keys, &kc),
                          c->callback_url ? c->callback_url : "",
                          c->url_key,
                          c->fresh ? "1" : "0",
                          c->live,
                          c->cached_id ? c->cached_id : "",
                          live_ttl,
                          max_age,
                          ix.floor,
                          ix.ttl_ms,
                          c->body_hash ? c->body_hash : "",
                          idem_ttl};
    return queue_op_eval(q, on_submit, op, lua_queue_submit, c->idem_key ? 12 : 11, keys,
                         c->idem_key ? 15 : 13, args);
}

static char *
dup_or_null(const char *s) {
    return s ? xstrdup(s) : NULL;
}

/* submit_new copies r into a new operation; NULL when r is unusable. */
static struct queue_op *
submit_new(struct queue *q, const struct queue_submit_req *r, bool plain, void *arg) {
    if (!r->url || !r->url_key || (r->idem_key && !r->body_hash) ||
        (r->cached_id && !job_id_valid(r->cached_id)))
        return NULL;
    struct queue_op *op = queue_op_new(q, arg);
    struct submit_ctx *c = xcalloc(1, sizeof *c);
    c->url_key = xstrdup(r->url_key);
    c->callback_url = dup_or_null(r->callback_url);
    c->cached_id = dup_or_null(r->cached_id);
    c->idem_key = dup_or_null(r->idem_key);
    c->body_hash = dup_or_null(r->body_hash);
    c->fresh = r->fresh;
    c->plain = plain;
    c->idem_ttl_s = r->idem_ttl_s;
    c->max_age_ms = r->max_age_ms > 0 && !r->cached_id ? r->max_age_ms : 0;
    op->ctx = c;
    op->ctx_free = ctx_free;
    op->url = xstrdup(r->url);
    op->now = clock_now_ms();
    return op;
}

static bool
asks_max_age(const struct queue_op *op) {
    return ((const struct submit_ctx *)op->ctx)->max_age_ms > 0;
}

/* on_live_read: the page's live job as it is now, then the script. */
static void
on_live_read(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    struct queue_op *op = arg;
    struct submit_ctx *c = op->ctx;
    (void)r;
    if (failed(op, reply, errstr)) return;
    if (reply->type == REDIS_REPLY_STRING && job_id_valid(reply->str))
        snprintf(c->live, sizeof c->live, "%s", reply->str);
    int rc = submit_eval(op);
    if (rc < 0) answer(op, rc, QUEUE_CREATED, NULL, uv_strerror(rc));
}

/* copy_fresh tells whether j, read from the copy of the page's newest
 * finished job (keys_page_job), answers op's max_age: that page's, and
 * ended no longer ago than max_age. */
static bool
copy_fresh(const struct queue_op *op, const struct job *j) {
    const struct submit_ctx *c = op->ctx;
    return j->state == JOB_FINISHED && j->url_key && !strcmp(j->url_key, c->url_key) &&
           j->finished_at_ms > 0 && op->now - j->finished_at_ms <= c->max_age_ms;
}

/* on_copy_read: the page's newest finished job, when fresh enough, is
 * the answer; otherwise (none, expired, too old) the script decides, by
 * the note, atomically with the rest of the rules. */
static void
on_copy_read(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    struct queue_op *op = arg;
    (void)r;
    if (failed(op, reply, errstr)) return;
    struct job j;
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 && queue_op_job(reply, &j) == 0) {
        bool fresh = copy_fresh(op, &j);
        if (fresh) op->cb.submit(0, QUEUE_CACHED, &j, j.id, NULL, op->arg);
        job_free(&j);
        if (fresh) {
            queue_op_free(op);
            return;
        }
    }
    int rc = submit_eval(op);
    if (rc < 0) answer(op, rc, QUEUE_CREATED, NULL, uv_strerror(rc));
}

int
queue_submit_with(struct queue *q, const struct queue_submit_req *r, queue_submit_cb cb,
                  void *arg) {
    struct queue_op *op = submit_new(q, r, false, arg);
    if (!op) return UV_EINVAL;
    op->cb.submit = cb;
    int rc;
    if (asks_max_age(op) && !r->idem_key) {
        /* Most max_age submits are answered by the copy of the page's
         * newest finished job, read as a poll reads a job: one HGETALL,
         * no script. (The copy and the note are written together, by
         * queue_finish_with; an Idempotency-Key must be recorded, so its
         * submits go to the script.) */
        struct keybuf kpj;
        const char *page_job = keys_page_job(&q->keys, r->url_key, &kpj);
        const char *argv[] = {"HGETALL", page_job};
        size_t argvlen[] = {7, page_job ? strlen(page_job) : 0};
        rc = page_job ? redis_uv_command(q->redis, on_copy_read, op, 2, argv, argvlen) : UV_EINVAL;
    } else if (r->fresh || r->cached_id || asks_max_age(op)) {
        /* No live job to read (with max_age, the note may answer; if not,
         * the script says which live job to read, as after a race). */
        rc = submit_eval(op);
    } else {
        /* Read the page's live job first: the script must be given its hash. */
        struct keybuf kl;
        const char *live = keys_live(&q->keys, r->url_key, &kl);
        const char *argv[] = {"GET", live};
        size_t argvlen[] = {3, live ? strlen(live) : 0};
        rc = live ? redis_uv_command(q->redis, on_live_read, op, 2, argv, argvlen) : UV_EINVAL;
    }
    if (rc < 0) queue_op_free(op);
    return rc;
}

int
queue_submit(struct queue *q, const char *url, const char *callback_url, queue_job_cb cb,
             void *arg) {
    char key[URL_NORM_MAX + 1], err[256];
    if (url_norm(url, key, sizeof key, err, sizeof err) < 0) return UV_EINVAL;
    struct queue_submit_req r = {
        .url = url, .url_key = key, .callback_url = callback_url, .fresh = true};
    struct queue_op *op = submit_new(q, &r, true, arg);
    op->cb.job = cb;
    int rc = submit_eval(op);
    if (rc < 0) queue_op_free(op);
    return rc;
}
