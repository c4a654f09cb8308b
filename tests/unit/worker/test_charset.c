/* Charsets: which one a page is read in (BOM, header, <meta>, UTF-8),
 * the conversion to UTF-8 through extraction, wrong declarations and
 * invalid bytes, and the UTF-8 check against ICU's converter. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "worker/charset.h"
#include "worker/extract.h"
#include "worker/tokenize.h"

TestSuite(charset, .timeout = 60);

/* --- which charset --- */

struct sniff_case {
    char doc[160];
    size_t len; /* 0: strlen(doc) */
    char header[32];
    char want[32];
    char source[16];
};

ParameterizedTestParameters(charset, sniff) {
    static struct sniff_case cases[] = {
        {"\xEF\xBB\xBF<p>x", 0, "iso-8859-1", "utf-8", "bom"},
        {"\xFF\xFE<\0p\0>\0", 8, "", "utf-16le", "bom"},
        {"\xFE\xFF\0<\0p\0>", 8, "utf-8", "utf-16be", "bom"},
        {"<p>x", 0, "ISO-8859-1", "windows-1252", "header"},
        {"<p>x", 0, "latin1", "windows-1252", "header"},
        {"<p>x", 0, "utf-16", "utf-16le", "header"},
        {"<p>x", 0, "Shift_JIS", "Shift_JIS", "header"},
        {"<meta charset=utf-8><p>x", 0, "windows-1252", "windows-1252", "header"},
        {"<meta charset=koi8-r><p>x", 0, "no-such-charset", "koi8-r", "meta"},
        {"<html><head><meta charset=\"Shift_JIS\">", 0, "", "Shift_JIS", "meta"},
        {"<META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=iso-8859-1\">", 0, "",
         "windows-1252", "meta"},
        {"<meta name=x content=y><meta charset='gb2312'>", 0, "", "gb18030", "meta"},
        {"<meta charset=utf-16>", 0, "", "utf-8", "meta"},
        {"<\0p\0>\0", 6, "", "utf-16le", "pattern"},
        {"\0<\0p\0>", 6, "", "utf-16be", "pattern"},
        {"<\0\0\0p\0\0\0", 8, "", "utf-32le", "pattern"},
        {"\0\0\0<\0\0\0p", 8, "", "utf-32be", "pattern"},
        {"<\0p\0", 4, "windows-1252", "windows-1252", "header"},
        {"<\0", 2, "", "utf-8", "default"},
        {"<metadata charset=koi8-r><p>x", 0, "", "utf-8", "default"},
        {"<meta charset=x-no-such-thing><p>x", 0, "", "utf-8", "default"},
        {"<p>nothing declared", 0, "", "utf-8", "default"},
        {"", 0, "", "utf-8", "default"},
    };
    return cr_make_param_array(struct sniff_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct sniff_case *c, charset, sniff) {
    char name[CHARSET_NAME_MAX];
    size_t bom;
    size_t len = c->len ? c->len : strlen(c->doc);
    const char *src = charset_sniff(c->doc, len, c->header[0] ? c->header : NULL, name, &bom);
    cr_expect_str_eq(name, c->want, "%s / header %s", c->doc, c->header);
    cr_expect_str_eq(src, c->source, "%s / header %s", c->doc, c->header);
    cr_expect_eq(bom, !strcmp(src, "bom") ? (c->want[4] == '8' ? 3u : 2u) : 0u);
}

Test(charset, meta_after_the_first_kilobyte_is_not_read) {
    struct buf b;
    buf_init(&b);
    for (int i = 0; i < 120; i++) buf_append_str(&b, "<p>filler</p>");
    buf_append_str(&b, "<meta charset=koi8-r>");
    char name[CHARSET_NAME_MAX];
    size_t bom;
    cr_expect_str_eq(charset_sniff(b.data, b.len, NULL, name, &bom), "default");
    cr_expect_str_eq(name, "utf-8");
    buf_free(&b);
}

/* --- conversion, through extraction --- */

static void
on_text(const char *text, size_t len, void *arg) {
    buf_append(arg, text, len);
}

static void
on_word(const char *w, size_t n, void *arg) {
    struct buf *b = arg;
    if (b->len) buf_append_char(b, ' ');
    buf_append(b, w, n);
}

/* words_of extracts doc (fed chunk bytes at a time) and returns its
 * words joined by spaces; *charset gets the charset used. */
static char *
words_of(const char *doc, size_t len, size_t chunk, const char *header, char *charset) {
    struct buf text;
    buf_init(&text);
    extract_t *x = extract_open(extract_find("text/html"), header, on_text, &text);
    for (size_t off = 0; off < len; off += chunk)
        cr_assert_eq(extract_feed(x, doc + off, len - off < chunk ? len - off : chunk), 0);
    cr_assert_eq(extract_finish(x), 0);
    snprintf(charset, CHARSET_NAME_MAX, "%s", extract_charset(x) ? extract_charset(x) : "");
    extract_free(x);
    struct tokenizer t;
    char err[256];
    cr_assert_eq(tokenizer_init(&t, err, sizeof err), 0, "%s", err);
    struct buf w;
    buf_init(&w);
    buf_append(&w, "", 0);
    tokenize_text(&t, text.data ? text.data : "", text.len, on_word, &w);
    tokenizer_free(&t);
    buf_free(&text);
    return buf_steal(&w);
}

/* utf16 encodes UTF-8 text (BMP only) as UTF-16, with a BOM if asked;
 * written out here so the test does not lean on the converter it tests. */
static size_t
utf16(const char *s, bool big_endian, bool bom, char *out) {
    size_t k = 0;
    const unsigned char *p = (const unsigned char *)s;
    unsigned cp;
    if (bom) {
        out[k++] = big_endian ? '\xFE' : '\xFF';
        out[k++] = big_endian ? '\xFF' : '\xFE';
    }
    while (*p) {
        if (*p < 0x80) cp = *p++;
        else if (*p < 0xE0) cp = (unsigned)(p[0] & 0x1F) << 6 | (p[1] & 0x3F), p += 2;
        else
            cp = (unsigned)(p[0] & 0x0F) << 12 | (unsigned)(p[1] & 0x3F) << 6 | (p[2] & 0x3F),
            p += 3;
        out[k++] = (char)(big_endian ? cp >> 8 : cp & 0xFF);
        out[k++] = (char)(big_endian ? cp & 0xFF : cp >> 8);
    }
    return k;
}

struct conv_case {
    char doc[200];
    size_t len; /* 0: strlen(doc) */
    char header[32];
    char want_words[96];
    char want_charset[32];
};

ParameterizedTestParameters(charset, conversion) {
    static struct conv_case cases[] = {
        /* Latin-1, declared by the header, then by <meta> */
        {"<p>caf\xe9 cr\xe8me br\xfbl\xe9"
         "e</p>",
         0, "ISO-8859-1", "café crème brûlée", "windows-1252"},
        {"<head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\">"
         "</head><p>caf\xe9 \x93quoted\x94</p>",
         0, "", "café quoted", "windows-1252"},
        /* Shift_JIS: 東京 is 93 8C 8B 9E */
        {"<meta charset=\"Shift_JIS\"><p>\x93\x8c\x8b\x9e</p>", 0, "", "東京", "Shift_JIS"},
        {"<p>\x93\x8c\x8b\x9e tokyo</p>", 0, "shift_jis", "東京 tokyo", "shift_jis"},
        /* KOI8-R: "мир" is CD C9 D2 */
        {"<meta charset=koi8-r><p>\xcd\xc9\xd2</p>", 0, "", "мир", "koi8-r"},
        /* wrong declarations */
        {"<p>caf\xe9 ok</p>", 0, "utf-8", "caf ok", "utf-8"}, /* Latin-1 bytes called UTF-8 */
        {"<meta charset=iso-8859-1><p>caf\xc3\xa9</p>", 0, "", "cafã",
         "windows-1252"},                                                       /* the reverse */
        {"\xEF\xBB\xBF<p>caf\xc3\xa9</p>", 0, "windows-1252", "café", "utf-8"}, /* the BOM wins */
        {"<meta charset=utf-16><p>caf\xc3\xa9</p>", 0, "", "café", "utf-8"},
        {"<meta charset=nonsense><p>caf\xc3\xa9</p>", 0, "", "café", "utf-8"},
        /* invalid bytes: replaced, neighbours kept */
        {"<p>good \xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80 bytes\xff</p>", 0, "", "good bytes",
         "utf-8"},
        {"<p>ok \x81\x20 \xff\xfc sjis</p>", 0, "shift_jis", "ok sjis", "shift_jis"},
        {"<p>cut at the end \xe6\x9d", 0, "", "cut at the end", "utf-8"},
    };
    return cr_make_param_array(struct conv_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct conv_case *c, charset, conversion) {
    size_t len = c->len ? c->len : strlen(c->doc);
    size_t chunks[] = {len ? len : 1, 1, 3};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        char cs[CHARSET_NAME_MAX];
        char *got = words_of(c->doc, len, chunks[i], c->header[0] ? c->header : NULL, cs);
        cr_expect_str_eq(got, c->want_words, "chunk %zu: %s", chunks[i], c->doc);
        cr_expect_str_eq(cs, c->want_charset, "chunk %zu: %s", chunks[i], c->doc);
        free(got);
    }
}

Test(charset, utf16_with_and_without_bom) {
    char doc[256], cs[CHARSET_NAME_MAX];
    const char *html = "<p>Ελλάδα café</p><p>second</p>";
    struct {
        bool be, bom;
        const char *header, *charset;
    } cases[] = {{false, true, NULL, "utf-16le"},
                 {true, true, NULL, "utf-16be"},
                 {true, true, "utf-16le", "utf-16be"}, /* the BOM wins over the header */
                 {false, false, "utf-16", "utf-16le"},
                 {true, false, "UTF-16BE", "UTF-16BE"},
                 /* no BOM, no header: the NULs around the first characters */
                 {false, false, NULL, "utf-16le"},
                 {true, false, NULL, "utf-16be"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = utf16(html, cases[i].be, cases[i].bom, doc);
        for (size_t chunk = 1; chunk <= n; chunk += n - 1) {
            char *got = words_of(doc, n, chunk, cases[i].header, cs);
            cr_expect_str_eq(got, "ελλάδα café second", "case %zu chunk %zu", i, chunk);
            cr_expect_str_eq(cs, cases[i].charset, "case %zu", i);
            free(got);
        }
    }
    /* an odd number of bytes: the last half character is replaced */
    size_t n = utf16(html, false, true, doc);
    char *got = words_of(doc, n - 1, 5, NULL, cs);
    cr_expect(strstr(got, "ελλάδα café") != NULL, "%s", got);
    free(got);
}

/* --- the UTF-8 check against ICU --- */

Test(charset, utf8_valid_prefix) {
    struct {
        const char *s;
        size_t want;
    } cases[] = {
        {"plain ascii", 11},       {"caf\xc3\xa9", 5}, {"\xe6\x9d\xb1\xe4\xba\xac", 6},
        {"\xf0\x9f\x99\x82!", 5},  {"ab\xc0\xaf", 2}, /* overlong */
        {"ab\xe0\x80\xaf", 2},                        /* overlong */
        {"ab\xed\xa0\x80", 2},                        /* surrogate */
        {"ab\xf4\x90\x80\x80", 2},                    /* past U+10FFFF */
        {"ab\xf5\x80", 2},         {"ab\x80", 2},     /* a lone continuation */
        {"ab\xe6\x9d", 2},                            /* cut */
        {"\xef\xbf\xbd", 3},                          /* U+FFFD itself */
        {"\xf4\x8f\xbf\xbf", 4},                      /* U+10FFFF */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(
            charset_utf8_valid_prefix((const unsigned char *)cases[i].s, strlen(cases[i].s)),
            cases[i].want, "case %zu", i);
}

/* The UTF-8 check (copy what is well-formed, one U+FFFD per maximal
 * ill-formed part) must give ICU's converter's bytes exactly, however
 * the input is cut into feeds. */
Test(charset, utf8_check_agrees_with_icu) {
    static const unsigned char pool[] = {0x41, 0x20, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0,
                                         0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef,
                                         0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff, 0xa9, 0x3c};
    srand(4);
    for (int iter = 0; iter < 20000; iter++) {
        unsigned char in[40];
        size_t n = (size_t)(rand() % 40);
        for (size_t i = 0; i < n; i++) in[i] = pool[rand() % sizeof pool];
        struct charset_conv fast, icu;
        char err[128];
        cr_assert_eq(charset_conv_open(&fast, "utf-8", err, sizeof err), 0);
        cr_assert_eq(charset_conv_open(&icu, "utf-8", err, sizeof err), 0);
        cr_assert(fast.utf8);
        icu.utf8 = false; /* force the ICU converters */
        struct buf a, b;
        buf_init(&a);
        buf_init(&b);
        size_t cut1 = n ? (size_t)rand() % (n + 1) : 0;
        size_t cut2 = cut1 + (n > cut1 ? (size_t)rand() % (n - cut1 + 1) : 0);
        cr_assert_eq(charset_conv_feed(&fast, (char *)in, cut1, false, &a), 0);
        cr_assert_eq(charset_conv_feed(&fast, (char *)in + cut1, cut2 - cut1, false, &a), 0);
        cr_assert_eq(charset_conv_feed(&fast, (char *)in + cut2, n - cut2, true, &a), 0);
        cr_assert_eq(charset_conv_feed(&icu, (char *)in, n, true, &b), 0);
        cr_assert(a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0),
                  "iteration %d: %zu bytes cut at %zu and %zu differ from ICU", iter, n, cut1,
                  cut2);
        buf_free(&a);
        buf_free(&b);
        charset_conv_close(&fast);
        charset_conv_close(&icu);
    }
}
