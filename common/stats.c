/* stats.c — reading the statistics in one script, parsing them, and the
 * small fire-and-forget writes. See stats.h for the keys. */
#include "common/stats.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/lua_scripts.h"
#include "common/xalloc.h"

const int64_t stats_ms_bounds[STATS_MS_NB] = {STATS_MS_BOUNDS};
const int64_t stats_bytes_bounds[STATS_BYTES_NB] = {STATS_BYTES_BOUNDS};
const int64_t stats_us_bounds[STATS_US_NB] = {STATS_US_BOUNDS};

/* --- histograms --- */

int
stats_bucket(const int64_t *bounds, int nb, int64_t value) {
    for (int i = 0; i < nb; i++)
        if (value <= bounds[i]) return i;
    return nb;
}

void
stats_hist_init(struct stats_hist *h, const int64_t *bounds, int nb) {
    memset(h, 0, sizeof *h);
    h->nb = nb;
    h->bounds = bounds;
}

long long
stats_hist_total(const struct stats_hist *h) {
    long long n = 0;
    for (int i = 0; i <= h->nb; i++) n += h->count[i];
    return n;
}

double
stats_quantile(const struct stats_hist *h, double q) {
    long long total = stats_hist_total(h);
    if (total <= 0) return -1;
    if (q < 0) q = 0;
    if (q > 1) q = 1;
    double rank = q * (double)total;
    long long below = 0;
    for (int i = 0; i <= h->nb; i++) {
        long long c = h->count[i];
        if (c > 0 && (double)(below + c) >= rank) {
            double lo = i == 0 ? 0 : (double)h->bounds[i - 1];
            if (i == h->nb) return lo; /* overflow: all we know is "above" */
            double hi = (double)h->bounds[i];
            return lo + (hi - lo) * ((rank - (double)below) / (double)c);
        }
        below += c;
    }
    return h->nb ? (double)h->bounds[h->nb - 1] : 0;
}

static void
hist_add(struct stats_hist *into, const struct stats_hist *h) {
    for (int i = 0; i <= into->nb; i++) into->count[i] += h->count[i];
    into->sum += h->sum;
}

/* --- parsing --- */

static long long
num(const redisReply *r) {
    if (r->type == REDIS_REPLY_INTEGER) return r->integer;
    if (r->type == REDIS_REPLY_STRING) return strtoll(r->str, NULL, 10);
    return 0;
}

static bool
is_pairs(const redisReply *r) {
    if (r->type != REDIS_REPLY_ARRAY || r->elements % 2) return false;
    for (size_t i = 0; i < r->elements; i++)
        if (r->element[i]->type != REDIS_REPLY_STRING) return false;
    return true;
}

/* hist_field sets h's bucket or sum from "<name>:<b>" / "<name>_sum". */
static bool
hist_field(struct stats_hist *h, const char *name, const char *field, long long v) {
    size_t n = strlen(name);
    if (strncmp(field, name, n) != 0) return false;
    if (field[n] == ':') {
        char *end;
        long b = strtol(field + n + 1, &end, 10);
        if (*end || b < 0 || b > h->nb) return true; /* ours, but unknown: ignore */
        h->count[b] += v;
        return true;
    }
    if (!strcmp(field + n, "_sum")) {
        h->sum += v;
        return true;
    }
    return false;
}

static void
parse_counters(const redisReply *r, struct stats_snapshot *s) {
    static const struct {
        const char *name;
        size_t off;
    } fields[] = {
        {"submitted", offsetof(struct stats_snapshot, submitted)},
        {"started", offsetof(struct stats_snapshot, started)},
        {"finished", offsetof(struct stats_snapshot, finished)},
        {"failed", offsetof(struct stats_snapshot, failed)},
        {"retried", offsetof(struct stats_snapshot, retried)},
        {"rescued", offsetof(struct stats_snapshot, rescued)},
        {"canceled", offsetof(struct stats_snapshot, canceled)},
        {"requeued", offsetof(struct stats_snapshot, requeued)},
        {"webhook_delivered", offsetof(struct stats_snapshot, webhook_delivered)},
        {"webhook_retried", offsetof(struct stats_snapshot, webhook_retried)},
        {"webhook_failed", offsetof(struct stats_snapshot, webhook_failed)},
    };
    size_t nreasons = 0;
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (!strncmp(r->element[i]->str, "failed:", 7)) nreasons++;
    s->reasons = xcalloc(nreasons ? nreasons : 1, sizeof *s->reasons);
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const char *f = r->element[i]->str;
        long long v = num(r->element[i + 1]);
        bool done = false;
        for (size_t k = 0; k < sizeof fields / sizeof *fields && !done; k++) {
            if (!strcmp(f, fields[k].name)) {
                *(long long *)((char *)s + fields[k].off) = v;
                done = true;
            }
        }
        if (done) continue;
        if (!strncmp(f, "failed:", 7)) {
            struct stats_reason *rs = &s->reasons[s->nreasons++];
            snprintf(rs->code, sizeof rs->code, "%s", f + 7);
            rs->n = v;
            continue;
        }
        if (hist_field(&s->latency, "lat", f, v) || hist_field(&s->duration, "dur", f, v) ||
            hist_field(&s->fetch, "fetch", f, v) || hist_field(&s->bytes, "bytes", f, v))
            continue;
    }
}

static long long
json_ll(const json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? (long long)json_number_value(v) : 0;
}

static void
parse_workers(const redisReply *r, struct stats_snapshot *s) {
    s->workers = xcalloc(r->elements / 2 + 1, sizeof *s->workers);
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        json_t *v = json_loads(r->element[i + 1]->str, 0, NULL);
        if (!json_is_object(v)) {
            json_decref(v);
            continue;
        }
        struct stats_worker *w = &s->workers[s->nworkers++];
        snprintf(w->id, sizeof w->id, "%s", r->element[i]->str);
        const char *host = json_string_value(json_object_get(v, "host"));
        snprintf(w->host, sizeof w->host, "%s", host ? host : "");
        w->pid = json_ll(v, "pid");
        w->inflight = json_ll(v, "inflight");
        w->processed = json_ll(v, "processed");
        w->failed = json_ll(v, "failed");
        w->retried = json_ll(v, "retried");
        w->rescued = json_ll(v, "rescued");
        w->at_ms = json_ll(v, "at");
        json_decref(v);
    }
}

/* parse_series turns the per-minute hashes into points of step_s seconds
 * ending at the current second. */
static int
parse_series(const redisReply *r, struct stats_snapshot *s) {
    int64_t now_sec = s->now_ms / 1000;
    int64_t start = now_sec - s->window_s + 1;
    start -= ((start % s->step_s) + s->step_s) % s->step_s; /* align down to the step */
    size_t nsec = (size_t)(now_sec - start + 1);
    size_t nslot = nsec / 10 + 2;
    long long *fin = xcalloc(nsec, sizeof *fin), *fail = xcalloc(nsec, sizeof *fail);
    struct stats_hist *lat = xcalloc(nslot, sizeof *lat);
    for (size_t i = 0; i < nslot; i++) stats_hist_init(&lat[i], stats_ms_bounds, STATS_MS_NB);
    int64_t slot0 = start / 10;

    for (size_t m = 0; m < r->elements; m++) {
        const redisReply *pair = r->element[m];
        if (pair->type != REDIS_REPLY_ARRAY || pair->elements != 2 ||
            pair->element[0]->type != REDIS_REPLY_STRING || !is_pairs(pair->element[1]))
            goto fail;
        int64_t minute = strtoll(pair->element[0]->str, NULL, 10);
        const redisReply *h = pair->element[1];
        for (size_t i = 0; i + 1 < h->elements; i += 2) {
            const char *f = h->element[i]->str;
            long long v = num(h->element[i + 1]);
            char *end;
            if ((f[0] == 'f' || f[0] == 'x') && f[1] == ':') {
                long sec = strtol(f + 2, &end, 10);
                int64_t abs = minute * 60 + sec;
                if (*end || sec < 0 || sec > 59 || abs < start || abs > now_sec) continue;
                (f[0] == 'f' ? fin : fail)[abs - start] += v;
            } else if (f[0] == 'l' && f[1] == ':') {
                long slot = strtol(f + 2, &end, 10);
                if (*end != ':' || slot < 0 || slot > 5) continue;
                long b = strtol(end + 1, &end, 10);
                int64_t abs = minute * 6 + slot - slot0;
                if (*end || b < 0 || b > STATS_MS_NB || abs < 0 || abs >= (int64_t)nslot) continue;
                lat[abs].count[b] += v;
            }
        }
    }

    s->npoints = (nsec + (size_t)s->step_s - 1) / (size_t)s->step_s;
    s->points = xcalloc(s->npoints, sizeof *s->points);
    stats_hist_init(&s->window_latency, stats_ms_bounds, STATS_MS_NB);
    for (size_t p = 0; p < s->npoints; p++) {
        struct stats_point *pt = &s->points[p];
        size_t first = p * (size_t)s->step_s;
        pt->t_ms = (start + (int64_t)first) * 1000;
        stats_hist_init(&pt->latency, stats_ms_bounds, STATS_MS_NB);
        for (size_t k = first; k < first + (size_t)s->step_s && k < nsec; k++) {
            pt->seconds++;
            pt->finished += fin[k];
            pt->failed += fail[k];
        }
        for (size_t k = first / 10; k < (first + (size_t)s->step_s) / 10 && k < nslot; k++)
            hist_add(&pt->latency, &lat[k]);
        s->window_finished += pt->finished;
        s->window_failed += pt->failed;
        hist_add(&s->window_latency, &pt->latency);
    }
    for (size_t k = nsec > 60 ? nsec - 60 : 0; k < nsec; k++) {
        s->last_minute_finished += fin[k];
        s->last_minute_failed += fail[k];
    }
    free(fin);
    free(fail);
    free(lat);
    return 0;
fail:
    free(fin);
    free(fail);
    free(lat);
    return -1;
}

static void
parse_http(const redisReply *r, struct stats_snapshot *s) {
    s->http = xcalloc(r->elements / 2 + 1, sizeof *s->http);
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        s->http[s->nhttp].name = xstrdup(r->element[i]->str);
        s->http[s->nhttp].value = num(r->element[i + 1]);
        s->nhttp++;
    }
}

static int
step_for(int window_s) {
    int step = (window_s + 59) / 60;
    return (step + 9) / 10 * 10;
}

int
stats_parse(const redisReply *r, int64_t now_ms, int window_s, struct stats_snapshot *s) {
    memset(s, 0, sizeof *s);
    s->now_ms = now_ms;
    s->window_s = window_s;
    s->step_s = step_for(window_s);
    stats_hist_init(&s->latency, stats_ms_bounds, STATS_MS_NB);
    stats_hist_init(&s->duration, stats_ms_bounds, STATS_MS_NB);
    stats_hist_init(&s->fetch, stats_ms_bounds, STATS_MS_NB);
    stats_hist_init(&s->bytes, stats_bytes_bounds, STATS_BYTES_NB);
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 9) return -1;
    redisReply **e = r->element;
    if (!is_pairs(e[0]) || e[1]->type != REDIS_REPLY_INTEGER || !is_pairs(e[5]) ||
        e[6]->type != REDIS_REPLY_ARRAY || !is_pairs(e[7]) || !is_pairs(e[8]))
        return -1;
    s->hook_failing = xcalloc(e[8]->elements / 2 + 1, sizeof *s->hook_failing);
    for (size_t i = 0; i + 1 < e[8]->elements; i += 2, s->nhook_failing++) {
        s->hook_failing[s->nhook_failing].url = xstrdup(e[8]->element[i]->str);
        s->hook_failing[s->nhook_failing].last = xstrdup(e[8]->element[i + 1]->str);
    }
    parse_counters(e[0], s);
    long long len = num(e[1]), pending = num(e[2]);
    s->running = pending;
    s->queued = len > pending ? len - pending : 0;
    s->retrying = num(e[3]);
    s->failed_set = num(e[4]);
    parse_workers(e[5], s);
    parse_http(e[7], s);
    if (parse_series(e[6], s) < 0) {
        stats_snapshot_free(s);
        return -1;
    }
    return 0;
}

void
stats_snapshot_free(struct stats_snapshot *s) {
    free(s->reasons);
    free(s->workers);
    free(s->points);
    for (size_t i = 0; i < s->nhttp; i++) free(s->http[i].name);
    free(s->http);
    for (size_t i = 0; i < s->nhook_failing; i++) {
        free(s->hook_failing[i].url);
        free(s->hook_failing[i].last);
    }
    free(s->hook_failing);
    memset(s, 0, sizeof *s);
}

/* --- reading --- */

struct read_op {
    stats_read_cb cb;
    void *arg;
    int64_t now_ms;
    int window_s;
};

static void
on_read(redis_uv_t *redis, redisReply *reply, const char *errstr, void *arg) {
    struct read_op *op = arg;
    (void)redis;
    struct stats_snapshot snap;
    if (!reply) {
        op->cb(UV_ECONNRESET, NULL, errstr ? errstr : "redis command failed", op->arg);
    } else if (reply->type == REDIS_REPLY_ERROR) {
        op->cb(UV_EPROTO, NULL, reply->str, op->arg);
    } else if (stats_parse(reply, op->now_ms, op->window_s, &snap) < 0) {
        op->cb(UV_EPROTO, NULL, "unexpected reply to the stats script", op->arg);
    } else {
        op->cb(0, &snap, NULL, op->arg);
        stats_snapshot_free(&snap);
    }
    free(op);
}

int
stats_read(redis_uv_t *redis, const struct keys *keys, int64_t now_ms, int window_s,
           stats_read_cb cb, void *arg) {
    if (window_s < 60 || window_s > STATS_WINDOW_MAX_S) return UV_EINVAL;
    int64_t now_sec = now_ms / 1000, step = step_for(window_s);
    int64_t start = now_sec - window_s + 1;
    start -= ((start % step) + step) % step;
    int64_t first = keys_ts_minute(start * 1000), last = keys_ts_minute(now_ms);
    /* KEYS: seven fixed, then one per minute of the window (at most 62). */
    enum { FIXED = 7, MAX_MINUTES = STATS_WINDOW_MAX_S / 60 + 2 };
    size_t nmin = (size_t)(last - first + 1);
    if (nmin > MAX_MINUTES) return UV_EINVAL;
    struct keybuf fixed[FIXED], minutes[MAX_MINUTES];
    char nkeys[16], first_s[24], cut[24];
    const char *argv[3 + FIXED + MAX_MINUTES + 3];
    size_t argvlen[sizeof argv / sizeof *argv], argc = 0;
    snprintf(nkeys, sizeof nkeys, "%zu", FIXED + nmin);
    snprintf(first_s, sizeof first_s, "%lld", (long long)first);
    snprintf(cut, sizeof cut, "%lld", (long long)(now_ms - STATS_WORKER_PRUNE_MS));
    argv[argc++] = "EVAL";
    argv[argc++] = lua_stats_read;
    argv[argc++] = nkeys;
    argv[argc++] = keys_stats(keys, &fixed[0]);
    argv[argc++] = keys_queue(keys, &fixed[1]);
    argv[argc++] = keys_retry(keys, &fixed[2]);
    argv[argc++] = keys_failed(keys, &fixed[3]);
    argv[argc++] = keys_workers(keys, &fixed[4]);
    argv[argc++] = keys_http(keys, &fixed[5]);
    argv[argc++] = keys_hook_failing(keys, &fixed[6]);
    for (size_t m = 0; m < nmin; m++) argv[argc++] = keys_ts(keys, first + (int64_t)m, &minutes[m]);
    argv[argc++] = first_s;
    argv[argc++] = cut;
    argv[argc++] = KEYS_GROUP;
    for (size_t i = 0; i < argc; i++) argvlen[i] = strlen(argv[i]);
    struct read_op *op = xcalloc(1, sizeof *op);
    *op = (struct read_op){.cb = cb, .arg = arg, .now_ms = now_ms, .window_s = window_s};
    int rc = redis_uv_command(redis, on_read, op, (int)argc, argv, argvlen);
    if (rc < 0) free(op);
    return rc;
}

/* --- writing --- */

static void
on_incr(redis_uv_t *redis, redisReply *reply, const char *errstr, void *arg) {
    (void)redis;
    (void)arg;
    if (!reply) log_debug("msg=\"statistics not recorded\" error=%s", log_q(errstr));
    else if (reply->type == REDIS_REPLY_ERROR)
        log_debug("msg=\"statistics not recorded\" error=%s", log_q(reply->str));
}

int
stats_incr(redis_uv_t *redis, const char *key, const char *const *fields, const long long *deltas,
           size_t n) {
    if (n == 0 || n > 256) return UV_EINVAL;
    size_t argc = 4 + 2 * n;
    const char **argv = xcalloc(argc, sizeof *argv);
    size_t *argvlen = xcalloc(argc, sizeof *argvlen);
    char(*nums)[24] = xcalloc(n, sizeof *nums);
    argv[0] = "EVAL";
    argv[1] = lua_stats_incr;
    argv[2] = "1";
    argv[3] = key;
    for (size_t i = 0; i < n; i++) {
        snprintf(nums[i], sizeof nums[i], "%lld", deltas[i]);
        argv[4 + 2 * i] = fields[i];
        argv[5 + 2 * i] = nums[i];
    }
    for (size_t i = 0; i < argc; i++) argvlen[i] = strlen(argv[i]);
    int rc = redis_uv_command(redis, on_incr, NULL, (int)argc, argv, argvlen);
    free(nums);
    free(argvlen);
    free(argv);
    if (rc < 0) log_debug("msg=\"statistics not recorded\" error=%s", uv_strerror(rc));
    return rc;
}

void
stats_observe(redis_uv_t *redis, const struct keys *keys, const char *name, const int64_t *bounds,
              int nb, int64_t value) {
    struct keybuf ks;
    char bucket[80], sum[80];
    snprintf(bucket, sizeof bucket, "%s:%d", name, stats_bucket(bounds, nb, value));
    snprintf(sum, sizeof sum, "%s_sum", name);
    const char *fields[] = {bucket, sum};
    const long long deltas[] = {1, value};
    stats_incr(redis, keys_stats(keys, &ks), fields, deltas, 2);
}
