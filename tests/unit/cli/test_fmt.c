/* cli/fmt: ages, durations and sizes. */
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

Test(fmt, durations) {
    char b[32];
    cr_assert_str_eq(fmt_ms(-1, b, sizeof b), "-", "no data");
    cr_assert_str_eq(fmt_ms(0, b, sizeof b), "0 ms");
    cr_assert_str_eq(fmt_ms(12.4, b, sizeof b), "12 ms");
    cr_assert_str_eq(fmt_ms(999.4, b, sizeof b), "999 ms");
    cr_assert_str_eq(fmt_ms(999.6, b, sizeof b), "1.00 s", "rounded into the next unit");
    cr_assert_str_eq(fmt_ms(1250, b, sizeof b), "1.25 s");
    cr_assert_str_eq(fmt_ms(42300, b, sizeof b), "42.3 s");
    cr_assert_str_eq(fmt_ms(59960, b, sizeof b), "1m00s");
    cr_assert_str_eq(fmt_ms(187600, b, sizeof b), "3m08s");
    cr_assert_str_eq(fmt_ms(187000, b, sizeof b), "3m07s");
    cr_assert_str_eq(fmt_ms(1800000, b, sizeof b), "30m00s");
}

Test(fmt, sizes) {
    char b[32];
    cr_assert_str_eq(fmt_bytes(-1, b, sizeof b), "-");
    cr_assert_str_eq(fmt_bytes(0, b, sizeof b), "0 B");
    cr_assert_str_eq(fmt_bytes(512, b, sizeof b), "512 B");
    cr_assert_str_eq(fmt_bytes(1024, b, sizeof b), "1.0 KiB");
    cr_assert_str_eq(fmt_bytes(12595, b, sizeof b), "12.3 KiB");
    cr_assert_str_eq(fmt_bytes(4194304, b, sizeof b), "4.0 MiB");
    cr_assert_str_eq(fmt_bytes(1024.0 * 1024 * 1023.99, b, sizeof b), "1.0 GiB");
    cr_assert_str_eq(fmt_bytes(1288490188.8, b, sizeof b), "1.2 GiB");
}
