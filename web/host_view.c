#include "web/host_view.h"

#include "common/clock.h"
#include "web/stats_view.h"

json_t *
host_view_json(const struct hosts_row *rows, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; i < n && i < HOST_VIEW_JSON_TOP; i++) {
        const struct hosts_row *r = &rows[i];
        char t[32];
        json_t *paused = json_null();
        if (r->paused_until > 0) {
            clock_format_rfc3339(r->paused_until, t);
            paused = json_string(t);
        }
        json_array_append_new(
            a, json_pack("{s:s, s:I, s:I, s:o, s:I, s:I, s:s?, s:I, s:I}", "host", r->host,
                         "in_flight", (json_int_t)r->inflight, "waiting", (json_int_t)r->waiting,
                         "paused_until", paused, "seen_429", (json_int_t)r->seen_429, "seen_503",
                         (json_int_t)r->seen_503, "robots", r->robots[0] ? r->robots : NULL,
                         "delay_ms", (json_int_t)r->delay_ms, "fetches", (json_int_t)r->fetches));
    }
    return a;
}

/* samples writes a line per top host, then host="other" for the rest. */
static void
samples(struct buf *out, const struct hosts_row *rows, size_t n, const char *name,
        const char *extra_label, long long (*value)(const struct hosts_row *r)) {
    long long rest = 0;
    for (size_t i = 0; i < n; i++) {
        if (i >= HOST_VIEW_PROM_TOP) {
            rest += value(&rows[i]);
            continue;
        }
        buf_printf(out, "%s{host=\"", name);
        stats_view_label(out, rows[i].host);
        buf_printf(out, "\"%s} %lld\n", extra_label, value(&rows[i]));
    }
    if (n > HOST_VIEW_PROM_TOP)
        buf_printf(out, "%s{host=\"other\"%s} %lld\n", name, extra_label, rest);
}

static void
family(struct buf *out, const char *name, const char *type, const char *help) {
    buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static long long
inflight(const struct hosts_row *r) {
    return r->inflight;
}

static long long
waiting(const struct hosts_row *r) {
    return r->waiting;
}

static long long
paused(const struct hosts_row *r) {
    return r->paused_until > 0;
}

static long long
seen_429(const struct hosts_row *r) {
    return r->seen_429;
}

static long long
seen_503(const struct hosts_row *r) {
    return r->seen_503;
}

static long long
fetches(const struct hosts_row *r) {
    return r->fetches;
}

void
host_view_prometheus(const struct hosts_row *rows, size_t n, struct buf *out) {
    static const struct {
        const char *name, *type, *help;
        long long (*value)(const struct hosts_row *r);
    } fams[] = {
        {"wordcount_host_fetches_inflight", "gauge", "Fetches in flight to a host, fleet-wide.",
         inflight},
        {"wordcount_host_jobs_waiting", "gauge", "Jobs waiting for a slot of a host.", waiting},
        {"wordcount_host_paused", "gauge", "Hosts paused by a Retry-After (1 each).", paused},
        {"wordcount_host_fetches_total", "counter",
         "Fetches to a host that ended (kept while the host is active).", fetches},
    };
    for (size_t i = 0; i < sizeof fams / sizeof *fams; i++) {
        family(out, fams[i].name, fams[i].type, fams[i].help);
        samples(out, rows, n, fams[i].name, "", fams[i].value);
    }
    family(out, "wordcount_host_responses_total", "counter",
           "Answers 429 and 503 from a host (they slow it down).");
    samples(out, rows, n, "wordcount_host_responses_total", ",status=\"429\"", seen_429);
    samples(out, rows, n, "wordcount_host_responses_total", ",status=\"503\"", seen_503);
}
