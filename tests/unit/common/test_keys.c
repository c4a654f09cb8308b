#include <criterion/criterion.h>
#include <string.h>

#include "common/keys.h"

Test(keys, every_key_is_under_the_prefix) {
    struct keys k;
    cr_assert_eq(keys_init(&k, "wc:"), 0);
    struct keybuf b;
    cr_assert_str_eq(keys_job(&k, "0192f3a1-7c2e-7abc-8def-0123456789ab", &b),
                     "wc:job:0192f3a1-7c2e-7abc-8def-0123456789ab");
    cr_assert_str_eq(keys_queue(&k, &b), "wc:queue");
    cr_assert_str_eq(keys_retry(&k, &b), "wc:retry");
    cr_assert_str_eq(keys_failed(&k, &b), "wc:failed");
    cr_assert_str_eq(keys_workers(&k, &b), "wc:workers");
    cr_assert_str_eq(keys_stats(&k, &b), "wc:stats");
    cr_assert_str_eq(keys_idem(&k, "abc", &b), "wc:idem:abc");
}

Test(keys, prefixes_keep_deployments_apart) {
    struct keys a, b;
    keys_init(&a, "prod:");
    keys_init(&b, "staging:");
    struct keybuf x, y;
    cr_assert_str_neq(keys_queue(&a, &x), keys_queue(&b, &y));
    cr_assert_eq(strncmp(x.s, "prod:", 5), 0);
}

Test(keys, empty_prefix_is_allowed) {
    struct keys k;
    cr_assert_eq(keys_init(&k, ""), 0);
    struct keybuf b;
    cr_assert_str_eq(keys_stats(&k, &b), "stats");
}

Test(keys, limits) {
    struct keys k;
    char longp[KEYS_PREFIX_MAX + 2];
    memset(longp, 'p', sizeof longp - 1);
    longp[sizeof longp - 1] = '\0';
    cr_assert_eq(keys_init(&k, longp), -1);
    longp[KEYS_PREFIX_MAX] = '\0';
    cr_assert_eq(keys_init(&k, longp), 0);
    char idem[258];
    memset(idem, 'i', 257);
    idem[257] = '\0';
    struct keybuf b;
    cr_assert_null(keys_idem(&k, idem, &b));
    idem[256] = '\0';
    cr_assert_not_null(keys_idem(&k, idem, &b));
    cr_assert_eq(strlen(b.s), KEYS_PREFIX_MAX + 5 + 256);
    cr_assert_null(keys_idem(&k, NULL, &b));
}
