/* redis_scripts: the bookkeeping of the Lua scripts a connection sent. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/redis_scripts.h"

Test(redis_scripts, sha1_is_what_redis_names_a_script_by) {
    char sha[REDIS_SCRIPTS_SHA_LEN + 1];
    /* SHA-1 of "return 1", as `SCRIPT LOAD "return 1"` answers it. */
    cr_assert_eq(redis_scripts_sha1("return 1", 8, sha), 0);
    cr_assert_str_eq(sha, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}

Test(redis_scripts, whole_once_per_connection_then_by_sha) {
    struct redis_scripts c = {0};
    char a[REDIS_SCRIPTS_SHA_LEN + 1], b[REDIS_SCRIPTS_SHA_LEN + 1];
    cr_assert_eq(redis_scripts_sha1("return 1", 8, a), 0);
    cr_assert_eq(redis_scripts_sha1("return 2", 8, b), 0);
    cr_assert_not(redis_scripts_use(&c, a), "first: whole");
    cr_assert(redis_scripts_use(&c, a), "then: by sha");
    cr_assert_not(redis_scripts_use(&c, b), "another script is another");
    redis_scripts_forget_sent(&c);
    cr_assert_not(redis_scripts_use(&c, a), "a new connection: whole again");
    cr_assert(redis_scripts_use(&c, a));
    /* Full: the others always go whole. */
    for (int i = 2; i < REDIS_SCRIPTS_MAX; i++) {
        char text[32], sha[REDIS_SCRIPTS_SHA_LEN + 1];
        snprintf(text, sizeof text, "return %d", 100 + i);
        cr_assert_eq(redis_scripts_sha1(text, strlen(text), sha), 0);
        cr_assert_not(redis_scripts_use(&c, sha));
    }
    char extra[REDIS_SCRIPTS_SHA_LEN + 1];
    cr_assert_eq(redis_scripts_sha1("return 'x'", 10, extra), 0);
    cr_assert_not(redis_scripts_use(&c, extra));
    cr_assert_not(redis_scripts_use(&c, extra), "not remembered: no room");
}

/* A text's SHA-1 is kept with a copy of the text: the same buffer with
 * the same bytes reuses it; the same buffer with other bytes is hashed
 * again (never a stale name); another buffer with the same text names
 * the same script. */
Test(redis_scripts, a_name_is_kept_but_never_stale) {
    struct redis_scripts c = {0};
    char buf[16] = "return 1", sha[REDIS_SCRIPTS_SHA_LEN + 1];
    char want1[REDIS_SCRIPTS_SHA_LEN + 1], want2[REDIS_SCRIPTS_SHA_LEN + 1];
    cr_assert_eq(redis_scripts_sha1("return 1", 8, want1), 0);
    cr_assert_eq(redis_scripts_sha1("return 2", 8, want2), 0);
    cr_assert_eq(redis_scripts_name(&c, buf, 8, sha), 0);
    cr_assert_str_eq(sha, want1);
    cr_assert_not(redis_scripts_use(&c, sha), "first: whole");
    cr_assert_eq(redis_scripts_name(&c, buf, 8, sha), 0);
    cr_assert_str_eq(sha, want1, "kept");
    cr_assert(redis_scripts_use(&c, sha), "and known as sent");
    buf[7] = '2'; /* the same buffer, reused for another script */
    cr_assert_eq(redis_scripts_name(&c, buf, 8, sha), 0);
    cr_assert_str_eq(sha, want2, "hashed again");
    cr_assert_not(redis_scripts_use(&c, sha), "another script goes whole");
    char other[16] = "return 1";
    cr_assert_eq(redis_scripts_name(&c, other, 8, sha), 0);
    cr_assert_str_eq(sha, want1);
    cr_assert(redis_scripts_use(&c, sha), "the first script, still sent");
    cr_assert_eq(redis_scripts_name(&c, buf, 7, sha), 0, "a shorter text is another");
    char want3[REDIS_SCRIPTS_SHA_LEN + 1];
    cr_assert_eq(redis_scripts_sha1("return ", 7, want3), 0);
    cr_assert_str_eq(sha, want3);
    redis_scripts_free(&c);
}
