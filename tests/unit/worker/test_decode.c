/* The decode stage: when the charset is decided, by which rule, the
 * byte-order mark, and the hand-over of what the next stage leaves. */
#include <criterion/criterion.h>
#include <string.h>

#include "worker/decode.h"

static void
feed_bytes(struct decode *d, const char *data, size_t len, size_t chunk) {
    for (size_t off = 0; off < len; off += chunk)
        cr_assert_eq(decode_feed(d, data + off, len - off < chunk ? len - off : chunk, false), 0);
}

Test(decode, waits_for_the_first_kilobyte_then_decides) {
    struct decode d;
    decode_init(&d, DECODE_HTML, NULL);
    feed_bytes(&d, "<p>caf\xe9</p>", 11, 11);
    cr_expect_eq(d.out.len, 0, "nothing decoded before the charset is known");
    cr_expect_null(decode_charset(&d));
    cr_assert_eq(decode_feed(&d, "", 0, true), 0);
    cr_expect_str_eq(decode_charset(&d), "utf-8");
    cr_expect_str_eq(d.out.data, "<p>caf\xef\xbf\xbd</p>", "an invalid byte becomes U+FFFD");
    decode_free(&d);

    char big[CHARSET_SNIFF_BYTES + 10];
    memset(big, 'a', sizeof big);
    memcpy(big, "<meta charset=koi8-r>", 21);
    decode_init(&d, DECODE_HTML, NULL);
    feed_bytes(&d, big, sizeof big, 100);
    cr_expect_str_eq(decode_charset(&d), "koi8-r", "decided once the first kilobyte is in");
    cr_expect_eq(d.out.len, sizeof big, "and decoded up to what has arrived");
    decode_free(&d);
}

Test(decode, the_rules) {
    const char doc[] = "<meta charset=koi8-r>\xc1";
    struct decode d;
    decode_init(&d, DECODE_HTML, NULL);
    cr_assert_eq(decode_feed(&d, doc, sizeof doc - 1, true), 0);
    cr_expect_str_eq(decode_charset(&d), "koi8-r");
    cr_expect_str_eq(d.out.data + 21, "\xd0\xb0", "KOI8-R 0xC1 is U+0430");
    decode_free(&d);
    decode_init(&d, DECODE_TEXT, NULL);
    cr_assert_eq(decode_feed(&d, doc, sizeof doc - 1, true), 0);
    cr_expect_str_eq(decode_charset(&d), "utf-8", "plain text has no <meta>");
    decode_free(&d);
    decode_init(&d, DECODE_TEXT, "iso-8859-1");
    cr_assert_eq(decode_feed(&d, "caf\xe9", 4, true), 0);
    cr_expect_str_eq(decode_charset(&d), "windows-1252");
    cr_expect_str_eq(d.out.data, "caf\xc3\xa9");
    decode_free(&d);
    /* bytes pass as they are, at once, with no charset */
    decode_init(&d, DECODE_BYTES, "utf-8");
    cr_assert_eq(decode_feed(&d, "%PDF\xff\0x", 7, false), 0);
    cr_expect_eq(d.out.len, 7u);
    cr_expect_eq(memcmp(d.out.data, "%PDF\xff\0x", 7), 0);
    cr_expect_null(decode_charset(&d));
    decode_free(&d);
}

Test(decode, byte_order_mark_split_across_feeds_is_dropped) {
    const char doc[] = "\xff\xfe<\0p\0>\0\xe9\0";
    struct decode d;
    decode_init(&d, DECODE_TEXT, "utf-8");
    feed_bytes(&d, doc, sizeof doc - 1, 1);
    cr_assert_eq(decode_feed(&d, "", 0, true), 0);
    cr_expect_str_eq(decode_charset(&d), "utf-16le", "the BOM beats the header");
    cr_expect_str_eq(d.out.data, "<p>\xc3\xa9");
    decode_free(&d);
}

Test(decode, what_the_next_stage_leaves_comes_again) {
    struct decode d;
    decode_init(&d, DECODE_TEXT, NULL);
    cr_assert_eq(decode_feed(&d, "alpha be", 8, true), 0);
    decode_consume(&d, 6);
    cr_expect_str_eq(d.out.data, "be");
    decode_free(&d);
    decode_init(&d, DECODE_BYTES, NULL);
    cr_assert_eq(decode_feed(&d, "alpha be", 8, false), 0);
    decode_consume(&d, 6);
    cr_assert_eq(decode_feed(&d, "ta", 2, true), 0);
    cr_expect_str_eq(d.out.data, "beta");
    decode_consume(&d, 4);
    cr_expect_eq(d.out.len, 0u);
    decode_free(&d);
}
