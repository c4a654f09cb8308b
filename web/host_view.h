/* host_view — the per-host politeness view (common/hosts.h's rows) as the
 * API shows it: the "hosts" member of GET /api/v1/stats and the
 * wordcount_host_* families of GET /metrics. Pure functions over rows
 * the caller owns; the caller owns what they return.
 *
 * Bounded: JSON lists at most HOST_VIEW_JSON_TOP hosts (the busiest);
 * Prometheus labels at most HOST_VIEW_PROM_TOP hosts and sums the rest
 * under host="other", so a crawl of a million hosts keeps a fixed number
 * of series. */
#ifndef WC_HOST_VIEW_H
#define WC_HOST_VIEW_H

#include <jansson.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/hosts.h"

#define HOST_VIEW_JSON_TOP 20
#define HOST_VIEW_PROM_TOP 20
/* How many of the most recently active hosts a view looks at. */
#define HOST_VIEW_SCAN 200

json_t *host_view_json(const struct hosts_row *rows, size_t n);
void host_view_prometheus(const struct hosts_row *rows, size_t n, struct buf *out);

#endif
