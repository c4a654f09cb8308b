/* migrate — apply and revert the schema migrations of a Postgres database.
 *
 * Owns: the bookkeeping table schema_migrations (version, name, checksum of
 * the up file, applied_at), the advisory lock that serialises concurrent
 * runs (held from connect to disconnect, so two deploys at once apply each
 * migration once), and the rules: each migration and its bookkeeping row
 * commit in one transaction unless its file opts out with
 * `-- migrate:no-transaction` (then its statements run one by one); an
 * applied up file whose checksum changed stops the run unless
 * accept_edited; versions in the database that the files do not know stop
 * it too.
 *
 * Blocking libpq: this is a one-shot program. Each call connects, works
 * and disconnects. Human-readable output (history, dry-run SQL, check
 * report) goes to opts->out; progress is logged (log.h); errors come back
 * as a negative MIGRATE_E* code with a message in err, for the caller to
 * report once. migrate_exit_code maps a result to the program's exit code. */
#ifndef WC_MIGRATE_H
#define WC_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/exits.h"

enum migrate_err {
    MIGRATE_ECHECK = -1,                /* check: pending, edited or unknown migrations (exit 1) */
    MIGRATE_EUSAGE = -EXIT_USAGE,       /* bad command line, name or target (exit 2) */
    MIGRATE_EFILES = -EX_DATAERR,       /* bad migration files, or files the database disagrees
                                           with (exit 65) */
    MIGRATE_EUNAVAIL = -EX_UNAVAILABLE, /* cannot connect to the database (exit 69) */
    MIGRATE_EFAILED = -EX_SOFTWARE,     /* a migration failed (exit 70) */
};

struct migrate_opts {
    const char *database_url; /* postgresql:// URL or conninfo string */
    const char *dir;          /* the migrations folder */
    bool dry_run;             /* upgrade/downgrade: print the SQL, change nothing */
    bool accept_edited;       /* accept edited applied files and record their new checksum */
    FILE *out;                /* command output; NULL means stdout */
};

/* migrate_upgrade applies pending migrations up to target: NULL or "head"
 * for the newest, or a version number. */
int migrate_upgrade(const struct migrate_opts *o, const char *target, char *err, size_t errlen);
/* migrate_downgrade reverts applied migrations above target: a version
 * number (that version stays applied), "-1" (one step) or "base" (all). */
int migrate_downgrade(const struct migrate_opts *o, const char *target, char *err, size_t errlen);
/* migrate_current prints the newest applied migration ("base" when none)
 * and sets *version to it (0 for base) when version is not NULL. */
int migrate_current(const struct migrate_opts *o, int *version, char *err, size_t errlen);
/* migrate_history prints every migration: applied (when) or pending, and
 * flags edited files and versions the files do not know. */
int migrate_history(const struct migrate_opts *o, char *err, size_t errlen);
/* migrate_check returns 0 when every migration is applied unchanged and the
 * database knows no others; else prints the problems and returns MIGRATE_ECHECK. */
int migrate_check(const struct migrate_opts *o, char *err, size_t errlen);

/* migrate_strerror names a MIGRATE_E* code. */
const char *migrate_strerror(int code);
/* migrate_exit_code maps 0 or a MIGRATE_E* code to the process exit code. */
int migrate_exit_code(int code);

#endif
