/* pg_stmts — the statements one Postgres connection has prepared, so the
 * same SQL text is planned once per connection instead of at every run
 * (common/pg_uv.c). Planning matters most for the partitioned results
 * table: a lookup by URL plans an index scan in every partition, and
 * planning cost more than running it (issue 20's measurement).
 *
 * A statement is known by its SQL text and named "wc<n>" with n unique
 * for the life of the connection, so a name is never reused on the
 * server even after a statement is forgotten. At most PG_STMTS_MAX
 * statements; beyond that, queries run unprepared. Pure bookkeeping, no
 * I/O; the SQL texts are copies the cache owns. */
#ifndef WC_PG_STMTS_H
#define WC_PG_STMTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PG_STMTS_MAX 64
#define PG_STMTS_NAME_MAX 16

struct pg_stmts {
    struct pg_stmt {
        char *sql; /* NULL: a free entry */
        uint64_t hash;
        unsigned id;
        bool ready; /* prepared on the server; false while its Prepare is in flight */
    } s[PG_STMTS_MAX];
    unsigned next_id;
};

/* pg_stmts_find returns the entry of sql (ready or not), or -1. */
int pg_stmts_find(const struct pg_stmts *c, const char *sql);
/* pg_stmts_add makes a not-ready entry for sql and returns it, or -1 when
 * the cache is full. */
int pg_stmts_add(struct pg_stmts *c, const char *sql);
void pg_stmts_ready(struct pg_stmts *c, int i);
/* pg_stmts_forget frees entry i (its name is not given again). */
void pg_stmts_forget(struct pg_stmts *c, int i);
/* pg_stmts_clear forgets every entry: a new connection has none. */
void pg_stmts_clear(struct pg_stmts *c);
/* pg_stmts_name writes entry i's statement name into out. */
void pg_stmts_name(const struct pg_stmts *c, int i, char out[PG_STMTS_NAME_MAX]);
bool pg_stmts_is_ready(const struct pg_stmts *c, int i);

#endif
