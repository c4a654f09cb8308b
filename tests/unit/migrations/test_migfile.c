#include <criterion/criterion.h>

#include "common/digest.h"
#include <criterion/parameterized.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "migrations/migfile.h"
#include "migrations/migrate.h"
#include "tests/lib/testenv.h"

static char dir[64];
static char err[1024];

static void
make_dir(void) {
    snprintf(dir, sizeof dir, "/tmp/wc-migfile-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    err[0] = '\0';
}

static void
remove_dir(void) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue; /* not .hidden */
        char *p = xasprintf("%s/%s", dir, e->d_name);
        unlink(p);
        free(p);
    }
    closedir(d);
    rmdir(dir);
}

static void
put(const char *file, const char *text) {
    char *p = xasprintf("%s/%s", dir, file);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f, "cannot write %s", p);
    fputs(text, f);
    fclose(f);
    free(p);
}

static char *
slurp(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char *s = xcalloc(1, 65536);
    size_t n = fread(s, 1, 65535, f);
    s[n] = '\0';
    fclose(f);
    return s;
}

static void
put_pair(int version, const char *name) {
    char f[128];
    snprintf(f, sizeof f, "%04d_%s.up.sql", version, name);
    put(f, "SELECT 1;\n");
    snprintf(f, sizeof f, "%04d_%s.down.sql", version, name);
    put(f, "SELECT 2;\n");
}

TestSuite(migfile, .init = make_dir, .fini = remove_dir);

Test(migfile, sha256_known_vectors) {
    char hex[65];
    cr_assert_eq(sha256_hex("", 0, hex), 0);
    cr_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    cr_assert_eq(sha256_hex("abc", 3, hex), 0);
    cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

Test(migfile, loads_the_source_tree_migrations) {
    char *path = xasprintf("%s/migrations", testenv_srcdir());
    struct migration_set set;
    cr_assert_eq(migfile_load(path, &set, err, sizeof err), 0, "%s", err);
    cr_assert_geq(set.n, 1);
    cr_assert_eq(set.items[0].version, 1);
    cr_assert_str_eq(set.items[0].name, "create_results");
    cr_assert_str_eq(set.items[0].up_file, "0001_create_results.up.sql");
    cr_assert_str_eq(set.items[0].down_file, "0001_create_results.down.sql");
    cr_assert_not_null(strstr(set.items[0].up_sql, "CREATE TABLE results"));
    char hex[65];
    sha256_hex(set.items[0].up_sql, strlen(set.items[0].up_sql), hex);
    cr_assert_str_eq(set.items[0].checksum, hex);
    for (size_t i = 0; i < set.n; i++) cr_assert_eq(set.items[i].version, (int)i + 1);
    cr_assert_eq(migfile_find(&set, 1), &set.items[0]);
    cr_assert_null(migfile_find(&set, 0));
    cr_assert_null(migfile_find(&set, (int)set.n + 1));
    migfile_set_free(&set);
    free(path);
}

Test(migfile, sorts_and_ignores_other_files) {
    put_pair(3, "c");
    put_pair(1, "a");
    put_pair(2, "b");
    put("README.md", "not a migration");
    put(".0004_hidden.up.sql", "SELECT 1;");
    put("notes.txt", "x");
    struct migration_set set;
    cr_assert_eq(migfile_load(dir, &set, err, sizeof err), 0, "%s", err);
    cr_assert_eq(set.n, 3);
    cr_assert_str_eq(set.items[0].name, "a");
    cr_assert_str_eq(set.items[1].name, "b");
    cr_assert_str_eq(set.items[2].name, "c");
    cr_assert_str_eq(set.items[2].down_sql, "SELECT 2;\n");
    migfile_set_free(&set);
}

Test(migfile, empty_folder_has_no_migrations) {
    struct migration_set set;
    cr_assert_eq(migfile_load(dir, &set, err, sizeof err), 0, "%s", err);
    cr_assert_eq(set.n, 0);
    migfile_set_free(&set);
}

Test(migfile, missing_folder_is_an_error) {
    struct migration_set set;
    cr_assert_eq(migfile_load("/nonexistent/wc-migrations", &set, err, sizeof err), MIGRATE_EFILES);
    cr_assert_not_null(strstr(err, "/nonexistent/wc-migrations"), "%s", err);
}

Test(migfile, gap_in_numbering_is_an_error) {
    put_pair(1, "a");
    put_pair(3, "c");
    struct migration_set set;
    cr_assert_eq(migfile_load(dir, &set, err, sizeof err), MIGRATE_EFILES);
    cr_assert_not_null(strstr(err, "0002 is missing"), "%s", err);
}

Test(migfile, numbering_must_start_at_one) {
    put_pair(2, "b");
    struct migration_set set;
    cr_assert_eq(migfile_load(dir, &set, err, sizeof err), MIGRATE_EFILES);
    cr_assert_not_null(strstr(err, "0001 is missing"), "%s", err);
}

Test(migfile, missing_half_of_a_pair_is_an_error) {
    put_pair(1, "a");
    put("0002_b.up.sql", "SELECT 1;");
    struct migration_set set;
    cr_assert_eq(migfile_load(dir, &set, err, sizeof err), MIGRATE_EFILES);
    cr_assert_not_null(strstr(err, "0002_b.down.sql is missing"), "%s", err);
}

Test(migfile, two_names_for_one_version_is_an_error) {
    put_pair(1, "a");
    put("0001_other.up.sql", "SELECT 1;");
    struct migration_set set;
    cr_assert_eq(migfile_load(dir, &set, err, sizeof err), MIGRATE_EFILES);
    cr_assert_not_null(strstr(err, "two migrations numbered 0001"), "%s", err);
}

struct bad_name {
    char file[64];
};

ParameterizedTestParameters(migfile, bad_file_names) {
    static struct bad_name cases[] = {
        {"1_a.up.sql"},       {"00001_a.up.sql"},  {"0001-a.up.sql"},  {"0001_.up.sql"},
        {"0001_A.up.sql"},    {"0001_a b.up.sql"}, {"0001_a.sql"},     {"0001_a.up.down.sql"},
        {"0000_zero.up.sql"}, {"abcd_a.up.sql"},   {"0001_1a.up.sql"}, {"0001_a.UP.sql"},
    };
    return cr_make_param_array(struct bad_name, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct bad_name *c, migfile, bad_file_names) {
    put(c->file, "SELECT 1;");
    struct migration_set set;
    cr_assert_eq(migfile_load(dir, &set, err, sizeof err), MIGRATE_EFILES, "%s was accepted",
                 c->file);
    cr_assert_not_null(strstr(err, c->file), "error does not name %s: %s", c->file, err);
}

Test(migfile, nul_byte_is_rejected) {
    put_pair(1, "a");
    char *p = xasprintf("%s/0002_b.up.sql", dir);
    FILE *f = fopen(p, "w");
    fwrite("SELECT\0 1;", 1, 10, f);
    fclose(f);
    free(p);
    put("0002_b.down.sql", "");
    struct migration_set set;
    cr_assert_eq(migfile_load(dir, &set, err, sizeof err), MIGRATE_EFILES);
    cr_assert_not_null(strstr(err, "NUL"), "%s", err);
}

Test(migfile, no_transaction_marker) {
    cr_assert(migfile_has_no_tx_marker(
        "-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (x);"));
    cr_assert(migfile_has_no_tx_marker("-- migrate:no-transaction  \r\nSELECT 1;"));
    cr_assert(migfile_has_no_tx_marker("-- migrate:no-transaction"));
    cr_assert_not(migfile_has_no_tx_marker("SELECT 1;\n-- migrate:no-transaction\n"));
    cr_assert_not(migfile_has_no_tx_marker(" -- migrate:no-transaction\n"));
    cr_assert_not(migfile_has_no_tx_marker("-- migrate:no-transactions\n"));
    cr_assert_not(migfile_has_no_tx_marker("-- migrate:no-transaction please\n"));
    cr_assert_not(migfile_has_no_tx_marker(""));

    put("0001_a.up.sql", "-- migrate:no-transaction\nSELECT 1;\n");
    put("0001_a.down.sql", "SELECT 1;\n");
    struct migration_set set;
    cr_assert_eq(migfile_load(dir, &set, err, sizeof err), 0, "%s", err);
    cr_assert(set.items[0].up_no_tx);
    cr_assert_not(set.items[0].down_no_tx);
    migfile_set_free(&set);
}

Test(migfile, valid_names) {
    cr_assert(migfile_valid_name("add_index"));
    cr_assert(migfile_valid_name("a"));
    cr_assert(migfile_valid_name("v2_results"));
    cr_assert_not(migfile_valid_name(""));
    cr_assert_not(migfile_valid_name("2fast"));
    cr_assert_not(migfile_valid_name("_x"));
    cr_assert_not(migfile_valid_name("Add"));
    cr_assert_not(migfile_valid_name("add-index"));
    cr_assert_not(migfile_valid_name("a/b"));
    cr_assert_not(migfile_valid_name("../x"));
    char long_name[MIGFILE_NAME_MAX + 2];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    cr_assert_not(migfile_valid_name(long_name));
    long_name[MIGFILE_NAME_MAX] = '\0';
    cr_assert(migfile_valid_name(long_name));
}

Test(migfile, new_writes_the_next_pair) {
    char *up = NULL;
    cr_assert_eq(migfile_new(dir, "first", &up, err, sizeof err), 0, "%s", err);
    char *want = xasprintf("%s/0001_first.up.sql", dir);
    cr_assert_str_eq(up, want);
    free(want);
    free(up);
    put_pair(2, "second");
    cr_assert_eq(migfile_new(dir, "add_index", &up, err, sizeof err), 0, "%s", err);
    want = xasprintf("%s/0003_add_index.up.sql", dir);
    cr_assert_str_eq(up, want);
    char *text = slurp(up);
    cr_assert_not_null(text);
    cr_assert(strncmp(text, "-- 0003 add_index (up).", 23) == 0, "%s", text);
    cr_assert_not(migfile_has_no_tx_marker(text), "a new migration runs in a transaction");
    free(text);
    char *down = xasprintf("%s/0003_add_index.down.sql", dir);
    text = slurp(down);
    cr_assert_not_null(text, "%s was not written", down);
    cr_assert_not_null(strstr(text, "0003 add_index (down)"));
    free(text);
    free(down);
    free(want);
    free(up);

    struct migration_set set;
    cr_assert_eq(migfile_load(dir, &set, err, sizeof err), 0, "%s", err);
    cr_assert_eq(set.n, 3);
    cr_assert_str_eq(set.items[2].name, "add_index");
    migfile_set_free(&set);
}

Test(migfile, new_refuses_bad_names_and_writes_nothing) {
    char *up = NULL;
    cr_assert_eq(migfile_new(dir, "Bad-Name", &up, err, sizeof err), MIGRATE_EUSAGE);
    cr_assert_null(up);
    cr_assert_not_null(strstr(err, "Bad-Name"), "%s", err);
    cr_assert_eq(migfile_new(dir, "../escape", &up, err, sizeof err), MIGRATE_EUSAGE);
    struct migration_set set;
    cr_assert_eq(migfile_load(dir, &set, err, sizeof err), 0, "%s", err);
    cr_assert_eq(set.n, 0);
    migfile_set_free(&set);
}

Test(migfile, new_refuses_a_broken_folder) {
    put_pair(1, "a");
    put_pair(3, "c");
    char *up = NULL;
    cr_assert_eq(migfile_new(dir, "d", &up, err, sizeof err), MIGRATE_EFILES);
    cr_assert_null(up);
}

Test(migfile, new_reports_an_unwritable_folder) {
    if (geteuid() == 0) {
        remove_dir(); /* a skipped test's .fini does not run */
        cr_skip_test("root writes through folder permissions");
    }
    put_pair(1, "a");
    chmod(dir, 0555);
    char *up = NULL;
    int rc = migfile_new(dir, "b", &up, err, sizeof err);
    chmod(dir, 0755);
    cr_assert_eq(rc, MIGRATE_EFILES);
    cr_assert_null(up);
    cr_assert_not_null(strstr(err, "0002_b.up.sql"), "%s", err);
}
