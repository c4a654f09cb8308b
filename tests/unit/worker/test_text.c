/* Text extraction (libxml2 push parser) and Unicode words (ICU). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "worker/html_text.h"
#include "worker/tokenize.h"

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

/* words_of extracts html fed in pieces of `chunk` bytes and tokenizes
 * the text; the words come back joined by single spaces. */
static char *
words_of(const char *html, size_t len, size_t chunk, const char *charset) {
    struct buf text;
    buf_init(&text);
    html_text_t *h = html_text_new(charset, on_text, &text);
    cr_assert_not_null(h);
    for (size_t off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        cr_assert_eq(html_text_feed(h, html + off, n), 0);
    }
    cr_assert_eq(html_text_finish(h), 0);
    html_text_free(h);

    struct tokenizer t;
    char err[256];
    cr_assert_eq(tokenizer_init(&t, err, sizeof err), 0, "%s", err);
    struct buf words;
    buf_init(&words);
    tokenize_text(&t, text.data ? text.data : "", text.len, on_word, &words);
    tokenizer_free(&t);
    buf_free(&text);
    if (!words.data) buf_append(&words, "", 0);
    return buf_steal(&words);
}

static void
expect_words(const char *html, const char *want) {
    size_t len = strlen(html);
    /* Whole, and split at every byte: the answer must not depend on how
     * the bytes arrive. */
    size_t chunks[] = {len ? len : 1, 1, 7};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        char *got = words_of(html, len, chunks[i], NULL);
        cr_assert_str_eq(got, want, "chunk %zu: html %s", chunks[i], html);
        free(got);
    }
}

Test(html_text, visible_text_only) {
    expect_words("<html><head><title>Title here</title>"
                 "<style>body { color: red }</style>"
                 "<script>var notAWord = 1; function f() {}</script></head>"
                 "<body><noscript>enable js</noscript><template>hidden tpl</template>"
                 "<p>Visible words</p></body></html>",
                 "title here visible words");
}

Test(html_text, blocks_and_br_separate_words) {
    expect_words("<div>Acronyms</div><div>Appendix</div><p>one<br>two</p><li>three</li><li>four</li>"
                 "<td>five</td><td>six</td><h1>seven</h1>eight",
                 "acronyms appendix one two three four five six seven eight");
}

Test(html_text, inline_elements_do_not_split_words) {
    expect_words("<p>won<b>der</b>ful <i>day</i></p>", "wonderful day");
}

Test(html_text, entities_decoded) {
    expect_words("<p>caf&eacute; &amp; cr&#232;me &lt;tag&gt; don&#x27;t</p>",
                 "café crème tag don't");
}

Test(html_text, malformed_html_does_not_crash) {
    expect_words("<p>unclosed <div><span>deep <b><i><u>text", "unclosed deep text");
    /* NUL bytes and garbage inside the document */
    const char bad[] = "<p>alpha\0beta</p><<<>>><!-- c --><p>gamma";
    char *got = words_of(bad, sizeof bad - 1, 3, NULL);
    cr_assert(strstr(got, "alpha") && strstr(got, "gamma"), "%s", got);
    free(got);
    /* deep nesting */
    struct buf deep;
    buf_init(&deep);
    for (int i = 0; i < 5000; i++) buf_append_str(&deep, "<div>");
    buf_append_str(&deep, "bottom");
    got = words_of(deep.data, deep.len, 4096, NULL);
    cr_assert_str_eq(got, "bottom");
    free(got);
    buf_free(&deep);
}

Test(html_text, charset_from_meta_and_header) {
    /* "café" in Latin-1 declared by <meta> */
    const char latin1[] = "<html><head><meta charset=\"iso-8859-1\"></head><body>caf\xe9</body></html>";
    char *got = words_of(latin1, sizeof latin1 - 1, sizeof latin1, NULL);
    cr_assert_str_eq(got, "café");
    free(got);
    /* the same bytes, charset given by the HTTP header */
    const char plain[] = "<p>caf\xe9</p>";
    got = words_of(plain, sizeof plain - 1, sizeof plain, "ISO-8859-1");
    cr_assert_str_eq(got, "café");
    free(got);
    /* UTF-8 with no declaration at all */
    got = words_of("<p>caf\xc3\xa9</p>", 12, 12, NULL);
    cr_assert_str_eq(got, "café");
    free(got);
}

Test(tokenize, unicode_words_folded) {
    struct tokenizer t;
    char err[256];
    cr_assert_eq(tokenizer_init(&t, err, sizeof err), 0);
    struct buf words;
    buf_init(&words);
    const char *text = "The the THE Ελληνικά Русский don't 42 3.14 — état ÉTAT";
    tokenize_text(&t, text, strlen(text), on_word, &words);
    cr_assert_str_eq(words.data, "the the the ελληνικά русский don't état état");
    buf_reset(&words);
    /* invalid UTF-8 does not crash and does not eat the neighbours */
    const char bad[] = "good \xff\xfe bytes";
    tokenize_text(&t, bad, sizeof bad - 1, on_word, &words);
    cr_assert_str_eq(words.data, "good bytes");
    buf_free(&words);
    tokenizer_free(&t);
}
