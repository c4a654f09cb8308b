/* Query parameters: the one parser every handler's bounded integers go
 * through (web/query.h, used by req_query_long). */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "web/query.h"

/* Parameters are copied into each test process (Criterion re-executes the
 * binary), so they hold arrays, not pointers. */
struct int_case {
    char name[16];
    char query[48];
    long lo, hi;
    int rc;     /* 1 found, 0 absent, -1 refused */
    long value; /* when found */
};

ParameterizedTestParameters(query, bounded_integers) {
    static struct int_case cases[] = {
        /* good */
        {"top", "top=10", 1, 100, 1, 10},
        {"top", "top=1", 1, 100, 1, 1},
        {"top", "top=100", 1, 100, 1, 100},
        {"top", "a=1&top=7&b=2", 1, 100, 1, 7},
        {"top", "top=007", 1, 100, 1, 7},
        {"top", "top=%31%32", 1, 100, 1, 12},
        {"offset", "offset=0", 0, 1000000000L, 1, 0},
        {"n", "n=-5", -10, 10, 1, -5},
        {"top", "top=3&top=200", 1, 100, 1, 3},
        {"cursor", "cursor=9223372036854775807", 1, LONG_MAX, 1, LONG_MAX},
        /* absent */
        {"top", "", 1, 100, 0, 0},
        {"top", "xtop=5", 1, 100, 0, 0},
        {"top", "top", 1, 100, 0, 0},
        {"top", "limit=5", 1, 100, 0, 0},
        /* out of range */
        {"top", "top=0", 1, 100, -1, 0},
        {"top", "top=101", 1, 100, -1, 0},
        {"top", "top=-1", 1, 100, -1, 0},
        {"window", "window=59", 60, 3600, -1, 0},
        {"window", "window=3601", 60, 3600, -1, 0},
        /* garbage */
        {"top", "top=", 1, 100, -1, 0},
        {"top", "top=abc", 1, 100, -1, 0},
        {"top", "top=12abc", 1, 100, -1, 0},
        {"top", "top=1.5", 1, 100, -1, 0},
        {"top", "top=1e2", 1, 100, -1, 0},
        {"top", "top=0x10", 1, 100, -1, 0},
        {"top", "top=+5", 1, 100, -1, 0},
        {"top", "top=%205", 1, 100, -1, 0},
        {"top", "top=5%20", 1, 100, -1, 0},
        {"top", "top=-", 1, 100, -1, 0},
        {"top", "top=--5", -10, 10, -1, 0},
        {"top", "top=5%00", 1, 100, -1, 0},
        /* overflow */
        {"cursor", "cursor=9223372036854775808", 1, LONG_MAX, -1, 0},
        {"cursor", "cursor=99999999999999999999999", 1, LONG_MAX, -1, 0},
        {"n", "n=-9223372036854775809", LONG_MIN, 0, -1, 0},
    };
    return cr_make_param_array(struct int_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct int_case *c, query, bounded_integers) {
    long out = 4242;
    int rc = query_long(c->query, c->name, c->lo, c->hi, &out);
    cr_assert_eq(rc, c->rc, "%s: %d, expected %d", c->query, rc, c->rc);
    if (rc == 1) cr_assert_eq(out, c->value, "%s: %ld", c->query, out);
    else cr_assert_eq(out, 4242, "%s: untouched unless found", c->query);
}

Test(query, no_query_at_all) {
    long out = 1;
    cr_assert_eq(query_long(NULL, "top", 1, 100, &out), 0);
    cr_assert_eq(out, 1);
}

Test(query, form_values_decode) {
    const char *q = "url=http%3A%2F%2Fa.example%2F%3Fq%3Dx+y&z=1";
    char *v = query_get(q, strlen(q), "url");
    cr_assert_str_eq(v, "http://a.example/?q=x y");
    free(v);
    cr_assert_null(query_get("url=a%00b", 9, "url"), "a NUL byte is refused");
    cr_assert_null(query_get("x=1", 3, "url"));
}
