/* cli/fmt: ages and glob escaping. */
#include <criterion/criterion.h>

#include "cli/fmt.h"

Test(fmt, ages) {
    char b[32];
    cr_assert_str_eq(fmt_age(-5, b, sizeof b), "0ms");
    cr_assert_str_eq(fmt_age(850, b, sizeof b), "850ms");
    cr_assert_str_eq(fmt_age(42000, b, sizeof b), "42s");
    cr_assert_str_eq(fmt_age(187000, b, sizeof b), "3m07s");
    cr_assert_str_eq(fmt_age(5 * 3600000 + 120000, b, sizeof b), "5h02m");
    cr_assert_str_eq(fmt_age(3 * 86400000LL + 4 * 3600000, b, sizeof b), "3d04h");
    char tiny[4];
    fmt_age(187000, tiny, sizeof tiny);
    cr_assert_str_eq(tiny, "3m0", "truncated, never overflowing");
}

Test(fmt, glob_escape) {
    char b[64];
    cr_assert_eq(fmt_glob_escape("wc:", b, sizeof b), 0);
    cr_assert_str_eq(b, "wc:");
    cr_assert_eq(fmt_glob_escape("a*b?c[d]e\\", b, sizeof b), 0);
    cr_assert_str_eq(b, "a\\*b\\?c\\[d\\]e\\\\");
    char small[4];
    cr_assert_eq(fmt_glob_escape("abcd", small, sizeof small), -1);
    cr_assert_eq(fmt_glob_escape("ab*", small, sizeof small), -1);
    cr_assert_eq(fmt_glob_escape("abc", small, sizeof small), 0);
}
