/* migrate on a real Postgres: a fresh database per test (testdb), a
 * folder of small migrations written by the test, and the module's
 * functions called directly; the binary is run for exit codes and for two
 * deploys at once. */
#include <criterion/criterion.h>

#include "common/digest.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "migrations/migfile.h"
#include "migrations/migrate.h"
#include "tests/lib/proc.h"
#include "tests/lib/testdb.h"
#include "tests/lib/testenv.h"

static char db_url[512], db_name[128];
static char dir[64];
static char err[2048];
static char *out_text;
static size_t out_len;
static FILE *out;
static struct migrate_opts o;

static void
put(const char *file, const char *text) {
    char *p = xasprintf("%s/%s", dir, file);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f, "cannot write %s", p);
    fputs(text, f);
    fclose(f);
    free(p);
}

static void
drop_file(const char *file) {
    char *p = xasprintf("%s/%s", dir, file);
    cr_assert_eq(unlink(p), 0, "cannot remove %s", p);
    free(p);
}

static void
setup(void) {
    testdb_create(db_url, sizeof db_url, db_name, sizeof db_name);
    snprintf(dir, sizeof dir, "/tmp/wc-migrate-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    put("0001_a.up.sql", "CREATE TABLE a (x int PRIMARY KEY);\n");
    put("0001_a.down.sql", "DROP TABLE a;\n");
    put("0002_b.up.sql", "CREATE TABLE b (y text);\nINSERT INTO a VALUES (1);\n");
    put("0002_b.down.sql", "DELETE FROM a WHERE x = 1;\nDROP TABLE b;\n");
    put("0003_idx.up.sql", "-- migrate:no-transaction\n"
                           "CREATE INDEX CONCURRENTLY b_y_idx ON b (y);\n"
                           "CREATE INDEX CONCURRENTLY a_x_idx ON a (x);\n");
    put("0003_idx.down.sql", "-- migrate:no-transaction\n"
                             "DROP INDEX CONCURRENTLY a_x_idx;\n"
                             "DROP INDEX CONCURRENTLY b_y_idx;\n");
    out = open_memstream(&out_text, &out_len);
    o = (struct migrate_opts){.database_url = db_url, .dir = dir, .out = out};
    err[0] = '\0';
}

static void
teardown(void) {
    fclose(out);
    free(out_text);
    testdb_drop(db_name);
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (e->d_name[0] != '.') {
                char *p = xasprintf("%s/%s", dir, e->d_name);
                unlink(p);
                free(p);
            }
        closedir(d);
        rmdir(dir);
    }
}

TestSuite(migrate, .init = setup, .fini = teardown, .timeout = 60);

/* output returns what the module printed since the last call (valid until
 * the next call; assign it before asserting, the macros evaluate twice). */
static const char *
output(void) {
    static char *last;
    fclose(out);
    free(last);
    last = out_text ? out_text : xstrdup("");
    out_text = NULL;
    out = open_memstream(&out_text, &out_len);
    o.out = out;
    return last;
}

/* slurp returns a file's text (caller frees; "" when unreadable). */
static char *
slurp(const char *path) {
    char *text = xcalloc(1, 65536);
    FILE *f = fopen(path, "r");
    if (f) {
        size_t got = fread(text, 1, 65535, f);
        text[got] = '\0';
        fclose(f);
    }
    return text;
}

/* q runs sql on the test database and returns the first value ("" for no rows). */
static char *
q(const char *sql) {
    char *v = testdb_query_value(db_url, sql);
    cr_assert_not_null(v, "query failed: %s", sql);
    return v;
}

static void
assert_q(const char *sql, const char *want) {
    testdb_assert_value(db_url, sql, want);
}

static int
current(void) {
    int v = -1;
    cr_assert_eq(migrate_current(&o, &v, err, sizeof err), 0, "%s", err);
    output();
    return v;
}

Test(migrate, upgrade_from_empty_to_newest) {
    cr_assert_eq(current(), 0);
    cr_assert_eq(migrate_upgrade(&o, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(current(), 3);
    assert_q(
        "SELECT string_agg(version || ':' || name, ',' ORDER BY version) FROM schema_migrations",
        "1:a,2:b,3:idx");
    assert_q("SELECT count(*) FROM a WHERE x = 1", "1");
    assert_q("SELECT count(*) FROM pg_indexes WHERE indexname IN ('a_x_idx', 'b_y_idx')", "2");
    /* The recorded checksum is the up file's SHA-256. */
    char hex[65], *sum = q("SELECT checksum FROM schema_migrations WHERE version = 2");
    const char *up2 = "CREATE TABLE b (y text);\nINSERT INTO a VALUES (1);\n";
    sha256_hex(up2, strlen(up2), hex);
    cr_assert_str_eq(sum, hex);
    free(sum);
    /* A second run has nothing to do. */
    cr_assert_eq(migrate_upgrade(&o, NULL, err, sizeof err), 0, "%s", err);
    assert_q("SELECT count(*) FROM schema_migrations", "3");
    cr_assert_eq(migrate_current(&o, NULL, err, sizeof err), 0);
    const char *text = output();
    cr_assert_str_eq(text, "0003 idx (head)\n");
}

Test(migrate, upgrade_targets) {
    cr_assert_eq(migrate_upgrade(&o, "2", err, sizeof err), 0, "%s", err);
    cr_assert_eq(current(), 2);
    assert_q("SELECT to_regclass('a_x_idx') IS NULL", "t");
    cr_assert_eq(migrate_current(&o, NULL, err, sizeof err), 0);
    const char *text = output();
    cr_assert_str_eq(text, "0002 b (1 pending)\n");
    cr_assert_eq(migrate_upgrade(&o, "1", err, sizeof err), MIGRATE_EUSAGE);
    cr_assert_not_null(strstr(err, "use downgrade"), "%s", err);
    cr_assert_eq(migrate_upgrade(&o, "4", err, sizeof err), MIGRATE_EUSAGE);
    cr_assert_not_null(strstr(err, "no migration 0004"), "%s", err);
    cr_assert_eq(migrate_upgrade(&o, "two", err, sizeof err), MIGRATE_EUSAGE);
    cr_assert_eq(migrate_upgrade(&o, "-1", err, sizeof err), MIGRATE_EUSAGE);
    cr_assert_eq(current(), 2);
    cr_assert_eq(migrate_upgrade(&o, "head", err, sizeof err), 0, "%s", err);
    cr_assert_eq(current(), 3);
}

Test(migrate, downgrade_targets) {
    cr_assert_eq(migrate_upgrade(&o, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(migrate_downgrade(&o, "-1", err, sizeof err), 0, "%s", err);
    cr_assert_eq(current(), 2);
    assert_q("SELECT count(*) FROM pg_indexes WHERE indexname IN ('a_x_idx', 'b_y_idx')", "0");
    cr_assert_eq(migrate_downgrade(&o, "3", err, sizeof err), MIGRATE_EUSAGE);
    cr_assert_not_null(strstr(err, "use upgrade"), "%s", err);
    cr_assert_eq(migrate_downgrade(&o, NULL, err, sizeof err), MIGRATE_EUSAGE);
    cr_assert_eq(migrate_downgrade(&o, "last", err, sizeof err), MIGRATE_EUSAGE);
    cr_assert_eq(migrate_downgrade(&o, "1", err, sizeof err), 0, "%s", err);
    cr_assert_eq(current(), 1);
    assert_q("SELECT to_regclass('b') IS NULL", "t");
    assert_q("SELECT count(*) FROM a", "0");
    cr_assert_eq(migrate_downgrade(&o, "base", err, sizeof err), 0, "%s", err);
    cr_assert_eq(current(), 0);
    assert_q("SELECT to_regclass('a') IS NULL", "t");
    assert_q("SELECT count(*) FROM schema_migrations", "0");
    /* At base, one more step down is nothing to do. */
    cr_assert_eq(migrate_downgrade(&o, "-1", err, sizeof err), 0, "%s", err);
    cr_assert_eq(current(), 0);
}

/* schema_dump returns pg_dump --schema-only of the test database. */
static char *
schema_dump(void) {
    char *cmd = xasprintf("pg_dump --schema-only --no-owner '%s' 2>&1", db_url);
    FILE *p = popen(cmd, "r");
    free(cmd);
    cr_assert_not_null(p);
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    char chunk[4096];
    /* Recent pg_dump brackets the dump with restrict/unrestrict lines holding a random key. */
    while (fgets(chunk, sizeof chunk, p))
        if (strncmp(chunk, "\\restrict ", 10) != 0 && strncmp(chunk, "\\unrestrict ", 12) != 0)
            fputs(chunk, m);
    int st = pclose(p);
    fclose(m);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "pg_dump failed: %s", text);
    return text;
}

static void
round_trip(void) {
    cr_assert_eq(migrate_upgrade(&o, NULL, err, sizeof err), 0, "%s", err);
    char *first = schema_dump();
    cr_assert_eq(migrate_downgrade(&o, "base", err, sizeof err), 0, "%s", err);
    char *base = schema_dump();
    cr_assert_eq(migrate_upgrade(&o, NULL, err, sizeof err), 0, "%s", err);
    char *second = schema_dump();
    cr_assert_str_neq(first, base, "downgrade to base changed nothing");
    cr_assert_str_eq(first, second, "schema differs after downgrade + upgrade");
    free(first);
    free(base);
    free(second);
}

Test(migrate, downgrade_base_then_upgrade_gives_the_same_schema) {
    round_trip();
}

Test(migrate, project_migrations_round_trip) {
    char *real = xasprintf("%s/migrations", testenv_srcdir());
    o.dir = real;
    round_trip();
    assert_q("SELECT to_regclass('results') IS NOT NULL", "t");
    cr_assert_eq(migrate_check(&o, err, sizeof err), 0, "%s", err);
    free(real);
}

Test(migrate, failing_migration_leaves_the_database_as_it_was) {
    put("0002_b.up.sql", "CREATE TABLE b (y text);\nINSERT INTO a VALUES (1);\nSELECT 1/0;\n");
    cr_assert_eq(migrate_upgrade(&o, NULL, err, sizeof err), MIGRATE_EFAILED);
    cr_assert_not_null(strstr(err, "0002_b.up.sql"), "%s", err);
    cr_assert_not_null(strstr(err, "division by zero"), "%s", err);
    cr_assert_not_null(strstr(err, "rolled back"), "%s", err);
    cr_assert_eq(current(), 1);
    assert_q("SELECT to_regclass('b') IS NULL", "t");
    assert_q("SELECT count(*) FROM a", "0");
    /* Fixed, it applies. */
    put("0002_b.up.sql", "CREATE TABLE b (y text);\nINSERT INTO a VALUES (1);\n");
    cr_assert_eq(migrate_upgrade(&o, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(current(), 3);
}

Test(migrate, failing_down_migration_is_rolled_back) {
    cr_assert_eq(migrate_upgrade(&o, "2", err, sizeof err), 0, "%s", err);
    put("0002_b.down.sql", "DELETE FROM a WHERE x = 1;\nDROP TABLE no_such_table;\n");
    cr_assert_eq(migrate_downgrade(&o, "base", err, sizeof err), MIGRATE_EFAILED);
    cr_assert_not_null(strstr(err, "0002_b.down.sql"), "%s", err);
    cr_assert_eq(current(), 2);
    assert_q("SELECT count(*) FROM a", "1");
}

Test(migrate, no_transaction_failure_names_the_statement) {
    put("0003_idx.up.sql", "-- migrate:no-transaction\n"
                           "CREATE INDEX CONCURRENTLY b_y_idx ON b (y);\n"
                           "CREATE INDEX CONCURRENTLY a_x_idx ON no_such_table (x);\n");
    cr_assert_eq(migrate_upgrade(&o, NULL, err, sizeof err), MIGRATE_EFAILED);
    cr_assert_not_null(strstr(err, "0003_idx.up.sql (statement 2"), "%s", err);
    /* Without a transaction the first statement stays; the version is not recorded. */
    cr_assert_eq(current(), 2);
    assert_q("SELECT count(*) FROM pg_indexes WHERE indexname = 'b_y_idx'", "1");
}

Test(migrate, edited_applied_file_is_detected) {
    cr_assert_eq(migrate_upgrade(&o, NULL, err, sizeof err), 0, "%s", err);
    put("0001_a.up.sql", "CREATE TABLE a (x bigint PRIMARY KEY);\n");
    cr_assert_eq(migrate_upgrade(&o, NULL, err, sizeof err), MIGRATE_EFILES);
    cr_assert_not_null(strstr(err, "0001_a.up.sql was edited"), "%s", err);
    cr_assert_eq(migrate_downgrade(&o, "base", err, sizeof err), MIGRATE_EFILES);
    cr_assert_eq(current(), 3);
    cr_assert_eq(migrate_check(&o, err, sizeof err), MIGRATE_ECHECK);
    const char *text = output();
    cr_assert_not_null(strstr(text, "0001  a"), "check output names the edited migration: %s",
                       text);
    cr_assert_eq(migrate_history(&o, err, sizeof err), 0, "%s", err);
    text = output();
    cr_assert_not_null(strstr(text, "EDITED"), "%s", text);
    /* Accepting records the new checksum; the database is not changed. */
    o.accept_edited = true;
    cr_assert_eq(migrate_upgrade(&o, NULL, err, sizeof err), 0, "%s", err);
    o.accept_edited = false;
    cr_assert_eq(migrate_check(&o, err, sizeof err), 0, "%s", err);
    assert_q("SELECT data_type FROM information_schema.columns WHERE table_name = 'a'", "integer");
}

Test(migrate, versions_unknown_to_the_files_are_refused) {
    cr_assert_eq(migrate_upgrade(&o, NULL, err, sizeof err), 0, "%s", err);
    drop_file("0003_idx.up.sql");
    drop_file("0003_idx.down.sql");
    cr_assert_eq(migrate_upgrade(&o, NULL, err, sizeof err), MIGRATE_EFILES);
    cr_assert_not_null(strstr(err, "migration 0003 (idx)"), "%s", err);
    cr_assert_eq(migrate_downgrade(&o, "base", err, sizeof err), MIGRATE_EFILES);
    cr_assert_eq(migrate_check(&o, err, sizeof err), MIGRATE_ECHECK);
    const char *text = output();
    cr_assert_not_null(strstr(text, "0003  idx"), "check output names the unknown version: %s",
                       text);
    cr_assert_eq(migrate_current(&o, NULL, err, sizeof err), 0, "%s", err);
    text = output();
    cr_assert_not_null(strstr(text, "0003 idx (not in"), "%s", text);
}

Test(migrate, check_in_each_state) {
    cr_assert_eq(migrate_check(&o, err, sizeof err), MIGRATE_ECHECK);
    const char *text = output();
    cr_assert_not_null(strstr(text, "0001  a"), "%s", text);
    cr_assert_not_null(strstr(text, "0003  idx"), "%s", text);
    cr_assert_not_null(strstr(err, "3 migrations"), "%s", err);
    /* check never creates the bookkeeping table. */
    assert_q("SELECT to_regclass('schema_migrations') IS NULL", "t");

    cr_assert_eq(migrate_upgrade(&o, "2", err, sizeof err), 0, "%s", err);
    cr_assert_eq(migrate_check(&o, err, sizeof err), MIGRATE_ECHECK);
    text = output();
    cr_assert_null(strstr(text, "0001  a"), "%s", text);
    cr_assert_not_null(strstr(text, "0003  idx                              pending"), "%s", text);

    cr_assert_eq(migrate_upgrade(&o, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(migrate_check(&o, err, sizeof err), 0, "%s", err);
    text = output();
    cr_assert_str_eq(text, "ok: database at 0003, nothing pending\n");
}

Test(migrate, history_lists_applied_and_pending) {
    cr_assert_eq(migrate_upgrade(&o, "2", err, sizeof err), 0, "%s", err);
    cr_assert_eq(migrate_history(&o, err, sizeof err), 0, "%s", err);
    const char *text = output();
    cr_assert(strncmp(text, "0001  a", 7) == 0, "%s", text);
    cr_assert_not_null(strstr(text, "0002  b                                applied  20"), "%s",
                       text);
    cr_assert_not_null(strstr(text, "0003  idx                              pending\n"), "%s",
                       text);
}

Test(migrate, dry_run_prints_and_changes_nothing) {
    o.dry_run = true;
    cr_assert_eq(migrate_upgrade(&o, NULL, err, sizeof err), 0, "%s", err);
    const char *text = output();
    cr_assert_not_null(strstr(text, "-- 0001_a.up.sql\nCREATE TABLE a"), "%s", text);
    cr_assert_not_null(strstr(text, "-- 0003_idx.up.sql (no transaction)"), "%s", text);
    cr_assert_not_null(strstr(text, "INSERT INTO schema_migrations"), "%s", text);
    assert_q("SELECT to_regclass('schema_migrations') IS NULL AND to_regclass('a') IS NULL", "t");

    o.dry_run = false;
    cr_assert_eq(migrate_upgrade(&o, NULL, err, sizeof err), 0, "%s", err);
    o.dry_run = true;
    cr_assert_eq(migrate_downgrade(&o, "1", err, sizeof err), 0, "%s", err);
    text = output();
    cr_assert_not_null(strstr(text, "DROP INDEX CONCURRENTLY a_x_idx"), "%s", text);
    cr_assert_not_null(strstr(text, "DROP TABLE b"), "%s", text);
    cr_assert_null(strstr(text, "DROP TABLE a"), "%s", text);
    cr_assert_eq(current(), 3);
}

Test(migrate, unreachable_database) {
    o.database_url = "postgresql://wordcount@127.0.0.1:1/nothing";
    cr_assert_eq(migrate_upgrade(&o, NULL, err, sizeof err), MIGRATE_EUNAVAIL);
    cr_assert_not_null(strstr(err, "cannot connect"), "%s", err);
    cr_assert_eq(migrate_check(&o, err, sizeof err), MIGRATE_EUNAVAIL);
}

Test(migrate, bad_files_stop_before_connecting) {
    put("0005_e.up.sql", "SELECT 1;");
    put("0005_e.down.sql", "SELECT 1;");
    cr_assert_eq(migrate_upgrade(&o, NULL, err, sizeof err), MIGRATE_EFILES);
    cr_assert_not_null(strstr(err, "0004 is missing"), "%s", err);
    assert_q("SELECT to_regclass('schema_migrations') IS NULL", "t");
}

/* run_bin runs wordcount-migrate with args and env; returns its exit code
 * and leaves its output in the returned buffer (caller frees). */
static int
run_bin(const char *const *args, const char *const *env, char **text) {
    const char *argv[16] = {testenv_bin("wordcount-migrate")};
    char bin[4096];
    snprintf(bin, sizeof bin, "%s", argv[0]);
    argv[0] = bin;
    int n = 1;
    for (; args[n - 1]; n++) argv[n] = args[n - 1];
    argv[n] = NULL;
    char *log = xasprintf("%s/run.log", dir);
    unlink(log);
    pid_t pid = proc_start(argv, env, log);
    cr_assert_gt(pid, 0);
    int st = proc_wait_exit(pid, 30000);
    cr_assert(st != -1 && WIFEXITED(st), "wordcount-migrate did not exit");
    *text = slurp(log);
    free(log);
    return WEXITSTATUS(st);
}

Test(migrate, binary_exit_codes) {
    char *url_opt = xasprintf("--database-url=%s", db_url);
    const char *env[] = {"APP_ENV=testing", NULL};
    char *text;
#define RUN(want, ...)                                                                             \
    do {                                                                                           \
        const char *args[] = {__VA_ARGS__, NULL};                                                  \
        int code = run_bin(args, env, &text);                                                      \
        cr_assert_eq(code, want, "exit %d, want %d:\n%s", code, want, text);                       \
        free(text);                                                                                \
    } while (0)
    RUN(1, url_opt, "--dir", dir, "check");
    RUN(0, url_opt, "--dir", dir, "upgrade", "2");
    RUN(1, url_opt, "--dir", dir, "check");
    RUN(0, url_opt, "--dir", dir, "upgrade");
    RUN(0, url_opt, "--dir", dir, "check");
    RUN(0, url_opt, "--dir", dir, "downgrade", "-1");
    RUN(2, url_opt, "--dir", dir, "downgrade");
    RUN(2, url_opt, "--dir", dir, "bogus");
    RUN(2, url_opt, "--dir", dir, "--frobnicate", "current");
    RUN(2, url_opt, "--dir", dir, "upgrade", "99");
    RUN(70, url_opt, "--dir", dir, "partitions"); /* no partitioned results here */
    RUN(2, url_opt, "partitions", "--retention-days", "x");
    RUN(2, url_opt, "partitions", "--retention-days", "-3");
    RUN(2, url_opt, "check", "--retention-days", "3");
    RUN(2, "--dir", dir, "new", "Bad Name");
    RUN(69, "--database-url=postgresql://wordcount@127.0.0.1:1/x", "--dir", dir, "current");
    put("0002_b.down.sql", "SELECT nope;\n");
    RUN(70, url_opt, "--dir", dir, "downgrade", "base");
    RUN(0, "--dir", dir, "new", "add_c");
    RUN(1, url_opt, "--dir", dir, "check");
    put("0009_gap.up.sql", "");
    put("0009_gap.down.sql", "");
    RUN(65, url_opt, "--dir", dir, "check");
    drop_file("0009_gap.up.sql");
    drop_file("0009_gap.down.sql");

    /* The database from the environment, and a bad configuration. */
    char *db_env = xasprintf("DATABASE_URL=%s", db_url);
    char *dir_env = xasprintf("MIGRATIONS_DIR=%s", dir);
    const char *env_ok[] = {"APP_ENV=testing", db_env, dir_env, NULL};
    const char *args[] = {"current", NULL};
    cr_assert_eq(run_bin(args, env_ok, &text), 0, "%s", text);
    cr_assert_not_null(strstr(text, "0002 b (2 pending)"), "%s", text);
    free(text);
    const char *env_bad[] = {"APP_ENV=testing", "DATABASE_URL=mysql://x", dir_env, NULL};
    cr_assert_eq(run_bin(args, env_bad, &text), 78, "%s", text);
    cr_assert_not_null(strstr(text, "DATABASE_URL"), "%s", text);
    free(text);
    free(db_env);
    free(dir_env);
    free(url_opt);
#undef RUN
}

Test(migrate, two_deploys_at_once_apply_each_migration_once) {
    /* A slow first migration makes the runs overlap. Applying it twice
     * would fail (CREATE TABLE without IF NOT EXISTS). */
    put("0001_a.up.sql", "SELECT pg_sleep(0.5);\nCREATE TABLE a (x int PRIMARY KEY);\n");
    char *url_opt = xasprintf("--database-url=%s", db_url);
    const char *argv[] = {testenv_bin("wordcount-migrate"), url_opt, "--dir", dir, "upgrade", NULL};
    char bin[4096];
    snprintf(bin, sizeof bin, "%s", argv[0]);
    argv[0] = bin;
    const char *env[] = {"APP_ENV=testing", NULL};
    char *log1 = xasprintf("%s/one.log", dir), *log2 = xasprintf("%s/two.log", dir);
    pid_t p1 = proc_start(argv, env, log1);
    pid_t p2 = proc_start(argv, env, log2);
    cr_assert(p1 > 0 && p2 > 0);
    int s1 = proc_wait_exit(p1, 30000), s2 = proc_wait_exit(p2, 30000);
    char *t1 = slurp(log1), *t2 = slurp(log2);
    cr_assert(s1 != -1 && WIFEXITED(s1) && WEXITSTATUS(s1) == 0, "first run failed (%d):\n%s", s1,
              t1);
    cr_assert(s2 != -1 && WIFEXITED(s2) && WEXITSTATUS(s2) == 0, "second run failed (%d):\n%s", s2,
              t2);
    assert_q("SELECT count(*) || '/' || count(DISTINCT version) FROM schema_migrations", "3/3");
    /* Each migration was applied by exactly one of the two. */
    int applied = 0;
    const char *texts[] = {t1, t2};
    for (int i = 0; i < 2; i++)
        for (const char *p = texts[i]; (p = strstr(p, "msg=applied ")); p++) applied++;
    cr_assert_eq(applied, 3, "%s\n%s", t1, t2);
    free(t1);
    free(t2);
    free(log1);
    free(log2);
    free(url_opt);
}
