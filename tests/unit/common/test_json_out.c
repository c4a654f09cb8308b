/* json_out against jansson: every string written must parse back (jansson
 * refuses ill-formed UTF-8 and raw control characters) to the input, or,
 * where the input was not UTF-8, to the input with U+FFFD for each
 * maximal ill-formed subsequence. Hostile strings by table, then random
 * bytes. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json_out.h"

/* parsed writes in[0..len) with json_out_string, checks that jansson
 * reads it as one string, and returns that string's bytes (malloc'd, its
 * length in *out_len). */
static char *
parsed(const char *in, size_t len, size_t *out_len) {
    struct buf b;
    buf_init(&b);
    buf_append_str(&b, "x"); /* appends after what is there */
    json_out_string(&b, in, len);
    cr_assert_eq(b.data[b.len], '\0', "NUL-terminated");
    json_error_t je;
    json_t *v = json_loadb(b.data + 1, b.len - 1, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    cr_assert_not_null(v, "jansson refused %s: %s", b.data + 1, je.text);
    cr_assert(json_is_string(v));
    *out_len = json_string_length(v);
    char *s = malloc(*out_len + 1);
    memcpy(s, json_string_value(v), *out_len + 1);
    json_decref(v);
    buf_free(&b);
    return s;
}

struct hostile {
    const char *in;
    size_t len;
    const char *want; /* NULL: the input itself */
    size_t want_len;
};
#define S(x) x, sizeof x - 1
#define SAME NULL, 0

static const struct hostile cases[] = {
    {S(""), SAME},
    {S("plain words"), SAME},
    {S("\"quoted\" and \\back\\slashed\\"), SAME},
    {S("\"\\\"\\\\"), SAME},
    {S("\x01\x02\x03\x04\x05\x06\x07\b\t\n\v\f\r\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19"
       "\x1a\x1b\x1c\x1d\x1e\x1f\x7f"),
     SAME},
    {S("nul\0inside"), SAME},
    {S("/</script>"), SAME},
    {S("\xc3\xa9t\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80 \xe2\x80\x99"), SAME},
    {S("\xef\xbf\xbd"), SAME},                                      /* U+FFFD itself */
    {S("\xf4\x8f\xbf\xbf"), SAME},                                  /* U+10FFFF */
    {S("\x80"), S("\xef\xbf\xbd")},                                 /* a lone continuation */
    {S("\xff\xfe"), S("\xef\xbf\xbd\xef\xbf\xbd")},                 /* never in UTF-8 */
    {S("a\xe6\x97"), S("a\xef\xbf\xbd")},                           /* cut at the end */
    {S("\xe6\x97x"), S("\xef\xbf\xbdx")},                           /* cut by a letter */
    {S("\xe6\x97\""), S("\xef\xbf\xbd\"")},                         /* cut by a quote */
    {S("\xc0\xaf"), S("\xef\xbf\xbd\xef\xbf\xbd")},                 /* overlong '/' */
    {S("\xe0\x80\xaf"), S("\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd")}, /* overlong, 3 bytes */
    {S("\xed\xa0\x80"), S("\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd")}, /* a surrogate */
    {S("\xf4\x90\x80\x80"), S("\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd")}, /* > U+10FFFF */
    {S("\xf0\x9f\x98"), S("\xef\xbf\xbd")}, /* three of four bytes: one U+FFFD */
    {S("\xf0\x9f\x98\\"), S("\xef\xbf\xbd\\")},
    {S("ok\xc3"), S("ok\xef\xbf\xbd")},
};

Test(json_out, hostile_strings_parse_back_as_written_or_replaced) {
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const struct hostile *h = &cases[i];
        size_t n;
        char *got = parsed(h->in, h->len, &n);
        const char *want = h->want ? h->want : h->in;
        size_t want_len = h->want ? h->want_len : h->len;
        cr_assert_eq(n, want_len, "case %zu: length %zu, want %zu", i, n, want_len);
        cr_assert(memcmp(got, want, n) == 0, "case %zu differs", i);
        free(got);
    }
}

Test(json_out, control_characters_are_escaped_not_copied) {
    struct buf b;
    buf_init(&b);
    json_out_string(&b, S("a\nb\x01\"\\"));
    cr_assert_str_eq(b.data, "\"a\\nb\\u0001\\\"\\\\\"");
    buf_reset(&b);
    json_out_string(&b, S("\b\f\r\t\x1f"));
    cr_assert_str_eq(b.data, "\"\\b\\f\\r\\t\\u001f\"");
    buf_free(&b);
}

/* valid_utf8 says whether s is well-formed UTF-8, by ICU's rule as
 * jansson applies it: jansson's own check on load. */
static int
valid_utf8(const char *s, size_t len) {
    json_t *v = json_stringn(s, len);
    json_decref(v);
    return v != NULL;
}

Test(json_out, random_bytes_always_give_valid_json) {
    unsigned seed = 19;
    char in[64];
    for (int round = 0; round < 20000; round++) {
        size_t len = (size_t)(rand_r(&seed) % (int)sizeof in);
        /* Mostly high bytes and the characters that need escaping. */
        for (size_t k = 0; k < len; k++) {
            int r = rand_r(&seed) % 8;
            in[k] = r < 4   ? (char)(0x80 + rand_r(&seed) % 0x80)
                    : r < 5 ? (char)(rand_r(&seed) % 0x20)
                    : r < 6 ? "\"\\"[rand_r(&seed) % 2]
                            : (char)(0x20 + rand_r(&seed) % 0x60);
        }
        size_t n;
        char *got = parsed(in, len, &n);
        if (valid_utf8(in, len))
            cr_assert(n == len && memcmp(got, in, len) == 0, "round %d", round);
        free(got);
    }
}

Test(json_out, numbers) {
    static const uint64_t v[] = {0, 7, 10, 99, 100, 1234567890, UINT64_MAX};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        char want[32], got[JSON_OUT_U64_LEN];
        snprintf(want, sizeof want, "%" PRIu64, v[i]);
        cr_assert_eq(json_out_u64_str(got, v[i]), strlen(want));
        cr_assert_str_eq(got, want);
        struct buf b;
        buf_init(&b);
        json_out_u64(&b, v[i]);
        cr_assert_str_eq(b.data, want);
        buf_free(&b);
    }
}
