/* migfile — the migration files on disk.
 *
 * Owns: the naming rule (NNNN_name.up.sql and NNNN_name.down.sql, NNNN
 * counting 1, 2, 3, ... without gaps), reading a folder into a sorted
 * migration set with each file's SQL, the SHA-256 checksum of each up file
 * (OpenSSL EVP), the `-- migrate:no-transaction` marker, the template that
 * `new` writes, and where the folder is looked for.
 *
 * A migration_set owns every string in it; migfile_set_free releases them.
 * Functions return 0 or a negative MIGRATE_E* code (migrate.h) with a
 * message in err. */
#ifndef WC_MIGFILE_H
#define WC_MIGFILE_H

#include <stdbool.h>
#include <stddef.h>

#define MIGFILE_NO_TX_MARKER "-- migrate:no-transaction"
#define MIGFILE_NAME_MAX 64

struct migration {
    int version;
    char *name;    /* "create_results" */
    char *up_file; /* "0001_create_results.up.sql" (base name) */
    char *down_file;
    char *up_sql;
    char *down_sql;
    char checksum[65]; /* hex SHA-256 of the up file */
    bool up_no_tx;     /* first line of the up file is the marker */
    bool down_no_tx;
};

struct migration_set {
    char *dir;
    struct migration *items; /* items[i].version == i + 1 */
    size_t n;
};

/* migfile_load reads every migration in dir. Fails (MIGRATE_EFILES) on a
 * *.sql file that does not follow the naming rule, a missing half of a
 * pair, a duplicate or a gap in the numbering, or an unreadable file. */
int migfile_load(const char *dir, struct migration_set *set, char *err, size_t errlen);
void migfile_set_free(struct migration_set *set);
/* migfile_find returns the migration with that version, or NULL. */
const struct migration *migfile_find(const struct migration_set *set, int version);

/* migfile_has_no_tx_marker tells whether sql's first line is the marker. */
bool migfile_has_no_tx_marker(const char *sql);
/* migfile_valid_name accepts 1..MIGFILE_NAME_MAX of [a-z0-9_], starting with a letter. */
bool migfile_valid_name(const char *name);

/* migfile_new writes the next pair NNNN_name.{up,down}.sql in dir from the
 * template (never overwriting) and puts the up file's path in up_path
 * (caller frees). MIGRATE_EUSAGE for a bad name, MIGRATE_EFILES otherwise. */
int migfile_new(const char *dir, const char *name, char **up_path, char *err, size_t errlen);

/* migfile_default_dir returns the folder to use when neither --dir nor
 * MIGRATIONS_DIR is given: share/wordcount/migrations beside the binary
 * when it exists, else the source tree's migrations/ (caller frees). */
char *migfile_default_dir(void);

#endif
