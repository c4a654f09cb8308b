/* Words: UAX #29 segmentation (ICU), "a word has a letter", case folding
 * and NFC; the ASCII fast path against ICU itself. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "worker/tokenize.h"

static struct tokenizer tok;

static void
setup(void) {
    char err[256];
    cr_assert_eq(tokenizer_init(&tok, err, sizeof err), 0, "%s", err);
}

static void
teardown(void) {
    tokenizer_free(&tok);
}

TestSuite(tokenize, .init = setup, .fini = teardown, .timeout = 60);

static void
on_word(const char *w, size_t n, void *arg) {
    struct buf *b = arg;
    if (b->len) buf_append_char(b, ' ');
    buf_append(b, w, n);
}

/* words returns the words of text joined by single spaces (caller frees). */
static char *
words(const char *text, size_t len, bool icu_only) {
    struct buf b;
    buf_init(&b);
    buf_append(&b, "", 0);
    if (icu_only) tokenize_text_icu(&tok, text, len, on_word, &b);
    else tokenize_text(&tok, text, len, on_word, &b);
    return buf_steal(&b);
}

/* Expected words worked out from UAX #29 and the rule "a token with a
 * letter is a word" (parameters are copied between processes: arrays). */
struct tcase {
    char text[64];
    char want[96];
};

ParameterizedTestParameters(tokenize, table) {
    static struct tcase cases[] = {
        /* contractions and apostrophes */
        {"don't", "don't"},
        {"Don\xe2\x80\x99t", "don\xe2\x80\x99t"},
        {"rock'n'roll", "rock'n'roll"},
        {"'quoted'", "quoted"},
        {"café's", "café's"},
        /* hyphens and other punctuation break */
        {"well-known e-mail", "well known e mail"},
        {"C++ and C#", "c and c"},
        {"hello,world;again", "hello world again"},
        {"e.g. U.S.A.", "e.g u.s.a"},
        /* digits: a number is no word, letters with digits are */
        {"42 3.14 1,000 -7", ""},
        {"abc123 1990s 4th x86_64", "abc123 1990s 4th x86_64"},
        {"4_2 __init__", "__init__"},
        {"\xd9\xa4\xd9\xa2", ""}, /* Arabic-Indic digits */
        /* Latin with accents, composed or not */
        {"état ÉTAT", "état état"},
        {"naïve NAÏVE", "naïve naïve"},
        {"e\xcc\x81tat nai\xcc\x88ve", "état naïve"}, /* decomposed: NFC */
        {"Straße STRASSE", "strasse strasse"},        /* full case folding */
        {"\xc4\xb0stanbul", "i\xcc\x87stanbul"},      /* İ folds to i + dot */
        /* other scripts */
        {"ψυχή ΣΊΣΥΦΟΣ", "ψυχή σίσυφοσ"},
        {"Москва москва", "москва москва"},
        {"Москва2024", "москва2024"},
        {"مرحبا שלום नमस्ते", "مرحبا שלום नमस्ते"},
        /* CJK: ideographs are words; segmented by ICU's dictionary */
        {"東京", "東京"},
        {"Tokyo東京", "tokyo 東京"},
        {"中华人民共和国", "中华 人民 共和国"},
        /* symbols, dashes, emoji */
        {"— – … © ® ™ → §", ""},
        {"🙂 👍🏽 👩‍💻", ""},
        {"happy🙂face", "happy face"},
        /* no-break spaces and other white space */
        {"one\xc2\xa0two\tthree\nfour\r\nfive\fsix", "one two three four five six"},
        /* a mark that is a letter (U+FF9F, Lm) after spaces joins them
         * in UAX #29 (WB4); the word is the mark, without the spaces
         * (found by fuzz_extract) */
        {"a   \xef\xbe\x9f b", "a \xef\xbe\x9f b"},
        {"", ""},
        {"   \n\t ", ""},
    };
    return cr_make_param_array(struct tcase, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct tcase *c, tokenize, table) {
    char *got = words(c->text, strlen(c->text), false);
    cr_expect_str_eq(got, c->want, "%s", c->text);
    free(got);
    got = words(c->text, strlen(c->text), true);
    cr_expect_str_eq(got, c->want, "ICU path: %s", c->text);
    free(got);
}

Test(tokenize, invalid_utf8_does_not_eat_neighbours) {
    const char bad[] = "good \xff\xfe bytes caf\xc3 ok \xe2\x80";
    char *got = words(bad, sizeof bad - 1, false);
    cr_expect_str_eq(got, "good bytes caf ok");
    free(got);
}

Test(tokenize, nul_bytes_are_not_words) {
    const char text[] = "alpha\0beta \0 gamma";
    char *got = words(text, sizeof text - 1, false);
    cr_expect_str_eq(got, "alpha beta gamma");
    free(got);
}

Test(tokenize, very_long_token_is_cut_not_grown) {
    size_t n = 100000;
    char *s = malloc(n);
    memset(s, 'a', n);
    struct buf b;
    buf_init(&b);
    tokenize_text(&tok, s, n, on_word, &b);
    cr_expect_gt(b.len, 0);
    cr_expect_leq(b.len, 1024, "one word of at most 1024 bytes");
    buf_free(&b);
    free(s);
}

/* The fast path must give exactly ICU's words. Random text from pieces
 * chosen to hit every ASCII class and the seams with non-ASCII text:
 * marks after spaces, ZWJ, no-break spaces, colons, '@', CJK. */
Test(tokenize, ascii_fast_path_agrees_with_icu) {
    static const char *pieces[] = {
        "a",
        "Z",
        "q",
        "0",
        "7",
        ":",
        ".",
        "'",
        ",",
        ";",
        "_",
        "-",
        " ",
        "\t",
        "\n",
        "\r",
        "\v",
        "\f",
        "\"",
        "!",
        "#",
        "/",
        "@",
        "\x01",
        "\x7f",
        "\xc2\xa0",
        "é",
        "É",
        "\xe2\x80\x99",
        "\xcc\x81",
        "\xe2\x80\x8d",
        "東",
        "京",
        "ア",
        "🙂",
        "—",
        "ß",
        "ψ",
        "٤",
        "\xc2",
        "\xff",
        "x1",
        "don't",
        "3.14",
        "e.g.",
        "\xef\xbe\x9f",
        "\xe3\x80\x80",
        "\xe2\x80\x8b",
        "\xcd\x85",
    };
    size_t np = sizeof pieces / sizeof pieces[0];
    srand(20240401);
    char text[512];
    for (int iter = 0; iter < 20000; iter++) {
        size_t len = 0;
        int k = rand() % 16;
        for (int j = 0; j < k; j++) {
            const char *p = pieces[rand() % np];
            size_t pl = strlen(p);
            memcpy(text + len, p, pl);
            len += pl;
        }
        char *fast = words(text, len, false), *slow = words(text, len, true);
        cr_assert_str_eq(fast, slow, "text [%.*s]", (int)len, text);
        free(fast);
        free(slow);
    }
}
