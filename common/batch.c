/* batch.c — creating a batch; see batch.h (reads are batch_read.c). */
#include "common/batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/lua_scripts.h"
#include "common/queue_op.h"
#include "common/url_norm.h"
#include "common/xalloc.h"

/* How many times the pages whose live job changed are sent again. */
#define CREATE_MAX_ROUNDS 8
/* Arguments per RPUSH when the lists are recorded. */
#define PUSH_SLICE 1000

struct cline {
    char *url, *url_key, *reason, *cached;
    char job[JOB_ID_LEN + 1];  /* the job answered with */
    char live[JOB_ID_LEN + 1]; /* the page's live job as last read */
    char how;                  /* 'c', 'd', 'k'; 0 while pending or invalid */
    size_t rep;                /* the first line of the same page: submitted for both */
};

struct create {
    struct queue *q;
    batch_create_cb cb;
    void *arg;
    struct batch_created out;
    int64_t now;
    bool fresh;
    long max_age_s;
    struct cline *lines;
    size_t n;
    size_t *round_lines; /* the lines this round submits, BATCH_SLICE at a time */
    size_t nround_lines, next;
    size_t *again; /* lines to send again next round */
    size_t nagain;
    int round;    /* 0: the live pointers are read first (unless fresh) */
    int inflight; /* commands sent, not yet answered */
    int status;   /* the first failure */
    char err[256];
};

/* One slice on its way: its lines' indexes. */
struct slice {
    struct create *c;
    size_t *idx;
    size_t n;
};

static void
create_free(struct create *c) {
    for (size_t i = 0; i < c->n; i++) {
        free(c->lines[i].url);
        free(c->lines[i].url_key);
        free(c->lines[i].reason);
        free(c->lines[i].cached);
    }
    free(c->lines);
    free(c->round_lines);
    free(c->again);
    free(c);
}

static void
fail(struct create *c, int status, const char *msg) {
    if (c->status) return;
    c->status = status;
    snprintf(c->err, sizeof c->err, "%s", msg ? msg : uv_strerror(status));
}

static void record(struct create *c);
static void follow(struct create *c);
static int send_slice(struct slice *s);
static int read_live(struct slice *s);

static void
slice_free(struct slice *s) {
    free(s->idx);
    free(s);
}

/* send_next sends the next slice of this round's lines: its live
 * pointers first in the first round (a later round's come from the
 * script's answer), then its script. Slices go one after another, so
 * that other clients' commands run between them and no command waits
 * behind a whole batch (nor past the connection's command timeout). */
static int
send_next(struct create *c) {
    struct slice *s = xcalloc(1, sizeof *s);
    s->c = c;
    s->n = c->nround_lines - c->next < BATCH_SLICE ? c->nround_lines - c->next : BATCH_SLICE;
    s->idx = xcalloc(s->n, sizeof *s->idx);
    memcpy(s->idx, c->round_lines + c->next, s->n * sizeof *s->idx);
    c->next += s->n;
    c->inflight++;
    int rc = c->round == 0 && !c->fresh ? read_live(s) : send_slice(s);
    if (rc < 0) {
        if (c->round == 0 && !c->fresh) slice_free(s); /* send_slice frees its own */
        c->inflight--;
    }
    return rc;
}

/* step_done: one command answered; then the next slice, the next round
 * (the pages whose live job changed meanwhile), or the record. */
static void
step_done(struct create *c) {
    if (--c->inflight > 0) return;
    if (!c->status && c->next == c->nround_lines && c->nagain > 0) {
        if (++c->round > CREATE_MAX_ROUNDS) {
            fail(c, UV_EAGAIN, "pages' live jobs keep changing");
        } else {
            /* The script said what each live pointer is now: send again. */
            size_t *t = c->round_lines;
            c->round_lines = c->again;
            c->nround_lines = c->nagain;
            c->again = t;
            c->nagain = 0;
            c->next = 0;
        }
    }
    if (!c->status && c->next < c->nround_lines) {
        int rc = send_next(c);
        if (rc == 0) return;
        fail(c, rc, NULL);
    }
    if (c->status) {
        c->cb(c->status, NULL, c->err, c->arg);
        create_free(c);
        return;
    }
    follow(c);
    record(c);
}

/* slice_reply checks a reply that answers each of s's n lines (an array
 * of n); 0, or a UV_* error and msg. */
static int
slice_reply(const struct slice *s, const redisReply *reply, const char *errstr, const char *what,
            const char **msg) {
    int st = queue_op_error(reply, errstr, msg);
    if (!st && (reply->type != REDIS_REPLY_ARRAY || reply->elements != s->n)) {
        st = UV_EPROTO;
        *msg = what;
    }
    return st;
}

static void
on_slice(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    struct slice *s = arg;
    struct create *c = s->c;
    (void)r;
    const char *msg;
    int st = slice_reply(s, reply, errstr, "unexpected reply to batch_submit", &msg);
    for (size_t i = 0; !st && i < s->n; i++) {
        const redisReply *e = reply->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[0]->type != REDIS_REPLY_STRING ||
            e->element[1]->type != REDIS_REPLY_STRING) {
            st = UV_EPROTO;
            msg = "unexpected reply to batch_submit";
            break;
        }
        struct cline *l = &c->lines[s->idx[i]];
        const char *what = e->element[0]->str, *id = e->element[1]->str;
        if (*id && !job_id_valid(id)) {
            st = UV_EPROTO;
            msg = "malformed job id in batch_submit's reply";
        } else if (!strcmp(what, "again")) {
            snprintf(l->live, sizeof l->live, "%s", id);
            c->again[c->nagain++] = s->idx[i];
        } else {
            snprintf(l->job, sizeof l->job, "%s", id);
            l->how = !strcmp(what, "created") ? 'c' : !strcmp(what, "dedup") ? 'd' : 'k';
            if (l->how == 'c') c->out.created++;
            else if (l->how == 'd') c->out.deduplicated++;
            else c->out.cached++;
        }
    }
    if (st) fail(c, st, msg);
    slice_free(s);
    step_done(c);
}

/* send_slice sends s's script (the live pointers are read into the lines). */
static int
send_slice(struct slice *s) {
    struct create *c = s->c;
    struct queue *q = c->q;
    size_t nk = 3 + 6 * s->n, na = 7 + 5 * s->n;
    struct keybuf *kb = xcalloc(nk, sizeof *kb);
    char(*ids)[JOB_ID_LEN + 1] = xcalloc(s->n, sizeof *ids);
    const char **keys = xcalloc(nk, sizeof *keys), **args = xcalloc(na, sizeof *args);
    char now[24], ttl[24], chan[sizeof(struct keybuf)], host[300];
    struct keybuf kc;
    struct queue_ix_args ix;
    queue_op_ix_args(q, c->now, &ix);
    snprintf(ttl, sizeof ttl, "%d", QUEUE_LIVE_TTL_S);
    snprintf(chan, sizeof chan, "%s", keys_events_channel(&q->keys, &kc));
    keys[0] = keys_queue(&q->keys, &kb[0]);
    keys[1] = keys_stats(&q->keys, &kb[1]);
    keys[2] = keys_ix_all(&q->keys, &kb[2]);
    args[0] = queue_op_ms(c->now, now);
    args[1] = chan;
    args[2] = ttl;
    args[3] = c->out.id;
    args[4] = c->fresh ? "1" : "0";
    args[5] = ix.floor;
    args[6] = ix.ttl_ms;
    int rc = 0;
    for (size_t i = 0; i < s->n; i++) {
        struct cline *l = &c->lines[s->idx[i]];
        job_id_new_on(ids[i], q->keys.shard);
        const char **k = keys + 3 + 6 * i, **a = args + 7 + 5 * i;
        struct keybuf *b = kb + 3 + 6 * i;
        k[0] = keys_job(&q->keys, ids[i], &b[0]);
        k[1] = keys_events(&q->keys, ids[i], &b[1]);
        k[2] = keys_live(&q->keys, l->url_key, &b[2]);
        k[3] = l->live[0] ? keys_job(&q->keys, l->live, &b[3]) : k[2];
        k[4] = url_norm_host(l->url_key, host, sizeof host) == 0
                   ? keys_ix_host(&q->keys, host, &b[4])
                   : NULL;
        k[5] = keys_ix_url(&q->keys, l->url_key, &b[5]);
        if (!k[0] || !k[1] || !k[2] || !k[3] || !k[4] || !k[5]) rc = UV_EINVAL;
        a[0] = ids[i];
        a[1] = l->url;
        a[2] = l->url_key;
        a[3] = l->live;
        a[4] = l->cached ? l->cached : "";
    }
    if (!rc) rc = queue_op_eval(q, on_slice, s, lua_batch_submit, (int)nk, keys, (int)na, args);
    free(kb);
    free(ids);
    free(keys);
    free(args);
    if (rc < 0) slice_free(s);
    return rc;
}

/* on_live_read: the slice's live pointers, then its script. */
static void
on_live_read(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    struct slice *s = arg;
    struct create *c = s->c;
    (void)r;
    const char *msg;
    int st = slice_reply(s, reply, errstr, "unexpected reply to MGET", &msg);
    if (st) {
        fail(c, st, msg);
        slice_free(s);
        step_done(c);
        return;
    }
    for (size_t i = 0; i < s->n; i++) {
        const redisReply *e = reply->element[i];
        if (e->type == REDIS_REPLY_STRING && job_id_valid(e->str))
            snprintf(c->lines[s->idx[i]].live, JOB_ID_LEN + 1, "%s", e->str);
    }
    int rc = send_slice(s);
    if (rc < 0) {
        fail(c, rc, NULL);
        step_done(c);
    }
}

/* read_live sends MGET of s's live pointers. */
static int
read_live(struct slice *s) {
    struct create *c = s->c;
    const char **argv = xcalloc(s->n + 1, sizeof *argv);
    size_t *len = xcalloc(s->n + 1, sizeof *len);
    struct keybuf *kb = xcalloc(s->n, sizeof *kb);
    int rc = 0;
    argv[0] = "MGET";
    len[0] = 4;
    for (size_t i = 0; i < s->n; i++) {
        argv[i + 1] = keys_live(&c->q->keys, c->lines[s->idx[i]].url_key, &kb[i]);
        if (!argv[i + 1]) rc = UV_EINVAL;
        else len[i + 1] = strlen(argv[i + 1]);
    }
    if (!rc) rc = redis_uv_command(c->q->redis, on_live_read, s, (int)s->n + 1, argv, len);
    free(argv);
    free(len);
    free(kb);
    return rc;
}

/* by_page orders line indexes by page, then by position (qsort_r). */
static int
by_page(const void *a, const void *b, void *arg) {
    const struct cline *lines = arg;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    int c = strcmp(lines[i].url_key, lines[j].url_key);
    return c ? c : (i > j) - (i < j);
}

/* same_page points every line at the first line of its page (rep), so
 * that a page is submitted once per batch: the other lines take its
 * answer. Returns how many lines are their page's first (set in first). */
static size_t
same_page(struct create *c, size_t *valid, size_t nvalid, size_t *first) {
    size_t *order = xcalloc(nvalid ? nvalid : 1, sizeof *order), n = 0;
    memcpy(order, valid, nvalid * sizeof *valid);
    qsort_r(order, nvalid, sizeof *order, by_page, c->lines);
    for (size_t k = 0; k < nvalid; k++) {
        size_t i = order[k];
        bool head = k == 0 || strcmp(c->lines[order[k - 1]].url_key, c->lines[i].url_key) != 0;
        c->lines[i].rep = head ? i : c->lines[order[k - 1]].rep;
    }
    free(order);
    /* In line order, so the first line of a page is the one created. */
    for (size_t k = 0; k < nvalid; k++)
        if (c->lines[valid[k]].rep == valid[k]) first[n++] = valid[k];
    return n;
}

/* follow gives every line that is not its page's first the answer of
 * that first line: the same job, joined (or the same fresh result). */
static void
follow(struct create *c) {
    for (size_t i = 0; i < c->n; i++) {
        struct cline *l = &c->lines[i];
        if (!l->url_key || l->rep == i) continue;
        const struct cline *r = &c->lines[l->rep];
        memcpy(l->job, r->job, sizeof l->job);
        l->how = r->how == 'k' ? 'k' : 'd';
        if (l->how == 'k') c->out.cached++;
        else c->out.deduplicated++;
    }
}

/* --- recording the batch --- */

static void
on_recorded(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    struct create *c = arg;
    (void)r;
    const char *msg;
    int st = queue_op_error(reply, errstr, &msg);
    if (st) fail(c, st, msg);
    if (--c->inflight > 0) return;
    if (c->status) {
        c->cb(c->status, NULL, c->err, c->arg);
    } else {
        const char **ids = xcalloc(c->n, sizeof *ids);
        for (size_t i = 0; i < c->n; i++) ids[i] = c->lines[i].how ? c->lines[i].job : NULL;
        c->out.job_ids = ids;
        c->cb(0, &c->out, NULL, c->arg);
        free(ids);
    }
    create_free(c);
}

/* send_cmd sends argv (strings) answered by on_recorded. */
static void
send_cmd(struct create *c, int argc, const char **argv) {
    size_t *len = xcalloc((size_t)argc, sizeof *len);
    for (int i = 0; i < argc; i++) len[i] = strlen(argv[i]);
    c->inflight++;
    int rc = redis_uv_command(c->q->redis, on_recorded, c, argc, argv, len);
    free(len);
    if (rc < 0) {
        fail(c, rc, NULL);
        c->inflight--;
    }
}

/* push sends RPUSH key of the entries made by entry(), PUSH_SLICE at a
 * time; valid_only skips invalid lines. */
static void
push(struct create *c, const char *key, bool valid_only) {
    const char **argv = xcalloc(PUSH_SLICE + 2, sizeof *argv);
    char **owned = xcalloc(PUSH_SLICE, sizeof *owned);
    int argc = 2, nowned = 0;
    argv[0] = "RPUSH";
    argv[1] = key;
    for (size_t i = 0; i <= c->n; i++) {
        if (argc == PUSH_SLICE + 2 || (i == c->n && argc > 2)) {
            send_cmd(c, argc, argv);
            for (int j = 0; j < nowned; j++) free(owned[j]);
            argc = 2, nowned = 0;
        }
        if (i == c->n) break;
        const struct cline *l = &c->lines[i];
        if (valid_only) {
            if (l->how) argv[argc++] = l->job;
            continue;
        }
        struct buf b;
        buf_init(&b);
        if (l->how) {
            buf_printf(&b, "%s %c %s", l->job, l->how, l->url);
        } else {
            buf_printf(&b, "- %s\t", l->reason);
            buf_append(&b, l->url, strnlen(l->url, BATCH_TEXT_MAX));
        }
        owned[nowned++] = b.data;
        argv[argc++] = b.data;
    }
    free(argv);
    free(owned);
}

/* record writes the lists, the hash and the set entry, all pipelined;
 * the last reply answers the caller. */
static void
record(struct create *c) {
    struct queue *q = c->q;
    struct keybuf kb, kl, kj, ks;
    const char *batch = keys_batch(&q->keys, c->out.id, &kb);
    const char *lines = keys_batch_lines(&q->keys, c->out.id, &kl);
    const char *jobs = keys_batch_jobs(&q->keys, c->out.id, &kj);
    const char *set = keys_batches(&q->keys, &ks);
    c->inflight = 1; /* held until everything is sent */
    push(c, lines, false);
    push(c, jobs, true);
    char created[24], total[24], njobs[24], invalid[24], ncreated[24], dedup[24], cached[24],
        age[24], ttl[24], cap[24];
    snprintf(total, sizeof total, "%ld", c->out.total);
    snprintf(njobs, sizeof njobs, "%ld", c->out.created + c->out.deduplicated + c->out.cached);
    snprintf(invalid, sizeof invalid, "%ld", c->out.invalid);
    snprintf(ncreated, sizeof ncreated, "%ld", c->out.created);
    snprintf(dedup, sizeof dedup, "%ld", c->out.deduplicated);
    snprintf(cached, sizeof cached, "%ld", c->out.cached);
    snprintf(age, sizeof age, "%ld", c->max_age_s);
    snprintf(ttl, sizeof ttl, "%d", BATCH_OPEN_TTL_S);
    snprintf(cap, sizeof cap, "%d", -(BATCH_LIST_MAX + 1));
    queue_op_ms(c->now, created);
    const char *hset[] = {"HSET",         batch,
                          "id",           c->out.id,
                          "created_at",   created,
                          "total",        total,
                          "jobs",         njobs,
                          "invalid",      invalid,
                          "created",      ncreated,
                          "deduplicated", dedup,
                          "cached",       cached,
                          "max_age",      age,
                          "fresh",        c->fresh ? "1" : "0"};
    send_cmd(c, (int)(sizeof hset / sizeof *hset), hset);
    const char *exp_b[] = {"EXPIRE", batch, ttl}, *exp_l[] = {"EXPIRE", lines, ttl},
               *exp_j[] = {"EXPIRE", jobs, ttl};
    send_cmd(c, 3, exp_b);
    send_cmd(c, 3, exp_l);
    if (c->out.created + c->out.deduplicated + c->out.cached > 0) send_cmd(c, 3, exp_j);
    const char *zadd[] = {"ZADD", set, created, c->out.id};
    send_cmd(c, 4, zadd);
    const char *trim[] = {"ZREMRANGEBYRANK", set, "0", cap};
    send_cmd(c, 4, trim);
    on_recorded(NULL, &(redisReply){.type = REDIS_REPLY_STATUS}, NULL, c);
}

int
batch_create(struct queue *q, const struct batch_new *b, batch_create_cb cb, void *arg) {
    if (b->n == 0 || b->n > BATCH_MAX_LINES) return UV_EINVAL;
    struct create *c = xcalloc(1, sizeof *c);
    c->q = q;
    c->cb = cb;
    c->arg = arg;
    c->now = clock_now_ms();
    c->fresh = b->fresh;
    c->max_age_s = b->max_age_s;
    job_id_new_on(c->out.id, q->keys.shard);
    c->out.total = (long)b->n;
    c->n = b->n;
    c->lines = xcalloc(b->n, sizeof *c->lines);
    c->again = xcalloc(b->n, sizeof *c->again);
    size_t *valid = xcalloc(b->n, sizeof *valid), nvalid = 0;
    for (size_t i = 0; i < b->n; i++) {
        const struct batch_line *in = &b->lines[i];
        struct cline *l = &c->lines[i];
        l->url = xstrdup(in->url ? in->url : "");
        if (!in->url_key) {
            l->reason = xstrdup(in->reason ? in->reason : "not a URL");
            c->out.invalid++;
            continue;
        }
        if (in->cached_id && !job_id_valid(in->cached_id)) {
            free(valid);
            create_free(c);
            return UV_EINVAL;
        }
        l->url_key = xstrdup(in->url_key);
        l->cached = in->cached_id ? xstrdup(in->cached_id) : NULL;
        valid[nvalid++] = i;
    }
    size_t *first = xcalloc(nvalid ? nvalid : 1, sizeof *first);
    nvalid = same_page(c, valid, nvalid, first);
    free(valid);
    valid = first;
    c->round_lines = valid;
    c->nround_lines = nvalid;
    c->inflight = 1;
    step_done(c);
    return 0;
}
