/* cmd_info — `wordcount info`: what the queue holds and who works on it,
 * like `rq info`. Reads only counters and small structures (stream
 * length, pending summary, the retry and failed sets, the stats and
 * workers hashes), plus a bounded walk of the failed set for the reasons. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/fmt.h"
#include "cli/opts.h"
#include "common/clock.h"

static const char usage_text[] =
    "usage: wordcount info [--json]\n"
    "\n"
    "Shows the queue: jobs queued, running (delivered to a worker, not yet\n"
    "acknowledged), retrying (waiting out a backoff) and failed, the failed jobs\n"
    "grouped by reason, the counters since the queue was created, and every worker\n"
    "that has sent a heartbeat, with its age. A worker whose last heartbeat is\n"
    "older than JOB_RESCUE_AFTER is marked stale (its jobs go to other workers).\n"
    "\n"
    "exit codes: 0 ok, 2 usage, 69 Redis unavailable, 70 unexpected answer, 78 bad configuration\n";

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
    long long total;
    size_t seen;
    json_t *reasons; /* code -> count */
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

/* failed_reasons groups the failed set by error code. */
static int
failed_reasons(struct cli *c, struct failed_walk *w) {
    w->reasons = json_object();
    for (long offset = 0; offset < FAILED_SCAN_MAX; offset += FAILED_PAGE) {
        size_t before = w->seen;
        w->done = false;
        int rc = queue_failed_list(&c->queue, offset, FAILED_PAGE, on_failed_page, w);
        if (rc < 0) return cli_error(c, cli_status_code(rc), "failed list: %s", uv_strerror(rc));
        if (!cli_wait(c, &w->done)) return cli_error(c, CLI_UNAVAILABLE, "failed list: no answer");
        if (w->status) return cli_error(c, cli_status_code(w->status), "failed list: %s", w->err);
        if (w->seen - before < FAILED_PAGE || offset + FAILED_PAGE >= w->total) break;
    }
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

static void
print_text(const struct cli *c, json_t *info) {
    printf("queue %s\n", c->cfg->key_prefix);
    static const char *const states[] = {"queued", "running", "retrying", "failed"};
    for (size_t i = 0; i < 4; i++)
        printf("  %-10s %lld\n", states[i],
               (long long)json_integer_value(json_object_get(info, states[i])));

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

    json_t *workers = json_object_get(info, "workers");
    size_t stale = 0, i;
    json_t *w;
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

    json_t *counters = json_object_get(info, "counters");
    if (json_object_size(counters)) {
        printf("counters since the start\n");
        const char *k;
        json_t *v;
        json_object_foreach(counters, k, v)
            printf("  %-24s %lld\n", k, (long long)json_integer_value(v));
    }
}

int
cmd_info(struct cli *c, int argc, char **argv) {
    struct opts_result o;
    if (opts_parse(argc, argv, NULL, 0, 0, &o) < 0) return cli_usage(c, usage_text, o.error);
    if (o.help) return cli_usage(c, usage_text, NULL);
    c->json = c->json || o.json;
    int rc = cli_start(c);
    if (!rc) rc = cli_redis(c);
    if (rc) return rc;

    struct keybuf kq, kr, kf, ks, kw;
    const char *queue = keys_queue(&c->keys, &kq);
    json_t *xlen = NULL, *pending = NULL, *retry = NULL, *failed = NULL, *stats = NULL,
           *workers = NULL;
    struct failed_walk walk = {0};
    json_t *info = NULL;
    const char *a_xlen[] = {"XLEN", queue};
    const char *a_pend[] = {"XPENDING", queue, KEYS_GROUP};
    const char *a_retry[] = {"ZCARD", keys_retry(&c->keys, &kr)};
    const char *a_failed[] = {"ZCARD", keys_failed(&c->keys, &kf)};
    const char *a_stats[] = {"HGETALL", keys_stats(&c->keys, &ks)};
    const char *a_workers[] = {"HGETALL", keys_workers(&c->keys, &kw)};
    if ((rc = call(c, &xlen, false, 2, a_xlen)) || (rc = call(c, &pending, true, 3, a_pend)) ||
        (rc = call(c, &retry, false, 2, a_retry)) || (rc = call(c, &failed, false, 2, a_failed)) ||
        (rc = call(c, &stats, false, 2, a_stats)) ||
        (rc = call(c, &workers, false, 2, a_workers)) || (rc = failed_reasons(c, &walk)))
        goto done;

    /* Acknowledged entries are deleted from the stream, so its length is
     * the undelivered entries plus the delivered, unacknowledged ones. */
    long long running = int_reply(json_array_get(pending, 0));
    long long queued = int_reply(xlen) - running;
    info =
        json_pack("{s:s, s:I, s:I, s:I, s:I}", "prefix", c->cfg->key_prefix, "queued",
                  (json_int_t)(queued < 0 ? 0 : queued), "running", (json_int_t)running, "retrying",
                  (json_int_t)int_reply(retry), "failed", (json_int_t)int_reply(failed));
    json_object_set(info, "failed_by_reason", walk.reasons);
    json_object_set_new(info, "failed_by_reason_sampled",
                        json_boolean((long long)walk.seen < walk.total));
    json_object_set_new(info, "workers", workers_json(c, workers, clock_now_ms()));
    json_t *counters = json_object();
    for (size_t i = 0; i + 1 < json_array_size(stats); i += 2) {
        const char *name = json_string_value(json_array_get(stats, i));
        if (name)
            json_object_set_new(counters, name,
                                json_integer(int_reply(json_array_get(stats, i + 1))));
    }
    json_object_set_new(info, "counters", counters);
    if (c->json) cli_print_json(json_incref(info));
    else print_text(c, info);
    rc = CLI_OK;
done:
    json_decref(info);
    json_decref(walk.reasons);
    json_decref(xlen);
    json_decref(pending);
    json_decref(retry);
    json_decref(failed);
    json_decref(stats);
    json_decref(workers);
    return rc;
}
