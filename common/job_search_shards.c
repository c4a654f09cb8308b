/* job_search_shards.c — a search over every shard. See job_search_shards.h. */
#include "common/job_search_shards.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/shards.h"
#include "common/url_norm.h"
#include "common/xalloc.h"

struct fan {
    job_search_cb cb;
    void *arg;
    int limit;
    int pending, failed;
    char errstr[256];
    struct job *jobs; /* every shard's answers, copied */
    size_t n, cap;
    char bound[JOB_ID_LEN + 1]; /* the highest id a shard stopped at ("": none) */
};

static void
keep(struct fan *x, const struct job *j) {
    if (x->n == x->cap) {
        x->cap = x->cap ? 2 * x->cap : 64;
        x->jobs = xrealloc(x->jobs, x->cap * sizeof *x->jobs);
    }
    job_copy(&x->jobs[x->n++], j);
}

static int
newer_first(const void *a, const void *b) {
    return -strcmp(((const struct job *)a)->id, ((const struct job *)b)->id);
}

/* finish merges the answers and calls back once. */
static void
finish(struct fan *x) {
    if (x->failed) {
        x->cb(UV_EPROTO, NULL, 0, NULL, x->errstr, x->arg);
    } else {
        qsort(x->jobs, x->n, sizeof *x->jobs, newer_first);
        /* Only the ids above the highest place a shard stopped at are
         * known on every shard. */
        size_t n = 0;
        while (n < x->n && (!x->bound[0] || strcmp(x->jobs[n].id, x->bound) >= 0)) n++;
        const char *next = x->bound[0] ? x->bound : NULL;
        if (n > (size_t)x->limit) {
            n = (size_t)x->limit;
            next = x->jobs[n - 1].id;
        }
        x->cb(0, x->jobs, n, next, NULL, x->arg);
    }
    for (size_t i = 0; i < x->n; i++) job_free(&x->jobs[i]);
    free(x->jobs);
    free(x);
}

static void
on_shard(int status, const struct job *jobs, size_t n, const char *next, const char *errstr,
         void *arg) {
    struct fan *x = arg;
    if (status < 0) {
        x->failed++;
        snprintf(x->errstr, sizeof x->errstr, "%s", errstr ? errstr : "redis error");
    } else {
        for (size_t i = 0; i < n; i++) keep(x, &jobs[i]);
        if (next && strlen(next) == JOB_ID_LEN && strcmp(next, x->bound) > 0)
            snprintf(x->bound, sizeof x->bound, "%s", next);
    }
    if (--x->pending == 0) finish(x);
}

int
job_search_shards(struct queue *const *qs, int n, const struct job_search_filter *f,
                  const char *cursor, int limit, job_search_cb cb, void *arg) {
    if (n <= 1) return job_search(qs[0], f, cursor, limit, cb, arg);
    /* A page lives on its host's shard, a batch's jobs on the batch's. */
    if (f->url_key && *f->url_key)
        return job_search(qs[shards_of_url(f->url_key, n)], f, cursor, limit, cb, arg);
    if (f->batch && *f->batch) {
        int s = shards_of_id(f->batch, n);
        return job_search(qs[s < 0 ? 0 : s], f, cursor, limit, cb, arg);
    }
    if (limit < 1 || limit > JOB_SEARCH_LIMIT_MAX || !job_search_cursor_ok(f, cursor))
        return UV_EINVAL;
    struct fan *x = xcalloc(1, sizeof *x);
    x->cb = cb;
    x->arg = arg;
    x->limit = limit;
    x->pending = 1; /* held until every shard was asked */
    for (int i = 0; i < n; i++) {
        x->pending++;
        int rc = job_search(qs[i], f, cursor, limit, on_shard, x);
        if (rc < 0) {
            x->pending--;
            x->failed++;
            snprintf(x->errstr, sizeof x->errstr, "shard %d: %s", i, uv_strerror(rc));
        }
    }
    if (--x->pending == 0) finish(x);
    return 0;
}
