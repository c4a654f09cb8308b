/* stats_merge.c — the sum of shards' statistics. See stats_merge.h. */
#include "common/stats_merge.h"

#include <string.h>

#include "common/xalloc.h"

/* hist_add adds b's counts to a (a empty: b's bounds too). */
static void
hist_add(struct stats_hist *a, const struct stats_hist *b) {
    if (b->nb == 0) return;
    if (a->nb == 0) {
        *a = *b;
        return;
    }
    for (int i = 0; i <= a->nb && i <= b->nb; i++) a->count[i] += b->count[i];
    a->sum += b->sum;
}

static void
add_reasons(struct stats_snapshot *a, const struct stats_snapshot *b) {
    for (size_t i = 0; i < b->nreasons; i++) {
        size_t j = 0;
        while (j < a->nreasons && strcmp(a->reasons[j].code, b->reasons[i].code)) j++;
        if (j == a->nreasons) {
            a->reasons = xrealloc(a->reasons, (a->nreasons + 1) * sizeof *a->reasons);
            a->reasons[a->nreasons++] = (struct stats_reason){.n = 0};
            memcpy(a->reasons[j].code, b->reasons[i].code, sizeof a->reasons[j].code);
        }
        a->reasons[j].n += b->reasons[i].n;
    }
}

static void
add_http(struct stats_snapshot *a, const struct stats_snapshot *b) {
    for (size_t i = 0; i < b->nhttp; i++) {
        size_t j = 0;
        while (j < a->nhttp && strcmp(a->http[j].name, b->http[i].name)) j++;
        if (j == a->nhttp) {
            a->http = xrealloc(a->http, (a->nhttp + 1) * sizeof *a->http);
            a->http[a->nhttp++] = (struct stats_field){.name = xstrdup(b->http[i].name)};
        }
        a->http[j].value += b->http[i].value;
    }
}

static void
add_points(struct stats_snapshot *a, const struct stats_snapshot *b) {
    if (a->npoints == 0 && b->npoints > 0) {
        a->points = xcalloc(b->npoints, sizeof *a->points);
        memcpy(a->points, b->points, b->npoints * sizeof *b->points);
        a->npoints = b->npoints;
        return;
    }
    /* Read with the same clock and window: the same steps. */
    for (size_t i = 0; i < a->npoints && i < b->npoints; i++) {
        a->points[i].finished += b->points[i].finished;
        a->points[i].failed += b->points[i].failed;
        hist_add(&a->points[i].latency, &b->points[i].latency);
    }
}

void
stats_merge(struct stats_snapshot *a, const struct stats_snapshot *b) {
    if (b->now_ms > a->now_ms) a->now_ms = b->now_ms;
    a->submitted += b->submitted;
    a->started += b->started;
    a->finished += b->finished;
    a->failed += b->failed;
    a->retried += b->retried;
    a->rescued += b->rescued;
    a->canceled += b->canceled;
    a->requeued += b->requeued;
    a->queued += b->queued;
    a->running += b->running;
    a->retrying += b->retrying;
    a->failed_set += b->failed_set;
    add_reasons(a, b);
    hist_add(&a->latency, &b->latency);
    hist_add(&a->duration, &b->duration);
    hist_add(&a->fetch, &b->fetch);
    hist_add(&a->bytes, &b->bytes);
    if (b->nworkers > 0) {
        a->workers = xrealloc(a->workers, (a->nworkers + b->nworkers) * sizeof *a->workers);
        memcpy(a->workers + a->nworkers, b->workers, b->nworkers * sizeof *b->workers);
        a->nworkers += b->nworkers;
    }
    a->window_s = b->window_s;
    a->step_s = b->step_s;
    add_points(a, b);
    a->window_finished += b->window_finished;
    a->window_failed += b->window_failed;
    hist_add(&a->window_latency, &b->window_latency);
    a->last_minute_finished += b->last_minute_finished;
    a->last_minute_failed += b->last_minute_failed;
    add_http(a, b);
    a->webhook_delivered += b->webhook_delivered;
    a->webhook_retried += b->webhook_retried;
    a->webhook_failed += b->webhook_failed;
    if (b->nhook_failing > 0) {
        a->hook_failing = xrealloc(a->hook_failing,
                                   (a->nhook_failing + b->nhook_failing) * sizeof *a->hook_failing);
        for (size_t i = 0; i < b->nhook_failing; i++)
            a->hook_failing[a->nhook_failing++] = (struct stats_hook_failing){
                .url = xstrdup(b->hook_failing[i].url ? b->hook_failing[i].url : ""),
                .last = b->hook_failing[i].last ? xstrdup(b->hook_failing[i].last) : NULL};
    }
}
