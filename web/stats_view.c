/* stats_view.c — JSON and Prometheus renderings of a stats snapshot. */
#include "web/stats_view.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"

static json_t *
time_json(int64_t ms) {
    char t[32];
    clock_format_rfc3339(ms, t);
    return json_string(t);
}

static json_t *
quantile_json(const struct stats_hist *h, double q) {
    double v = stats_quantile(h, q);
    return v < 0 ? json_null() : json_real((double)(long long)(v * 10 + 0.5) / 10);
}

static double
per_s(long long n, int seconds) {
    return seconds > 0 ? (double)n / seconds : 0;
}

static bool
worker_stale(const struct stats_snapshot *s, const struct stats_worker *w, int stale_after_ms) {
    return s->now_ms - w->at_ms > stale_after_ms;
}

json_t *
stats_view_json(const struct stats_snapshot *s, int stale_after_ms) {
    json_t *reasons = json_object();
    for (size_t i = 0; i < s->nreasons; i++)
        json_object_set_new(reasons, s->reasons[i].code, json_integer(s->reasons[i].n));

    json_t *points = json_array();
    for (size_t i = 0; i < s->npoints; i++) {
        const struct stats_point *p = &s->points[i];
        json_array_append_new(
            points,
            json_pack("{s:o, s:I, s:i, s:I, s:I, s:f, s:f, s:o, s:o}", "t", time_json(p->t_ms),
                      "t_ms", (json_int_t)p->t_ms, "seconds", p->seconds, "finished",
                      (json_int_t)p->finished, "failed", (json_int_t)p->failed, "finished_per_s",
                      per_s(p->finished, p->seconds), "failed_per_s", per_s(p->failed, p->seconds),
                      "p50_ms", quantile_json(&p->latency, 0.5), "p95_ms",
                      quantile_json(&p->latency, 0.95)));
    }

    json_t *workers = json_array();
    int alive = 0;
    for (size_t i = 0; i < s->nworkers; i++) {
        const struct stats_worker *w = &s->workers[i];
        bool stale = worker_stale(s, w, stale_after_ms);
        if (!stale) alive++;
        json_array_append_new(
            workers,
            json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:b}", "id", w->id,
                      "host", w->host, "pid", (json_int_t)w->pid, "inflight",
                      (json_int_t)w->inflight, "processed", (json_int_t)w->processed, "failed",
                      (json_int_t)w->failed, "retried", (json_int_t)w->retried, "rescued",
                      (json_int_t)w->rescued, "last_heartbeat", time_json(w->at_ms),
                      "heartbeat_age_ms", (json_int_t)(s->now_ms - w->at_ms), "stale", stale));
    }

    json_t *counts =
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "queued",
                  (json_int_t)s->queued, "running", (json_int_t)s->running, "retrying",
                  (json_int_t)s->retrying, "finished", (json_int_t)s->finished, "failed",
                  (json_int_t)s->failed, "failed_set", (json_int_t)s->failed_set, "submitted",
                  (json_int_t)s->submitted, "started", (json_int_t)s->started, "canceled",
                  (json_int_t)s->canceled, "retried", (json_int_t)s->retried, "rescued",
                  (json_int_t)s->rescued, "requeued", (json_int_t)s->requeued);

    /* Webhooks: deliveries by outcome, and the endpoints failing now. */
    json_t *failing = json_array();
    for (size_t i = 0; i < s->nhook_failing; i++) {
        json_t *last = json_loads(s->hook_failing[i].last, 0, NULL);
        if (!json_is_object(last)) {
            json_decref(last);
            last = json_object();
        }
        json_object_set_new(last, "url", json_string(s->hook_failing[i].url));
        json_array_append_new(failing, last);
    }
    json_t *webhooks =
        json_pack("{s:I, s:I, s:I, s:o}", "delivered", (json_int_t)s->webhook_delivered, "retried",
                  (json_int_t)s->webhook_retried, "failed", (json_int_t)s->webhook_failed,
                  "failing", failing);

    int last = s->window_s < 60 ? s->window_s : 60;
    return json_pack(
        "{s:o, s:o, s:o, s:{s:i, s:I, s:I, s:f, s:f}, s:{s:i, s:I, s:o, s:o}, "
        "s:{s:i, s:i, s:o}, s:{s:i, s:i, s:o}, s:o}",
        "time", time_json(s->now_ms), "counts", counts, "failed_by_reason", reasons, "rates",
        "window_s", last, "finished", (json_int_t)s->last_minute_finished, "failed",
        (json_int_t)s->last_minute_failed, "finished_per_s", per_s(s->last_minute_finished, last),
        "failed_per_s", per_s(s->last_minute_failed, last), "latency_ms", "window_s", s->window_s,
        "count", (json_int_t)stats_hist_total(&s->window_latency), "p50",
        quantile_json(&s->window_latency, 0.5), "p95", quantile_json(&s->window_latency, 0.95),
        "series", "window_s", s->window_s, "step_s", s->step_s, "points", points, "workers",
        "alive", alive, "stale_after_ms", stale_after_ms, "list", workers, "webhooks", webhooks);
}

/* --- Prometheus text format --- */

void
stats_view_label(struct buf *out, const char *v) {
    for (; *v; v++) {
        if (*v == '\\') buf_append_str(out, "\\\\");
        else if (*v == '"') buf_append_str(out, "\\\"");
        else if (*v == '\n') buf_append_str(out, "\\n");
        else buf_append_char(out, *v);
    }
}

static void
family(struct buf *out, const char *name, const char *type, const char *help) {
    buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
sample(struct buf *out, const char *name, long long v) {
    buf_printf(out, "%s %lld\n", name, v);
}

/* histogram writes the _bucket, _sum and _count lines. labels is "" or
 * 'k="v",' (with the trailing comma); scale divides bounds and sum. */
static void
histogram(struct buf *out, const char *name, const char *labels, const long long *count, int nb,
          const int64_t *bounds, long long sum, double scale) {
    long long cum = 0;
    for (int i = 0; i <= nb; i++) {
        cum += count[i];
        if (i < nb)
            buf_printf(out, "%s_bucket{%sle=\"%g\"} %lld\n", name, labels,
                       (double)bounds[i] / scale, cum);
        else buf_printf(out, "%s_bucket{%sle=\"+Inf\"} %lld\n", name, labels, cum);
    }
    size_t n = strlen(labels);
    if (n) {
        /* {k="v",} -> {k="v"} for _sum and _count */
        buf_printf(out, "%s_sum{%.*s} %.6f\n", name, (int)(n - 1), labels, (double)sum / scale);
        buf_printf(out, "%s_count{%.*s} %lld\n", name, (int)(n - 1), labels, cum);
    } else {
        buf_printf(out, "%s_sum %.6f\n%s_count %lld\n", name, (double)sum / scale, name, cum);
    }
}

static void
hist_family(struct buf *out, const char *name, const char *help, const struct stats_hist *h,
            double scale) {
    family(out, name, "histogram", help);
    histogram(out, name, "", h->count, h->nb, h->bounds, h->sum, scale);
}

/* split_field cuts "t|a|b|c" into up to 4 parts (in place in a copy). */
static int
split_field(char *s, char *parts[4]) {
    int n = 0;
    parts[n++] = s;
    for (char *p = s; *p && n < 4; p++)
        if (*p == '|') {
            *p = '\0';
            parts[n++] = p + 1;
        }
    return n;
}

struct route_hist {
    char method[16], route[128];
    long long count[STATS_US_NB + 1];
    long long sum;
};

static void
http_families(struct buf *out, const struct stats_snapshot *s) {
    family(out, "wordcount_http_requests_total", "counter",
           "HTTP requests answered, by method, route pattern and status.");
    struct route_hist *rh = calloc(s->nhttp + 1, sizeof *rh);
    size_t nrh = 0;
    for (size_t i = 0; i < s->nhttp; i++) {
        char copy[512], *p[4];
        snprintf(copy, sizeof copy, "%s", s->http[i].name);
        int n = split_field(copy, p);
        if (n == 4 && !strcmp(p[0], "n")) {
            buf_append_str(out, "wordcount_http_requests_total{method=\"");
            stats_view_label(out, p[1]);
            buf_append_str(out, "\",route=\"");
            stats_view_label(out, p[2]);
            buf_append_str(out, "\",status=\"");
            stats_view_label(out, p[3]);
            buf_printf(out, "\"} %lld\n", s->http[i].value);
            continue;
        }
        if (n < 3 || (strcmp(p[0], "h") && strcmp(p[0], "s")) || !rh) continue;
        size_t k = 0;
        while (k < nrh && (strcmp(rh[k].method, p[1]) || strcmp(rh[k].route, p[2]))) k++;
        if (k == nrh) {
            snprintf(rh[k].method, sizeof rh[k].method, "%s", p[1]);
            snprintf(rh[k].route, sizeof rh[k].route, "%s", p[2]);
            nrh++;
        }
        if (!strcmp(p[0], "s")) {
            rh[k].sum += s->http[i].value;
        } else if (n == 4) {
            char *end;
            long b = strtol(p[3], &end, 10);
            if (!*end && b >= 0 && b <= STATS_US_NB) rh[k].count[b] += s->http[i].value;
        }
    }
    family(out, "wordcount_http_request_duration_seconds", "histogram",
           "Time from a complete request to its answer, by method and route pattern.");
    for (size_t k = 0; k < nrh; k++) {
        struct buf lb;
        buf_init(&lb);
        buf_append_str(&lb, "method=\"");
        stats_view_label(&lb, rh[k].method);
        buf_append_str(&lb, "\",route=\"");
        stats_view_label(&lb, rh[k].route);
        buf_append_str(&lb, "\",");
        histogram(out, "wordcount_http_request_duration_seconds", lb.data, rh[k].count, STATS_US_NB,
                  stats_us_bounds, rh[k].sum, 1e6);
        buf_free(&lb);
    }
    free(rh);
}

void
stats_view_prometheus(const struct stats_snapshot *s, int stale_after_ms, struct buf *out) {
    static const struct {
        const char *name, *help;
        size_t off;
    } counters[] = {
        {"wordcount_jobs_submitted_total", "Jobs submitted.",
         offsetof(struct stats_snapshot, submitted)},
        {"wordcount_jobs_started_total", "Deliveries started (attempts).",
         offsetof(struct stats_snapshot, started)},
        {"wordcount_jobs_finished_total", "Jobs finished with a stored result.",
         offsetof(struct stats_snapshot, finished)},
        {"wordcount_jobs_retried_total", "Attempts that failed and were scheduled again.",
         offsetof(struct stats_snapshot, retried)},
        {"wordcount_jobs_rescued_total", "Jobs taken over from a lost worker.",
         offsetof(struct stats_snapshot, rescued)},
        {"wordcount_jobs_canceled_total", "Jobs canceled before they started.",
         offsetof(struct stats_snapshot, canceled)},
        {"wordcount_jobs_requeued_total", "Failed jobs put back in the queue by an operator.",
         offsetof(struct stats_snapshot, requeued)},
    };
    for (size_t i = 0; i < sizeof counters / sizeof *counters; i++) {
        family(out, counters[i].name, "counter", counters[i].help);
        sample(out, counters[i].name, *(const long long *)((const char *)s + counters[i].off));
    }
    family(out, "wordcount_jobs_failed_total", "counter", "Jobs failed for good, by reason.");
    for (size_t i = 0; i < s->nreasons; i++) {
        buf_append_str(out, "wordcount_jobs_failed_total{reason=\"");
        stats_view_label(out, s->reasons[i].code);
        buf_printf(out, "\"} %lld\n", s->reasons[i].n);
    }
    family(out, "wordcount_webhook_deliveries_total", "counter",
           "Webhook delivery attempts by outcome: delivered, retried (to be tried again), "
           "failed (given up).");
    buf_printf(out,
               "wordcount_webhook_deliveries_total{outcome=\"delivered\"} %lld\n"
               "wordcount_webhook_deliveries_total{outcome=\"retried\"} %lld\n"
               "wordcount_webhook_deliveries_total{outcome=\"failed\"} %lld\n",
               s->webhook_delivered, s->webhook_retried, s->webhook_failed);
    family(out, "wordcount_webhook_failing_endpoints", "gauge",
           "Callback URLs whose last delivery attempt failed.");
    sample(out, "wordcount_webhook_failing_endpoints", (long long)s->nhook_failing);

    int alive = 0;
    long long inflight = 0;
    for (size_t i = 0; i < s->nworkers; i++) {
        if (worker_stale(s, &s->workers[i], stale_after_ms)) continue;
        alive++;
        inflight += s->workers[i].inflight;
    }
    static const struct {
        const char *name, *help;
    } gauges[] = {
        {"wordcount_queue_depth", "Jobs waiting in the queue, not yet taken by a worker."},
        {"wordcount_jobs_running", "Jobs taken by a worker and not yet ended."},
        {"wordcount_jobs_retrying", "Jobs waiting out a retry backoff."},
        {"wordcount_failed_set_size", "Failed jobs kept in the failed set."},
        {"wordcount_workers_alive", "Worker processes whose heartbeat is recent."},
        {"wordcount_workers_registered", "Worker processes in the registry, stale ones included."},
        {"wordcount_worker_jobs_inflight",
         "Jobs in flight on live workers, from their heartbeats."},
    };
    const long long gv[] = {
        s->queued, s->running, s->retrying, s->failed_set, alive, (long long)s->nworkers, inflight};
    for (size_t i = 0; i < sizeof gauges / sizeof *gauges; i++) {
        family(out, gauges[i].name, "gauge", gauges[i].help);
        sample(out, gauges[i].name, gv[i]);
    }

    hist_family(out, "wordcount_job_latency_seconds", "Time from submission to a stored result.",
                &s->latency, 1e3);
    hist_family(out, "wordcount_job_duration_seconds",
                "Time from the start of the last attempt to a stored result.", &s->duration, 1e3);
    hist_family(out, "wordcount_fetch_duration_seconds", "Time to fetch a page that was counted.",
                &s->fetch, 1e3);
    hist_family(out, "wordcount_page_size_bytes", "Size of the pages counted.", &s->bytes, 1);
    http_families(out, s);
}
