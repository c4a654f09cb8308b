/* stats_merge — the statistics of several Redis shards (common/shards.h)
 * as one snapshot: what GET /api/v1/stats, /metrics and the CLI show is
 * the sum over the shards.
 *
 * Owns: the rules of the sum. Counters, gauges, histograms, the time
 * series and the webhook counters add up; failure reasons and request
 * counts add up by name; the workers registry and the request statistics
 * (process keys, on shard 0 only) and the failing callback URLs are put
 * together. The merged snapshot owns its memory (stats_snapshot_free);
 * the one merged in is only read. */
#ifndef WC_STATS_MERGE_H
#define WC_STATS_MERGE_H

#include "common/stats.h"

/* stats_merge adds from into into (into zeroed before the first call). */
void stats_merge(struct stats_snapshot *into, const struct stats_snapshot *from);

#endif
