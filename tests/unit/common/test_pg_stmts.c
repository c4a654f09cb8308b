/* pg_stmts: the bookkeeping of a connection's prepared statements. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/pg_stmts.h"

Test(pg_stmts, found_by_text_named_uniquely_and_bounded) {
    struct pg_stmts c = {0};
    cr_assert_eq(pg_stmts_find(&c, "SELECT 1"), -1);
    int a = pg_stmts_add(&c, "SELECT 1");
    cr_assert_geq(a, 0);
    cr_assert_not(pg_stmts_is_ready(&c, a), "not until its Prepare answered");
    pg_stmts_ready(&c, a);
    cr_assert(pg_stmts_is_ready(&c, a));
    cr_assert_eq(pg_stmts_find(&c, "SELECT 1"), a);
    cr_assert_eq(pg_stmts_find(&c, "SELECT 2"), -1, "another text is another statement");
    char name_a[PG_STMTS_NAME_MAX], name_b[PG_STMTS_NAME_MAX];
    pg_stmts_name(&c, a, name_a);
    pg_stmts_forget(&c, a);
    cr_assert_eq(pg_stmts_find(&c, "SELECT 1"), -1);
    int b = pg_stmts_add(&c, "SELECT 1");
    pg_stmts_name(&c, b, name_b);
    cr_assert_str_neq(name_a, name_b, "a name is never given twice on one connection");
    /* Full: further statements run unprepared. */
    for (int i = 1; i < PG_STMTS_MAX; i++) {
        char sql[32];
        snprintf(sql, sizeof sql, "SELECT %d", 100 + i);
        cr_assert_geq(pg_stmts_add(&c, sql), 0, "entry %d", i);
    }
    cr_assert_eq(pg_stmts_add(&c, "SELECT 'one too many'"), -1);
    cr_assert_not(pg_stmts_is_ready(&c, -1));
    cr_assert_not(pg_stmts_is_ready(&c, PG_STMTS_MAX));
    pg_stmts_clear(&c);
    cr_assert_eq(pg_stmts_find(&c, "SELECT 1"), -1, "a new connection has none");
    cr_assert_geq(pg_stmts_add(&c, "SELECT 1"), 0);
    pg_stmts_clear(&c);
}
