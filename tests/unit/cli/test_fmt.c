/* cli/fmt: ages. */
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
