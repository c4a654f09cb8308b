#include "migrations/migrate.h"

#include <errno.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "migrations/migfile.h"
#include "migrations/sqlsplit.h"

/* The advisory lock key: "wcmigrat" in ASCII. Advisory locks are per
 * database, so runs against different databases do not wait for each other. */
#define LOCK_KEY "8602840012682322292"
#define LOCK_POLL_MS 200
#define LOCK_WAIT_MS (15 * 60 * 1000)

struct applied {
    int version;
    char *name;
    char *checksum;
    char *applied_at;
};

/* One run: the files, a connection, and what the database says. */
struct session {
    const struct migrate_opts *o;
    FILE *out;
    struct migration_set files;
    PGconn *conn;
    struct applied *rows; /* sorted by version */
    size_t nrows;
    char *err;
    size_t errlen;
};

static int fail(struct session *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct session *s, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, s->errlen, fmt, ap);
    va_end(ap);
    /* libpq messages end in a newline; the caller logs one line. */
    size_t n = strlen(s->err);
    while (n > 0 && (s->err[n - 1] == '\n' || s->err[n - 1] == ' ')) s->err[--n] = '\0';
    return code;
}

static void
on_notice(void *arg, const char *message) {
    (void)arg;
    log_debug("msg=\"postgres notice\" detail=%s", log_q(message));
}

/* exec_sql runs sql (one or more statements, no parameters) and tells
 * whether it succeeded; on failure the server's message goes into s->err. */
static int
exec_sql(struct session *s, const char *sql, const char *what) {
    PGresult *r = PQexec(s->conn, sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
        const char *msg = PQresultErrorMessage(r);
        if (!*msg)
            msg = st == PGRES_COPY_IN || st == PGRES_COPY_OUT
                      ? "COPY is not supported in migrations"
                      : PQerrorMessage(s->conn);
        rc = fail(s, MIGRATE_EFAILED, "%s: %s", what, msg);
    }
    PQclear(r);
    return rc;
}

static int
exec_params(struct session *s, const char *sql, int n, const char *const *params,
            const char *what) {
    PGresult *r = PQexecParams(s->conn, sql, n, NULL, params, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = fail(s, MIGRATE_EFAILED, "%s: %s", what, PQresultErrorMessage(r));
    PQclear(r);
    return rc;
}

static void
session_end(struct session *s) {
    for (size_t i = 0; i < s->nrows; i++) {
        free(s->rows[i].name);
        free(s->rows[i].checksum);
        free(s->rows[i].applied_at);
    }
    free(s->rows);
    if (s->conn) PQfinish(s->conn); /* also releases the advisory lock */
    migfile_set_free(&s->files);
    s->rows = NULL;
    s->nrows = 0;
    s->conn = NULL;
}

static int
read_applied(struct session *s) {
    PGresult *r = PQexec(s->conn, "SELECT to_regclass('schema_migrations') IS NOT NULL");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int rc = fail(s, MIGRATE_EFAILED, "reading schema_migrations: %s", PQresultErrorMessage(r));
        PQclear(r);
        return rc;
    }
    bool exists = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    if (!exists) return 0;
    r = PQexec(s->conn, "SELECT version, name, checksum, "
                        "to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
                        "FROM schema_migrations ORDER BY version");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int rc = fail(s, MIGRATE_EFAILED, "reading schema_migrations: %s", PQresultErrorMessage(r));
        PQclear(r);
        return rc;
    }
    s->nrows = (size_t)PQntuples(r);
    s->rows = xcalloc(s->nrows ? s->nrows : 1, sizeof *s->rows);
    for (size_t i = 0; i < s->nrows; i++) {
        s->rows[i].version = atoi(PQgetvalue(r, (int)i, 0));
        s->rows[i].name = xstrdup(PQgetvalue(r, (int)i, 1));
        s->rows[i].checksum = xstrdup(PQgetvalue(r, (int)i, 2));
        s->rows[i].applied_at = xstrdup(PQgetvalue(r, (int)i, 3));
    }
    PQclear(r);
    return 0;
}

/* take_lock takes the advisory lock, polling rather than blocking: a
 * session blocked in pg_advisory_lock sits in a transaction, and the
 * running migration's CREATE INDEX CONCURRENTLY would wait for that
 * transaction to end, a deadlock. */
static int
take_lock(struct session *s) {
    uint64_t start = uv_hrtime();
    for (bool logged = false;; logged = true) {
        PGresult *r = PQexec(s->conn, "SELECT pg_try_advisory_lock(" LOCK_KEY ")");
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            int rc =
                fail(s, MIGRATE_EFAILED, "taking the migration lock: %s", PQresultErrorMessage(r));
            PQclear(r);
            return rc;
        }
        bool got = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
        PQclear(r);
        if (got) return 0;
        if ((uv_hrtime() - start) / 1000000 > LOCK_WAIT_MS)
            return fail(s, MIGRATE_EFAILED,
                        "another migrate run has held the migration lock for %d minutes",
                        LOCK_WAIT_MS / 60000);
        if (!logged) log_info("msg=\"waiting for another migrate run to finish\"");
        uv_sleep(LOCK_POLL_MS);
    }
}

/* session_begin loads the files, connects and reads the applied versions.
 * A writer (upgrade, downgrade) first takes the advisory lock and, unless
 * this is a dry run, creates the bookkeeping table. */
static int
session_begin(struct session *s, const struct migrate_opts *o, bool writer, char *err,
              size_t errlen) {
    memset(s, 0, sizeof *s);
    s->o = o;
    s->out = o->out ? o->out : stdout;
    s->err = err;
    s->errlen = errlen;
    int rc = migfile_load(o->dir, &s->files, err, errlen);
    if (rc < 0) return rc;

    const char *keys[] = {"dbname", "application_name", "connect_timeout", NULL};
    const char *values[] = {o->database_url, "wordcount-migrate", "10", NULL};
    s->conn = PQconnectdbParams(keys, values, 1);
    if (!s->conn || PQstatus(s->conn) != CONNECTION_OK) {
        rc = fail(s, MIGRATE_EUNAVAIL, "cannot connect to the database: %s",
                  s->conn ? PQerrorMessage(s->conn) : "out of memory");
        goto fail;
    }
    PQsetNoticeProcessor(s->conn, on_notice, NULL);
    if (writer && (rc = take_lock(s)) < 0) goto fail;
    if (writer) {
        if (!o->dry_run && (rc = exec_sql(s,
                                          "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                          " version integer PRIMARY KEY CHECK (version > 0),"
                                          " name text NOT NULL,"
                                          " checksum text NOT NULL,"
                                          " applied_at timestamptz NOT NULL DEFAULT now())",
                                          "creating schema_migrations")) < 0)
            goto fail;
    }
    if ((rc = read_applied(s)) < 0) goto fail;
    return 0;
fail:
    session_end(s);
    return rc;
}

static const struct applied *
applied_find(const struct session *s, int version) {
    for (size_t i = 0; i < s->nrows; i++)
        if (s->rows[i].version == version) return &s->rows[i];
    return NULL;
}

static int
current_version(const struct session *s) {
    return s->nrows ? s->rows[s->nrows - 1].version : 0;
}

/* verify enforces the rules on applied migrations before anything runs:
 * every applied version has its files, and each up file is unchanged (or
 * accepted: the new checksum is recorded). */
static int
verify(struct session *s) {
    for (size_t i = 0; i < s->nrows; i++) {
        const struct applied *a = &s->rows[i];
        const struct migration *m = migfile_find(&s->files, a->version);
        if (!m)
            return fail(s, MIGRATE_EFILES,
                        "the database has migration %04d (%s) but %s has no such file: it was "
                        "applied by another build; run that build's migrate",
                        a->version, a->name, s->files.dir);
        if (strcmp(a->checksum, m->checksum) == 0) continue;
        if (!s->o->accept_edited)
            return fail(s, MIGRATE_EFILES,
                        "%s/%s was edited after it was applied on %s (checksum %.12s, file %.12s): "
                        "restore it and put the change in a new migration, or pass --accept-edited",
                        s->files.dir, m->up_file, a->applied_at, a->checksum, m->checksum);
        log_warn("msg=\"accepting edited migration\" file=%s", log_q(m->up_file));
        if (s->o->dry_run) continue;
        char v[16];
        snprintf(v, sizeof v, "%d", a->version);
        const char *params[] = {v, m->checksum};
        int rc = exec_params(s, "UPDATE schema_migrations SET checksum = $2 WHERE version = $1", 2,
                             params, "recording the new checksum");
        if (rc < 0) return rc;
    }
    return 0;
}

/* run_no_tx sends a no-transaction script statement by statement. */
static int
run_no_tx(struct session *s, const char *sql, const char *file) {
    size_t pos = 0, start, len;
    int n = 0;
    while (sqlsplit_next(sql, &pos, &start, &len)) {
        n++;
        char *stmt = xstrndup(sql + start, len);
        char what[256];
        snprintf(what, sizeof what,
                 "%s (statement %d, run without a transaction: earlier statements stay applied)",
                 file, n);
        int rc = exec_sql(s, stmt, what);
        free(stmt);
        if (rc < 0) return rc;
    }
    return 0;
}

/* apply runs one migration up or down with its bookkeeping. */
static int
apply(struct session *s, const struct migration *m, bool up) {
    const char *file = up ? m->up_file : m->down_file;
    const char *sql = up ? m->up_sql : m->down_sql;
    bool no_tx = up ? m->up_no_tx : m->down_no_tx;
    char v[16];
    snprintf(v, sizeof v, "%d", m->version);
    if (s->o->dry_run) {
        fprintf(s->out, "-- %s%s\n%s%s", file, no_tx ? " (no transaction)" : "", sql,
                *sql && sql[strlen(sql) - 1] != '\n' ? "\n" : "");
        if (up)
            fprintf(s->out,
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%d, '%s', "
                    "'%s');\n\n",
                    m->version, m->name, m->checksum);
        else fprintf(s->out, "DELETE FROM schema_migrations WHERE version = %d;\n\n", m->version);
        return 0;
    }
    uint64_t t0 = uv_hrtime();
    const char *params[] = {v, m->name, m->checksum};
    const char *book =
        up ? "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)"
           : "DELETE FROM schema_migrations WHERE version = $1";
    int rc;
    if (no_tx) {
        if ((rc = run_no_tx(s, sql, file)) < 0) return rc;
        if ((rc = exec_params(s, book, up ? 3 : 1, params, file)) < 0) return rc;
    } else {
        if ((rc = exec_sql(s, "BEGIN", file)) < 0) return rc;
        rc = exec_sql(s, sql, file);
        if (rc == 0) rc = exec_params(s, book, up ? 3 : 1, params, file);
        if (rc == 0) rc = exec_sql(s, "COMMIT", file);
        if (rc < 0) {
            /* Keep the first error; the rollback only tidies the session. */
            PQclear(PQexec(s->conn, "ROLLBACK"));
            size_t n = strlen(s->err);
            snprintf(s->err + n, s->errlen - n, " (rolled back)");
            return rc;
        }
    }
    log_info("msg=%s version=%d name=%s ms=%llu", up ? "applied" : "reverted", m->version, m->name,
             (unsigned long long)((uv_hrtime() - t0) / 1000000));
    return 0;
}

/* parse_version accepts a decimal version ("3", "0003"). */
static int
parse_version(const char *s, int *out) {
    if (!s || !*s) return -1;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < 0 || v > 9999 || s[0] == '-' || s[0] == '+') return -1;
    *out = (int)v;
    return 0;
}

int
migrate_upgrade(const struct migrate_opts *o, const char *target, char *err, size_t errlen) {
    struct session s;
    int rc = session_begin(&s, o, true, err, errlen);
    if (rc < 0) return rc;
    int to = (int)s.files.n;
    if (target && strcmp(target, "head") != 0 && parse_version(target, &to) < 0) {
        rc = fail(&s, MIGRATE_EUSAGE, "invalid upgrade target \"%s\": expected a version or head",
                  target);
        goto done;
    }
    if (to > (int)s.files.n) {
        rc = fail(&s, MIGRATE_EUSAGE, "no migration %04d in %s (newest is %04zu)", to, s.files.dir,
                  s.files.n);
        goto done;
    }
    if ((rc = verify(&s)) < 0) goto done;
    if (to < current_version(&s)) {
        rc =
            fail(&s, MIGRATE_EUSAGE, "target %04d is below the current version %04d: use downgrade",
                 to, current_version(&s));
        goto done;
    }
    int done_n = 0;
    for (int v = 1; v <= to && rc == 0; v++) {
        if (applied_find(&s, v)) continue;
        rc = apply(&s, migfile_find(&s.files, v), true);
        if (rc == 0) done_n++;
    }
    if (rc == 0 && !o->dry_run)
        log_info("msg=\"database is up to date\" version=%d applied=%d", to, done_n);
done:
    session_end(&s);
    return rc;
}

int
migrate_downgrade(const struct migrate_opts *o, const char *target, char *err, size_t errlen) {
    struct session s;
    int rc = session_begin(&s, o, true, err, errlen);
    if (rc < 0) return rc;
    int cur = current_version(&s), to;
    if (!target) {
        rc = fail(&s, MIGRATE_EUSAGE, "downgrade needs a target: a version, -1 or base");
        goto done;
    }
    if (strcmp(target, "base") == 0) to = 0;
    else if (strcmp(target, "-1") == 0) to = cur > 0 ? cur - 1 : 0;
    else if (parse_version(target, &to) < 0) {
        rc = fail(&s, MIGRATE_EUSAGE,
                  "invalid downgrade target \"%s\": expected a version, -1 or base", target);
        goto done;
    }
    if (to > cur) {
        rc = fail(&s, MIGRATE_EUSAGE, "target %04d is above the current version %04d: use upgrade",
                  to, cur);
        goto done;
    }
    if ((rc = verify(&s)) < 0) goto done;
    for (size_t i = s.nrows; i-- > 0 && rc == 0;) {
        if (s.rows[i].version <= to) break;
        rc = apply(&s, migfile_find(&s.files, s.rows[i].version), false);
    }
    if (rc == 0 && !o->dry_run) log_info("msg=\"database downgraded\" version=%d", to);
done:
    session_end(&s);
    return rc;
}

int
migrate_current(const struct migrate_opts *o, int *version, char *err, size_t errlen) {
    struct session s;
    int rc = session_begin(&s, o, false, err, errlen);
    if (rc < 0) return rc;
    int cur = current_version(&s);
    size_t pending = 0;
    for (size_t i = 0; i < s.files.n; i++)
        if (!applied_find(&s, s.files.items[i].version)) pending++;
    if (cur == 0) fprintf(s.out, "base");
    else fprintf(s.out, "%04d %s", cur, s.rows[s.nrows - 1].name);
    if (cur > (int)s.files.n) fprintf(s.out, " (not in %s)\n", s.files.dir);
    else if (pending) fprintf(s.out, " (%zu pending)\n", pending);
    else fprintf(s.out, " (head)\n");
    if (version) *version = cur;
    session_end(&s);
    return 0;
}

/* report prints one line per migration and returns how many problems
 * (pending, edited, unknown) it saw. */
static int
report(struct session *s, bool all) {
    int problems = 0;
    size_t fi = 0, ai = 0;
    while (fi < s->files.n || ai < s->nrows) {
        const struct migration *m = fi < s->files.n ? &s->files.items[fi] : NULL;
        const struct applied *a = ai < s->nrows ? &s->rows[ai] : NULL;
        if (m && a && m->version == a->version) {
            bool edited = strcmp(m->checksum, a->checksum) != 0;
            if (all || edited)
                fprintf(s->out, "%04d  %-32s applied  %s%s\n", m->version, m->name, a->applied_at,
                        edited ? "  EDITED since applied" : "");
            problems += edited;
            fi++, ai++;
        } else if (m && (!a || m->version < a->version)) {
            fprintf(s->out, "%04d  %-32s pending\n", m->version, m->name);
            problems++;
            fi++;
        } else {
            fprintf(s->out, "%04d  %-32s applied  %s  NOT IN %s\n", a->version, a->name,
                    a->applied_at, s->files.dir);
            problems++;
            ai++;
        }
    }
    return problems;
}

int
migrate_history(const struct migrate_opts *o, char *err, size_t errlen) {
    struct session s;
    int rc = session_begin(&s, o, false, err, errlen);
    if (rc < 0) return rc;
    if (s.files.n == 0 && s.nrows == 0) fprintf(s.out, "no migrations in %s\n", s.files.dir);
    report(&s, true);
    session_end(&s);
    return 0;
}

int
migrate_check(const struct migrate_opts *o, char *err, size_t errlen) {
    struct session s;
    int rc = session_begin(&s, o, false, err, errlen);
    if (rc < 0) return rc;
    int problems = report(&s, false);
    if (problems) {
        rc = fail(&s, MIGRATE_ECHECK, "%d migration%s pending, edited or unknown to %s", problems,
                  problems == 1 ? " is" : "s are", s.files.dir);
    } else {
        int cur = current_version(&s);
        fprintf(s.out, "ok: database at %04d, nothing pending\n", cur);
    }
    session_end(&s);
    return rc;
}

const char *
migrate_strerror(int code) {
    switch (code) {
    case 0:
        return "ok";
    case MIGRATE_ECHECK:
        return "check failed";
    case MIGRATE_EUSAGE:
        return "usage error";
    case MIGRATE_EFILES:
        return "bad migration files";
    case MIGRATE_EUNAVAIL:
        return "database unavailable";
    case MIGRATE_EFAILED:
        return "migration failed";
    default:
        return "unknown error";
    }
}

int
migrate_exit_code(int code) {
    return code < 0 ? -code : 0;
}
