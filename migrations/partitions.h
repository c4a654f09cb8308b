/* partitions — the upkeep of the results table's monthly partitions from
 * the command line (`wordcount-migrate partitions`), for operators who run
 * it from cron rather than rely on the worker doing it (worker/upkeep.h).
 *
 * The work itself is SQL the migration 0004_results_partitioned defines
 * (common/results.h names the calls); this only calls it and reports.
 * Blocking libpq, one connection, like migrate.h; errors come back as a
 * negative MIGRATE_E* code with a message in err. */
#ifndef WC_PARTITIONS_H
#define WC_PARTITIONS_H

#include <stddef.h>

#include "migrations/migrate.h"

/* partitions_upkeep makes the monthly partitions due (this month to two
 * months on) and, when retention_days > 0, drops those whose rows are all
 * older than that many days; prints what it made and dropped, then every
 * partition with its range and estimated rows, to o->out. */
int partitions_upkeep(const struct migrate_opts *o, int retention_days, char *err, size_t errlen);

#endif
