#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>

#include "migrations/sqlsplit.h"

/* Each case: a script and its statements joined with "|" (trimmed). Arrays,
 * not pointers: Criterion copies parameters into the test's process. */
struct split_case {
    char sql[128];
    char want[128];
};

static void
split_join(const char *sql, char *out, size_t n) {
    size_t pos = 0, start, len, used = 0;
    out[0] = '\0';
    while (sqlsplit_next(sql, &pos, &start, &len)) {
        while (len > 0 && (sql[start] == ' ' || sql[start] == '\n')) start++, len--;
        while (len > 0 && (sql[start + len - 1] == ' ' || sql[start + len - 1] == '\n')) len--;
        used += (size_t)snprintf(out + used, n - used, "%s%.*s", used ? "|" : "", (int)len,
                                 sql + start);
        cr_assert_lt(used, n);
    }
}

ParameterizedTestParameters(sqlsplit, cases) {
    static struct split_case cases[] = {
        {"", ""},
        {"   \n\t ", ""},
        {";;;", ""},
        {"SELECT 1", "SELECT 1"},
        {"SELECT 1;", "SELECT 1"},
        {"SELECT 1; SELECT 2;", "SELECT 1|SELECT 2"},
        {"SELECT 1;\n-- only a comment\n", "SELECT 1"},
        {"-- c; with semicolon\nSELECT 1;", "-- c; with semicolon\nSELECT 1"},
        {"/* a; /* nested; */ still; */ SELECT 1; SELECT 2",
         "/* a; /* nested; */ still; */ SELECT 1|SELECT 2"},
        {"SELECT 'a;b'; SELECT 2", "SELECT 'a;b'|SELECT 2"},
        {"SELECT 'it''s; fine'; SELECT 2", "SELECT 'it''s; fine'|SELECT 2"},
        {"SELECT E'a\\';b'; SELECT 2", "SELECT E'a\\';b'|SELECT 2"},
        {"SELECT 'a\\'; SELECT 2", "SELECT 'a\\'|SELECT 2"},
        {"SELECT \"odd;name\" FROM t; SELECT 2", "SELECT \"odd;name\" FROM t|SELECT 2"},
        {"CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql; SELECT 2",
         "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql|SELECT 2"},
        {"DO $body$ BEGIN PERFORM 1; $$ inner; END $body$; SELECT 2",
         "DO $body$ BEGIN PERFORM 1; $$ inner; END $body$|SELECT 2"},
        {"PREPARE p AS SELECT $1; SELECT 2", "PREPARE p AS SELECT $1|SELECT 2"},
        {"CREATE INDEX CONCURRENTLY i ON t (x);\nCREATE INDEX CONCURRENTLY j ON t (y);",
         "CREATE INDEX CONCURRENTLY i ON t (x)|CREATE INDEX CONCURRENTLY j ON t (y)"},
        {"SELECT 'unterminated; SELECT 2", "SELECT 'unterminated; SELECT 2"},
        {"SELECT 1 /* unterminated; comment", "SELECT 1 /* unterminated; comment"},
    };
    return cr_make_param_array(struct split_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct split_case *c, sqlsplit, cases) {
    char got[1024];
    split_join(c->sql, got, sizeof got);
    cr_assert_str_eq(got, c->want, "script [%s] gave [%s], want [%s]", c->sql, got, c->want);
}

Test(sqlsplit, positions_cover_the_script) {
    const char *sql = "SELECT 1; SELECT 22;";
    size_t pos = 0, start, len;
    cr_assert(sqlsplit_next(sql, &pos, &start, &len));
    cr_assert_eq(start, 0);
    cr_assert_eq(len, 8);
    cr_assert_eq(pos, 9);
    cr_assert(sqlsplit_next(sql, &pos, &start, &len));
    cr_assert_eq(start, 9);
    cr_assert_eq(len, 10);
    cr_assert_eq(pos, strlen(sql));
    cr_assert_not(sqlsplit_next(sql, &pos, &start, &len));
    cr_assert_eq(pos, strlen(sql));
}
