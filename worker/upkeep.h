/* upkeep — the worker's care of the results table: its monthly
 * partitions made ahead of time and, when RESULT_RETENTION_DAYS is set,
 * the months past it dropped (common/results.h names the SQL, the
 * migration 0004_results_partitioned defines it).
 *
 * Every worker process runs it on its own Postgres connection a few
 * seconds after start and then every UPKEEP_INTERVAL_MS; the SQL takes an
 * advisory lock and does nothing when nothing is due, so many processes
 * doing it cost nothing and a fleet needs no cron. (`wordcount-migrate
 * partitions` does the same by hand.) A failure is logged and tried again
 * at the next turn; a database whose schema predates the partitions is
 * told once, as a warning.
 *
 * Owns: a timer and the state of the query in flight. The connection is
 * the caller's: close upkeep before or together with it; upkeep_close
 * calls cb once its timer has closed and its query, if any, has answered
 * (closing the connection fails it). */
#ifndef WC_UPKEEP_H
#define WC_UPKEEP_H

#include <uv.h>

#include "common/pg_uv.h"

#define UPKEEP_FIRST_MS 5000
#define UPKEEP_RETRY_MS 60000
#define UPKEEP_INTERVAL_MS (3600 * 1000)

typedef struct upkeep upkeep_t;

upkeep_t *upkeep_start(uv_loop_t *loop, pg_uv_t *pg, int retention_days);
void upkeep_close(upkeep_t *u, void (*cb)(void *arg), void *arg);

#endif
