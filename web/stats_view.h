/* stats_view — a statistics snapshot (common/stats.h) as the API shows
 * it: the JSON of GET /api/v1/stats and the Prometheus text exposition
 * (format 0.0.4) of GET /metrics. Pure functions, unit-tested; the
 * caller owns what they return (json_decref, buf_free). */
#ifndef WC_STATS_VIEW_H
#define WC_STATS_VIEW_H

#include <jansson.h>

#include "common/buf.h"
#include "common/stats.h"

/* A worker whose last heartbeat is older than stale_after_ms is stale. */
json_t *stats_view_json(const struct stats_snapshot *s, int stale_after_ms);
void stats_view_prometheus(const struct stats_snapshot *s, int stale_after_ms, struct buf *out);

/* stats_view_label appends a Prometheus label value, escaped (backslash,
 * double quote, newline). */
void stats_view_label(struct buf *out, const char *v);

#define STATS_VIEW_PROM_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
