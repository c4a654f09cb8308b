/* partitions.c — `wordcount-migrate partitions`; see partitions.h. */
#include "migrations/partitions.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/results.h"

/* The partitions of results, the default one and then oldest first, with
 * their bounds and the planner's estimate of their rows (-1: never
 * analysed). */
static const char LIST_SQL[] =
    "SELECT c.relname,"
    " CASE WHEN r.is_default THEN 'default' ELSE coalesce(r.lo::text, '-infinity') END,"
    " CASE WHEN r.is_default THEN 'default' ELSE coalesce(r.hi::text, 'infinity') END,"
    " c.reltuples::bigint"
    " FROM pg_inherits JOIN pg_class c ON c.oid = inhrelid, results_partition_range(c.oid) r"
    " WHERE inhparent = 'results'::regclass ORDER BY r.lo NULLS FIRST";

/* query runs sql; on failure it writes why into err and returns NULL. An
 * undefined function means the schema predates the partitions. */
static PGresult *
query(PGconn *conn, const char *sql, int n, const char *const *params, char *err, size_t errlen) {
    PGresult *r = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK) return r;
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (state && (strcmp(state, "42883") == 0 || strcmp(state, "42P01") == 0))
        snprintf(err, errlen,
                 "results is not partitioned in this database: run `wordcount-migrate upgrade` "
                 "first (%s)",
                 PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
    else snprintf(err, errlen, "%s", PQresultErrorMessage(r));
    PQclear(r);
    return NULL;
}

int
partitions_upkeep(const struct migrate_opts *o, int retention_days, char *err, size_t errlen) {
    FILE *out = o->out ? o->out : stdout;
    const char *keys[] = {"dbname", "application_name", "connect_timeout", NULL};
    const char *values[] = {o->database_url, "wordcount-migrate", "10", NULL};
    PGconn *conn = PQconnectdbParams(keys, values, 1);
    if (!conn || PQstatus(conn) != CONNECTION_OK) {
        snprintf(err, errlen, "cannot connect to the database: %s",
                 conn ? PQerrorMessage(conn) : "out of memory");
        PQfinish(conn);
        return MIGRATE_EUNAVAIL;
    }
    int rc = MIGRATE_EFAILED;
    PGresult *r = query(conn, RESULTS_PARTITIONS_SQL, 0, NULL, err, errlen);
    if (!r) goto done;
    fprintf(out, "made %s partition(s)\n", PQgetvalue(r, 0, 0));
    log_info("msg=\"partitions made\" count=%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (retention_days > 0) {
        char days[16];
        snprintf(days, sizeof days, "%d", retention_days);
        const char *params[] = {days};
        if (!(r = query(conn, RESULTS_RETAIN_SQL, 1, params, err, errlen))) goto done;
        for (int i = 0; i < PQntuples(r); i++) {
            fprintf(out, "dropped %s (older than %d days)\n", PQgetvalue(r, i, 0), retention_days);
            log_info("msg=\"partition dropped\" partition=%s retention_days=%d",
                     PQgetvalue(r, i, 0), retention_days);
        }
        PQclear(r);
    }
    if (!(r = query(conn, LIST_SQL, 0, NULL, err, errlen))) goto done;
    fprintf(out, "%-24s %-24s %-24s %s\n", "partition", "from", "to", "rows (estimate)");
    for (int i = 0; i < PQntuples(r); i++)
        fprintf(out, "%-24s %-24s %-24s %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                PQgetvalue(r, i, 2), PQgetvalue(r, i, 3));
    PQclear(r);
    rc = 0;
done:
    PQfinish(conn);
    return rc;
}
