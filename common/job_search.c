/* job_search.c — the search rounds; see job_search.h. */
#include "common/job_search.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/lua_scripts.h"
#include "common/queue_op.h"
#include "common/url_norm.h"
#include "common/xalloc.h"

/* Candidates read beyond what a page still needs when the index alone
 * decides (room for entries of expired jobs). */
#define SEARCH_SLACK 16
#define BATCH_CURSOR_MAX 10000000L

static bool
given(const char *s) {
    return s && *s;
}

/* prefix_host writes the host of a URL prefix that holds a whole one
 * (the part after "://" ends with '/', '?' or '#'); -1 when it does not. */
static int
prefix_host(const char *prefix, char *host, size_t hostlen) {
    const char *p = strstr(prefix, "://");
    if (!p || !p[3 + strcspn(p + 3, "/?#")]) return -1;
    return url_norm_host(prefix, host, hostlen);
}

enum job_search_index
job_search_pick(const struct job_search_filter *f, char *host, size_t hostlen) {
    host[0] = '\0';
    if (given(f->url_key)) return JOB_SEARCH_BY_URL;
    if (given(f->batch)) return JOB_SEARCH_BY_BATCH;
    if (given(f->error)) return JOB_SEARCH_BY_ERROR;
    if (given(f->host) && strlen(f->host) < hostlen) {
        snprintf(host, hostlen, "%s", f->host);
        return JOB_SEARCH_BY_HOST;
    }
    if (given(f->url_prefix) && prefix_host(f->url_prefix, host, hostlen) == 0)
        return JOB_SEARCH_BY_HOST;
    host[0] = '\0';
    return JOB_SEARCH_BY_ALL;
}

bool
job_search_cursor_ok(const struct job_search_filter *f, const char *cursor) {
    if (!cursor) return true;
    if (given(f->url_key) || !given(f->batch)) return job_id_valid(cursor);
    size_t n = strlen(cursor);
    if (n == 0 || n > 8 || strspn(cursor, "0123456789") != n) return false;
    return strtol(cursor, NULL, 10) <= BATCH_CURSOR_MAX;
}

struct search_ctx {
    /* The filters, "" when not given. */
    char *url_key, *prefix, *host, *status, *error, *batch;
    enum job_search_index ix;
    struct keybuf index;
    bool exact;                /* the index alone decides (no other filter to check) */
    char last[JOB_ID_LEN + 1]; /* search index: the last id examined ("" none) */
    long walked;               /* batch list: entries walked from its end */
    int limit, examined, asked;
    char (*cand)[JOB_ID_LEN + 1]; /* this round's candidates, newest first */
    size_t ncand;
    struct job *jobs;
    size_t n;
    job_search_cb cb;
    void *arg;
};

static void
ctx_free(void *p) {
    struct search_ctx *c = p;
    free(c->url_key);
    free(c->prefix);
    free(c->host);
    free(c->status);
    free(c->error);
    free(c->batch);
    free(c->cand);
    for (size_t i = 0; i < c->n; i++) job_free(&c->jobs[i]);
    free(c->jobs);
    free(c);
}

static char *
dup_given(const char *s) {
    return xstrdup(s ? s : "");
}

/* answer hands the page to the caller (next: NULL at the index's end) and frees op. */
static void
answer(struct queue_op *op, const char *next) {
    struct search_ctx *c = op->ctx;
    c->cb(0, c->jobs, c->n, next, NULL, c->arg);
    queue_op_free(op);
}

static void
fail_search(struct queue_op *op, int status, const char *msg) {
    struct search_ctx *c = op->ctx;
    c->cb(status, NULL, 0, NULL, msg, c->arg);
}

static int round_read(struct queue_op *op);

static void
on_round(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    struct queue_op *op = arg;
    struct search_ctx *c = op->ctx;
    (void)r;
    const char *msg;
    int st = queue_op_error(reply, errstr, &msg);
    if (!st && (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
                reply->element[0]->type != REDIS_REPLY_INTEGER ||
                reply->element[1]->type != REDIS_REPLY_ARRAY || reply->element[0]->integer < 0 ||
                (size_t)reply->element[0]->integer > c->ncand))
        st = UV_EPROTO, msg = "unexpected reply to a job search";
    if (st) {
        fail_search(op, st, msg);
        queue_op_free(op);
        return;
    }
    const redisReply *items = reply->element[1];
    size_t k = (size_t)reply->element[0]->integer;
    c->jobs = xrealloc(c->jobs, (c->n + items->elements + 1) * sizeof *c->jobs);
    for (size_t i = 0; i < items->elements && c->n < (size_t)c->limit; i++)
        if (queue_op_job(items->element[i], &c->jobs[c->n]) == 0) c->n++;
    if (k > 0) memcpy(c->last, c->cand[k - 1], sizeof c->last);
    c->walked += (long)k;
    c->examined += (int)k;
    bool end = k == c->ncand && (int)c->ncand < c->asked;
    if (end) {
        answer(op, NULL);
        return;
    }
    if (c->n >= (size_t)c->limit || c->examined >= JOB_SEARCH_EXAMINE) {
        char next[24];
        if (c->ix == JOB_SEARCH_BY_BATCH) snprintf(next, sizeof next, "%ld", c->walked);
        answer(op, c->ix == JOB_SEARCH_BY_BATCH ? next : c->last);
        return;
    }
    int rc = round_read(op);
    if (rc < 0) {
        fail_search(op, rc, uv_strerror(rc));
        queue_op_free(op);
    }
}

/* on_candidates checks a round's candidates (read newest first from a
 * search index, oldest first from a batch's list) in one script. */
static int
on_candidates(struct queue_op *op, const char *const *ids, size_t n) {
    struct search_ctx *c = op->ctx;
    if (n == 0) {
        answer(op, NULL);
        return 0;
    }
    bool list = c->ix == JOB_SEARCH_BY_BATCH;
    free(c->cand);
    c->cand = xcalloc(n, sizeof *c->cand);
    const char **order = xcalloc(n, sizeof *order);
    for (size_t i = 0; i < n; i++) {
        snprintf(c->cand[i], sizeof c->cand[i], "%s", ids[list ? n - 1 - i : i]);
        order[i] = c->cand[i];
    }
    c->ncand = n;
    char want[24];
    snprintf(want, sizeof want, "%d", c->limit - (int)c->n);
    const char *keys[] = {c->index.s};
    const char *args[] = {list ? "l" : "z", want,     c->status,
                          c->error,         c->host,  c->url_key,
                          c->prefix,        c->batch, c->ix == JOB_SEARCH_BY_ERROR ? "1" : ""};
    int rc =
        queue_op_eval_ids(op->q, on_round, op, lua_job_search, 1, keys, 9, args, n, order, false);
    free(order);
    return rc;
}

/* round_read reads the next round's candidates. */
static int
round_read(struct queue_op *op) {
    struct search_ctx *c = op->ctx;
    /* A sparse search reads a few candidates first (a common match ends
     * there) and four times as many each round after, up to a full round. */
    int left = c->exact ? c->limit - (int)c->n + SEARCH_SLACK
                        : (c->asked ? c->asked * 4 : 4 * c->limit + SEARCH_SLACK);
    if (left > JOB_SEARCH_EXAMINE - c->examined) left = JOB_SEARCH_EXAMINE - c->examined;
    if (left > JOB_SEARCH_ROUND) left = JOB_SEARCH_ROUND;
    c->asked = left;
    char a[24], b[24], max[JOB_ID_LEN + 2];
    if (c->ix == JOB_SEARCH_BY_BATCH) {
        snprintf(a, sizeof a, "%ld", -(c->walked + left));
        snprintf(b, sizeof b, "%ld", -(c->walked + 1));
        const char *argv[] = {"LRANGE", c->index.s, a, b};
        return queue_op_read_ids(op, 4, argv, on_candidates, fail_search);
    }
    if (c->last[0]) snprintf(max, sizeof max, "(%s", c->last);
    else snprintf(max, sizeof max, "+");
    snprintf(a, sizeof a, "%d", left);
    const char *argv[] = {"ZRANGE", c->index.s, max, "-", "BYLEX", "REV", "LIMIT", "0", a};
    return queue_op_read_ids(op, 9, argv, on_candidates, fail_search);
}

/* index_key writes the key of c's index; -1 when it cannot be made. */
static int
index_key(struct queue *q, struct search_ctx *c, const char *host) {
    const char *k = NULL;
    switch (c->ix) {
    case JOB_SEARCH_BY_URL:
        k = keys_ix_url(&q->keys, c->url_key, &c->index);
        break;
    case JOB_SEARCH_BY_BATCH:
        k = keys_batch_jobs(&q->keys, c->batch, &c->index);
        break;
    case JOB_SEARCH_BY_ERROR:
        k = keys_ix_error(&q->keys, c->error, &c->index);
        break;
    case JOB_SEARCH_BY_HOST:
        k = keys_ix_host(&q->keys, host, &c->index);
        break;
    case JOB_SEARCH_BY_ALL:
        k = keys_ix_all(&q->keys, &c->index);
        break;
    }
    return k ? 0 : -1;
}

int
job_search(struct queue *q, const struct job_search_filter *f, const char *cursor, int limit,
           job_search_cb cb, void *arg) {
    if (limit < 1 || limit > JOB_SEARCH_LIMIT_MAX || !job_search_cursor_ok(f, cursor))
        return UV_EINVAL;
    char host[256];
    struct search_ctx *c = xcalloc(1, sizeof *c);
    c->url_key = dup_given(f->url_key);
    c->prefix = dup_given(f->url_prefix);
    c->host = dup_given(f->host);
    c->status = dup_given(f->status);
    c->error = dup_given(f->error);
    c->batch = dup_given(f->batch);
    c->ix = job_search_pick(f, host, sizeof host);
    int others = given(f->url_prefix) + given(f->host) + given(f->status) + given(f->error) +
                 given(f->batch) + given(f->url_key);
    /* A host index found through a prefix still checks the prefix. */
    c->exact = others == (c->ix != JOB_SEARCH_BY_ALL) && !given(f->url_prefix);
    c->limit = limit;
    c->cb = cb;
    c->arg = arg;
    if (cursor && c->ix == JOB_SEARCH_BY_BATCH) {
        c->walked = strtol(cursor, NULL, 10);
    } else if (cursor) {
        for (size_t i = 0; i < JOB_ID_LEN; i++)
            c->last[i] = (char)tolower((unsigned char)cursor[i]);
    }
    if (index_key(q, c, host) < 0) {
        ctx_free(c);
        return UV_EINVAL;
    }
    struct queue_op *op = queue_op_new(q, arg);
    op->ctx = c;
    op->ctx_free = ctx_free;
    int rc = round_read(op);
    if (rc < 0) queue_op_free(op);
    return rc;
}
