/* cmd_info — `wordcount info`: what the queue holds and who works on it,
 * like `rq info` and the dashboard. Reads only counters and small
 * structures (stream length, pending summary, the retry and failed sets,
 * the stats and workers hashes, the statistics' one-script read of
 * common/stats.h), plus a bounded walk of the failed set for the reasons.
 * The text is for an operator: counts, rates, percentiles with units;
 * --json has the raw counters too. With several Redis shards every
 * shard is read and the figures summed (common/stats_merge.h); a shard
 * that cannot be read is named and left out, and the exit code says the
 * picture is partial. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/fmt.h"
#include "cli/opts.h"
#include "common/clock.h"
#include "common/hosts.h"
#include "common/lua_scripts.h"
#include "common/stats.h"
#include "common/stats_merge.h"
#include "common/xalloc.h"

static const char usage_text[] =
    "usage: wordcount info [--json]\n"
    "\n"
    "Shows the queue: jobs queued, running (delivered to a worker, not yet\n"
    "acknowledged), retrying (waiting out a backoff) and failed, the failed jobs\n"
    "grouped by reason, the jobs counted since the queue was created, the jobs\n"
    "finished and failed in the last minute, the median and 95th percentile of\n"
    "latency (submission to result), duration (start to result), fetch time and\n"
    "page size since the start, and every worker that has sent a heartbeat, with\n"
    "its age. A worker whose last heartbeat is older than JOB_RESCUE_AFTER is\n"
    "marked stale (its jobs go to other workers). Hosts paused by a server's\n"
    "Retry-After are listed with the time the pause ends and their in-flight and\n"
    "waiting jobs. --json adds the raw counters.\n"
    "With several Redis shards (REDIS_URL lists them) the figures are sums over\n"
    "the shards, and each shard's queue is listed; a shard that cannot be read\n"
    "is named, left out of the sums, and makes the exit code 69.\n"
    "\n"
    "exit codes: 0 ok, 2 usage, 69 Redis (or a shard of it) unavailable,\n"
    "70 unexpected answer, 78 bad configuration\n";

/* The failed set is walked in pages to group it by reason; past this many
 * jobs the grouping is a sample (reported as such). */
enum { FAILED_PAGE = 500, FAILED_SCAN_MAX = 20000 };

static long long
int_reply(json_t *v) {
    if (json_is_integer(v)) return json_integer_value(v);
    if (json_is_string(v)) return strtoll(json_string_value(v), NULL, 10);
    return 0;
}

/* call runs one Redis command; a NOGROUP/no-such-key error counts as empty
 * when allow_missing. */
static int
call(struct cli *c, json_t **out, bool allow_missing, int argc, const char **argv) {
    char err[256];
    int rc = cli_redis_call(c, out, err, sizeof err, argc, argv);
    if (rc == CLI_SOFTWARE && allow_missing &&
        (strstr(err, "NOGROUP") || strstr(err, "no such key"))) {
        *out = json_null();
        return CLI_OK;
    }
    if (rc) return cli_error(c, rc, "%s: %s", argv[0], err);
    return CLI_OK;
}

struct failed_walk {
    bool done;
    int status;
    char err[256];
    long long total; /* the current shard's failed set */
    size_t seen;     /* the current shard's jobs seen */
    json_t *reasons; /* code -> count */
    bool sampled;    /* some shard's set was larger than the walk */
};

static void
on_failed_page(int status, long long total, const struct job *jobs, size_t n, const char *errstr,
               void *arg) {
    struct failed_walk *w = arg;
    w->done = true;
    w->status = status;
    if (status) {
        snprintf(w->err, sizeof w->err, "%s", errstr ? errstr : "");
        return;
    }
    w->total = total;
    for (size_t i = 0; i < n; i++) {
        const char *code = jobs[i].error_code ? jobs[i].error_code : "unknown";
        json_t *cur = json_object_get(w->reasons, code);
        json_object_set_new(w->reasons, code, json_integer(cur ? json_integer_value(cur) + 1 : 1));
    }
    w->seen += n;
}

/* failed_reasons groups the current shard's failed set by error code
 * (into w->reasons, made by the caller). */
static int
failed_reasons(struct cli *c, struct failed_walk *w) {
    w->seen = 0;
    w->total = 0;
    for (long offset = 0; offset < FAILED_SCAN_MAX; offset += FAILED_PAGE) {
        size_t before = w->seen;
        w->done = false;
        int rc = queue_failed_list(c->queue, offset, FAILED_PAGE, on_failed_page, w);
        if (rc < 0) return cli_error(c, cli_status_code(rc), "failed list: %s", uv_strerror(rc));
        if (!cli_wait(c, &w->done)) return cli_error(c, CLI_UNAVAILABLE, "failed list: no answer");
        if (w->status) return cli_error(c, cli_status_code(w->status), "failed list: %s", w->err);
        if (w->seen - before < FAILED_PAGE || offset + FAILED_PAGE >= w->total) break;
    }
    if ((long long)w->seen < w->total) w->sampled = true;
    return CLI_OK;
}

/* The statistics' read of one shard: its snapshot (a copy). */
struct stats_step {
    bool done;
    int status;
    char err[256];
    struct stats_snapshot snap;
};

/* hist_json: count, mean, p50 and p95 of a histogram (null when empty). */
static json_t *
hist_json(const struct stats_hist *h) {
    long long n = stats_hist_total(h);
    double p50 = stats_quantile(h, 0.5), p95 = stats_quantile(h, 0.95);
    return json_pack("{s:I, s:o, s:o, s:o}", "count", (json_int_t)n, "mean",
                     n ? json_real((double)h->sum / (double)n) : json_null(), "p50",
                     p50 < 0 ? json_null() : json_real(p50), "p95",
                     p95 < 0 ? json_null() : json_real(p95));
}

/* figures_json: the figures derived from the statistics (summed over the
 * shards read): jobs, the last minute's rates, the histograms. */
static json_t *
figures_json(const struct stats_snapshot *s) {
    int window = s->window_s > 0 && s->window_s < 60 ? s->window_s : 60;
    return json_pack(
        "{s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}, s:{s:i, s:I, s:I, s:f, s:f}, s:o, s:o, "
        "s:o, s:o}",
        "jobs", "submitted", (json_int_t)s->submitted, "started", (json_int_t)s->started,
        "finished", (json_int_t)s->finished, "failed", (json_int_t)s->failed, "canceled",
        (json_int_t)s->canceled, "retried", (json_int_t)s->retried, "rescued",
        (json_int_t)s->rescued, "requeued", (json_int_t)s->requeued, "rates", "window_s", window,
        "finished", (json_int_t)s->last_minute_finished, "failed",
        (json_int_t)s->last_minute_failed, "finished_per_s",
        (double)s->last_minute_finished / window, "failed_per_s",
        (double)s->last_minute_failed / window, "latency_ms", hist_json(&s->latency), "duration_ms",
        hist_json(&s->duration), "fetch_ms", hist_json(&s->fetch), "page_bytes",
        hist_json(&s->bytes));
}

static void
on_stats(int status, const struct stats_snapshot *s, const char *errstr, void *arg) {
    struct stats_step *st = arg;
    st->done = true;
    st->status = status;
    if (status) snprintf(st->err, sizeof st->err, "%s", errstr ? errstr : "");
    else stats_merge(&st->snap, s);
}

/* read_stats reads the current shard's statistics (the rates need only
 * the last minute). */
static int
read_stats(struct cli *c, struct stats_step *st) {
    int rc = stats_read(c->redis, c->keys, clock_now_ms(), 60, on_stats, st);
    if (rc < 0) return cli_error(c, cli_status_code(rc), "statistics: %s", uv_strerror(rc));
    if (!cli_wait(c, &st->done)) return cli_error(c, CLI_UNAVAILABLE, "statistics: no answer");
    if (st->status) return cli_error(c, cli_status_code(st->status), "statistics: %s", st->err);
    return CLI_OK;
}

/* workers_json turns the workers hash (name -> heartbeat JSON) into a list. */
static json_t *
workers_json(const struct cli *c, json_t *hash, int64_t now) {
    json_t *list = json_array();
    for (size_t i = 0; i + 1 < json_array_size(hash); i += 2) {
        const char *name = json_string_value(json_array_get(hash, i));
        const char *hb = json_string_value(json_array_get(hash, i + 1));
        json_t *w = hb ? json_loads(hb, 0, NULL) : NULL;
        if (!json_is_object(w)) {
            json_decref(w);
            w = json_object();
        }
        json_t *out = json_pack("{s:s}", "name", name ? name : "");
        static const char *const fields[] = {"host",   "pid",     "inflight", "processed",
                                             "failed", "retried", "rescued"};
        for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
            json_t *v = json_object_get(w, fields[f]);
            json_object_set(out, fields[f], v ? v : json_null());
        }
        json_t *at = json_object_get(w, "at");
        if (json_is_integer(at)) {
            char ts[32];
            int64_t age = now - json_integer_value(at);
            clock_format_rfc3339(json_integer_value(at), ts);
            json_object_set_new(out, "heartbeat_at", json_string(ts));
            json_object_set_new(out, "heartbeat_age_ms", json_integer(age));
            json_object_set_new(out, "stale", json_boolean(age > c->cfg->job_rescue_after_ms));
        } else {
            json_object_set_new(out, "heartbeat_at", json_null());
            json_object_set_new(out, "heartbeat_age_ms", json_null());
            json_object_set_new(out, "stale", json_true());
        }
        json_decref(w);
        json_array_append_new(list, out);
    }
    return list;
}

static long long
jint(const json_t *o, const char *key) {
    return (long long)json_integer_value(json_object_get(o, key));
}

/* print_hist prints one line of percentiles: p50 and p95 in unit, and
 * how many jobs they cover. */
static void
print_hist(const json_t *info, const char *key, const char *label, bool bytes) {
    const json_t *h = json_object_get(info, key);
    char p50[32], p95[32];
    const json_t *a = json_object_get(h, "p50"), *b = json_object_get(h, "p95");
    double va = json_is_number(a) ? json_number_value(a) : -1;
    double vb = json_is_number(b) ? json_number_value(b) : -1;
    if (bytes) {
        fmt_bytes(va, p50, sizeof p50);
        fmt_bytes(vb, p95, sizeof p95);
    } else {
        fmt_ms(va, p50, sizeof p50);
        fmt_ms(vb, p95, sizeof p95);
    }
    printf("  %-30s %10s %10s %8lld\n", label, p50, p95, jint(h, "count"));
}

/* print_figures prints what the statistics say: jobs since the start, the
 * last minute's rates and the percentiles. */
static void
print_figures(const json_t *info) {
    const json_t *jobs = json_object_get(info, "jobs"), *rates = json_object_get(info, "rates");
    printf("jobs since the start\n");
    printf("  submitted %8lld   started %8lld   finished %8lld   failed %8lld\n",
           jint(jobs, "submitted"), jint(jobs, "started"), jint(jobs, "finished"),
           jint(jobs, "failed"));
    printf("  canceled  %8lld   retried %8lld   rescued  %8lld   requeued %6lld\n",
           jint(jobs, "canceled"), jint(jobs, "retried"), jint(jobs, "rescued"),
           jint(jobs, "requeued"));
    printf("rates over the last minute\n");
    printf("  finished %lld (%.2f/s)   failed %lld (%.2f/s)\n", jint(rates, "finished"),
           json_number_value(json_object_get(rates, "finished_per_s")), jint(rates, "failed"),
           json_number_value(json_object_get(rates, "failed_per_s")));
    printf("%-32s %10s %10s %8s\n", "times since the start", "p50", "p95", "jobs");
    print_hist(info, "latency_ms", "latency (submit to finished)", false);
    print_hist(info, "duration_ms", "duration (start to finished)", false);
    print_hist(info, "fetch_ms", "fetch", false);
    print_hist(info, "page_bytes", "page size", true);
}

/* print_shards lists each shard's part of the queue, or why it is missing. */
static void
print_shards(const json_t *by_shard) {
    printf("  %-40s %8s %8s %8s %8s\n", "by shard", "queued", "running", "retrying", "failed");
    size_t i;
    json_t *s;
    json_array_foreach(by_shard, i, s) {
        const char *name = json_string_value(json_object_get(s, "server"));
        const json_t *err = json_object_get(s, "error");
        if (err) {
            printf("  %-40s unreadable: %s\n", name, json_string_value(err));
            continue;
        }
        printf("  %-40s %8lld %8lld %8lld %8lld\n", name, jint(s, "queued"), jint(s, "running"),
               jint(s, "retrying"), jint(s, "failed"));
    }
}

static void
print_text(const struct cli *c, json_t *info) {
    json_t *by_shard = json_object_get(info, "by_shard");
    printf("queue %s", c->cfg->key_prefix);
    if (by_shard)
        printf(" (%d Redis shards, %lld unreadable)", c->nshards,
               (long long)json_integer_value(json_object_get(info, "shards_unreadable")));
    printf("\n");
    static const char *const states[] = {"queued", "running", "retrying", "failed"};
    for (size_t i = 0; i < 4; i++)
        printf("  %-10s %lld\n", states[i],
               (long long)json_integer_value(json_object_get(info, states[i])));
    if (by_shard) print_shards(by_shard);

    json_t *reasons = json_object_get(info, "failed_by_reason");
    if (json_object_size(reasons)) {
        printf("failed by reason%s\n",
               json_is_true(json_object_get(info, "failed_by_reason_sampled")) ? " (a sample)"
                                                                               : "");
        const char *code;
        json_t *v;
        json_object_foreach(reasons, code, v)
            printf("  %-24s %lld\n", code, (long long)json_integer_value(v));
    }

    print_figures(info);

    json_t *workers = json_object_get(info, "workers");
    size_t stale = 0, i;
    json_t *w;
    if (json_is_null(workers))
        printf("workers: unknown (%s, which holds their registry, cannot be read)\n",
               c->shards[0].name);
    json_array_foreach(workers, i, w) stale += json_is_true(json_object_get(w, "stale"));
    printf("workers: %zu (%zu stale)\n", json_array_size(workers), stale);
    if (json_array_size(workers))
        printf("  %-32s %8s %9s %10s %7s  %s\n", "name", "pid", "in flight", "processed", "failed",
               "heartbeat");
    json_array_foreach(workers, i, w) {
        char age[32] = "never";
        json_t *a = json_object_get(w, "heartbeat_age_ms");
        if (json_is_integer(a)) fmt_age(json_integer_value(a), age, sizeof age);
        printf("  %-32s %8lld %9lld %10lld %7lld  %s ago%s\n",
               json_string_value(json_object_get(w, "name")),
               (long long)json_integer_value(json_object_get(w, "pid")),
               (long long)json_integer_value(json_object_get(w, "inflight")),
               (long long)json_integer_value(json_object_get(w, "processed")),
               (long long)json_integer_value(json_object_get(w, "failed")), age,
               json_is_true(json_object_get(w, "stale")) ? " (stale)" : "");
    }
    json_t *paused = json_object_get(info, "paused_hosts");
    printf("paused hosts: %zu\n", json_array_size(paused));
    json_array_foreach(paused, i, w) {
        printf("  %-40s until %s  in flight %lld  waiting %lld  429s %lld  503s %lld\n",
               json_string_value(json_object_get(w, "host")),
               json_string_value(json_object_get(w, "paused_until")),
               (long long)json_integer_value(json_object_get(w, "in_flight")),
               (long long)json_integer_value(json_object_get(w, "waiting")),
               (long long)json_integer_value(json_object_get(w, "seen_429")),
               (long long)json_integer_value(json_object_get(w, "seen_503")));
    }
}

/* paused_hosts reads the state of the most recently active hosts
 * (common/lua/host_view.lua) and keeps the paused ones. */
static int
paused_hosts(struct cli *c, json_t **out) {
    *out = json_array();
    struct keybuf ki;
    const char *a_hosts[] = {"ZREVRANGE", keys_hosts(c->keys, &ki), "0", "199"};
    json_t *hosts = NULL, *rows = NULL;
    int rc = call(c, &hosts, false, 4, a_hosts);
    size_t n = json_array_size(hosts);
    if (rc || n == 0) goto done;
    const char **argv = xcalloc(4 + 4 * n, sizeof *argv);
    struct keybuf *kb = xcalloc(3 * n, sizeof *kb);
    char nkeys[16], now[24];
    size_t a = 0, used = 0;
    argv[a++] = "EVAL";
    argv[a++] = lua_host_view;
    argv[a++] = nkeys;
    for (size_t i = 0; i < n; i++) {
        const char *h = json_string_value(json_array_get(hosts, i));
        if (!h || !keys_host(c->keys, h, &kb[3 * i])) continue;
        argv[a++] = kb[3 * i].s;
        argv[a++] = keys_host_slots(c->keys, h, &kb[3 * i + 1]);
        argv[a++] = keys_host_wait(c->keys, h, &kb[3 * i + 2]);
        used++;
    }
    snprintf(nkeys, sizeof nkeys, "%zu", 3 * used);
    snprintf(now, sizeof now, "%lld", (long long)clock_now_ms());
    argv[a++] = now;
    for (size_t i = 0; i < n; i++) {
        const char *h = json_string_value(json_array_get(hosts, i));
        if (h && keys_host(c->keys, h, &ki)) argv[a++] = h;
    }
    rc = call(c, &rows, false, (int)a, argv);
    free(kb);
    free(argv);
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        long long until = int_reply(json_array_get(r, 3));
        if (until <= 0) continue;
        char t[32];
        clock_format_rfc3339(until, t);
        json_array_append_new(*out,
                              json_pack("{s:O, s:s, s:I, s:I, s:I, s:I}", "host",
                                        json_array_get(r, 0), "paused_until", t, "in_flight",
                                        (json_int_t)int_reply(json_array_get(r, 1)), "waiting",
                                        (json_int_t)int_reply(json_array_get(r, 2)), "seen_429",
                                        (json_int_t)int_reply(json_array_get(r, 4)), "seen_503",
                                        (json_int_t)int_reply(json_array_get(r, 5))));
    }
done:
    json_decref(hosts);
    json_decref(rows);
    return rc;
}

/* What the whole queue holds, summed over the shards read. */
struct totals {
    long long queued, running, retrying, failed;
    json_t *counters; /* {p}stats fields -> their sum */
    json_t *paused;   /* paused hosts (each host is on one shard) */
    json_t *by_shard; /* one object per shard, with several */
    int unreadable;   /* shards left out */
    struct failed_walk walk;
    struct stats_step stats; /* snap: the sum */
};

static void
totals_free(struct totals *t) {
    json_decref(t->counters);
    json_decref(t->paused);
    json_decref(t->by_shard);
    json_decref(t->walk.reasons);
    stats_snapshot_free(&t->stats.snap);
}

/* add_count adds n to obj's integer member name (made when missing). */
static void
add_count(json_t *obj, const char *name, long long n) {
    json_t *cur = json_object_get(obj, name);
    json_object_set_new(obj, name, json_integer(n + (cur ? json_integer_value(cur) : 0)));
}

/* read_shard reads shard i's part into t; on an error (reported) the
 * shard's reads are left out: nothing of it is added. */
static int
read_shard(struct cli *c, int i, struct totals *t) {
    int rc = cli_redis_shard(c, i);
    if (rc) return rc;
    struct keybuf kq, kr, kf, ks;
    const char *queue = keys_queue(c->keys, &kq);
    json_t *xlen = NULL, *pending = NULL, *retry = NULL, *failed = NULL, *stats = NULL,
           *paused = NULL;
    struct failed_walk walk = {.reasons = json_object()};
    struct stats_step st = {0};
    const char *a_xlen[] = {"XLEN", queue};
    const char *a_pend[] = {"XPENDING", queue, KEYS_GROUP};
    const char *a_retry[] = {"ZCARD", keys_retry(c->keys, &kr)};
    const char *a_failed[] = {"ZCARD", keys_failed(c->keys, &kf)};
    const char *a_stats[] = {"HGETALL", keys_stats(c->keys, &ks)};
    if ((rc = call(c, &xlen, false, 2, a_xlen)) || (rc = call(c, &pending, true, 3, a_pend)) ||
        (rc = call(c, &retry, false, 2, a_retry)) || (rc = call(c, &failed, false, 2, a_failed)) ||
        (rc = call(c, &stats, false, 2, a_stats)) || (rc = read_stats(c, &st)) ||
        (rc = failed_reasons(c, &walk)) || (rc = paused_hosts(c, &paused)))
        goto done;

    /* Acknowledged entries are deleted from the stream, so its length is
     * the undelivered entries plus the delivered, unacknowledged ones. */
    long long running = int_reply(json_array_get(pending, 0));
    long long queued = int_reply(xlen) - running;
    if (queued < 0) queued = 0;
    t->queued += queued;
    t->running += running;
    t->retrying += int_reply(retry);
    t->failed += int_reply(failed);
    if (t->by_shard)
        json_array_append_new(
            t->by_shard,
            json_pack("{s:i, s:s, s:I, s:I, s:I, s:I}", "shard", i, "server", c->shards[i].name,
                      "queued", (json_int_t)queued, "running", (json_int_t)running, "retrying",
                      (json_int_t)int_reply(retry), "failed", (json_int_t)int_reply(failed)));
    for (size_t k = 0; k + 1 < json_array_size(stats); k += 2) {
        const char *name = json_string_value(json_array_get(stats, k));
        if (name) add_count(t->counters, name, int_reply(json_array_get(stats, k + 1)));
    }
    const char *code;
    json_t *v;
    json_object_foreach(walk.reasons, code, v)
        add_count(t->walk.reasons, code, json_integer_value(v));
    t->walk.sampled = t->walk.sampled || walk.sampled;
    json_array_extend(t->paused, paused);
    stats_merge(&t->stats.snap, &st.snap);
done:
    json_decref(xlen);
    json_decref(pending);
    json_decref(retry);
    json_decref(failed);
    json_decref(stats);
    json_decref(paused);
    json_decref(walk.reasons);
    stats_snapshot_free(&st.snap);
    return rc;
}

/* read_workers reads the workers registry (a process key, on shard 0;
 * after the statistics' read, which drops entries silent for ten minutes
 * as the dashboard's does). NULL in *out when shard 0 cannot be read. */
static int
read_workers(struct cli *c, json_t **out) {
    *out = NULL;
    if (!c->shards[0].ready) return CLI_OK;
    int rc = cli_redis_shard(c, 0);
    struct keybuf kw;
    const char *a_workers[] = {"HGETALL", keys_workers(c->keys, &kw)};
    if (!rc) rc = call(c, out, false, 2, a_workers);
    return rc;
}

int
cmd_info(struct cli *c, int argc, char **argv) {
    struct opts_result o;
    if (opts_parse(argc, argv, NULL, 0, 0, &o) < 0) return cli_usage(c, usage_text, o.error);
    if (o.help) return cli_usage(c, usage_text, NULL);
    c->json = c->json || o.json;
    int rc = cli_start(c);
    if (rc) return rc;
    /* Every shard that answers is read; one that does not is named (by
     * cli_redis_all, or here) and left out of the sums, and the exit
     * code says the picture is partial. */
    int conn = cli_redis_all(c, c->nshards > 1 ? "left out of the sums" : NULL);
    struct totals t = {.counters = json_object(),
                       .paused = json_array(),
                       .by_shard = c->nshards > 1 ? json_array() : NULL,
                       .walk = {.reasons = json_object()}};
    for (int i = 0; i < c->nshards; i++) {
        struct cli_shard *s = &c->shards[i];
        int r = s->ready ? read_shard(c, i, &t) : conn;
        if (!r) continue;
        rc = r;
        t.unreadable++;
        if (s->ready && c->nshards > 1) cli_error(c, r, "%s left out of the sums", s->name);
        if (t.by_shard)
            json_array_append_new(t.by_shard,
                                  json_pack("{s:i, s:s, s:s}", "shard", i, "server", s->name,
                                            "error", s->error[0] ? s->error : "read failed"));
    }
    json_t *workers = NULL, *info = NULL;
    if (t.unreadable == c->nshards) goto done;
    int r = read_workers(c, &workers);
    if (r) rc = r;

    info = json_pack("{s:s, s:I, s:I, s:I, s:I}", "prefix", c->cfg->key_prefix, "queued",
                     (json_int_t)t.queued, "running", (json_int_t)t.running, "retrying",
                     (json_int_t)t.retrying, "failed", (json_int_t)t.failed);
    json_object_set(info, "failed_by_reason", t.walk.reasons);
    json_object_set_new(info, "failed_by_reason_sampled", json_boolean(t.walk.sampled));
    json_object_set_new(info, "workers",
                        workers ? workers_json(c, workers, clock_now_ms()) : json_null());
    json_object_set(info, "counters", t.counters);
    json_object_set(info, "paused_hosts", t.paused);
    json_object_update_new(info, figures_json(&t.stats.snap));
    if (t.by_shard) {
        json_object_set_new(info, "shards", json_integer(c->nshards));
        json_object_set_new(info, "shards_unreadable", json_integer(t.unreadable));
        json_object_set(info, "by_shard", t.by_shard);
    }
    if (c->json) cli_print_json(json_incref(info));
    else print_text(c, info);
done:
    json_decref(info);
    json_decref(workers);
    totals_free(&t);
    return rc;
}
