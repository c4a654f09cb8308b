/* Text extraction (libxml2 push parser) and Unicode words (ICU). */
#include <criterion/criterion.h>
#include <stdint.h>
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
    expect_words(
        "<div>Acronyms</div><div>Appendix</div><p>one<br>two</p><li>three</li><li>four</li>"
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
    const char latin1[] =
        "<html><head><meta charset=\"iso-8859-1\"></head><body>caf\xe9</body></html>";
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

Test(html_text, white_space_between_inline_elements_separates) {
    expect_words("<p><b>one</b> <i>two</i>\n<span>three</span>&nbsp;<em>four</em></p>",
                 "one two three four");
}

Test(html_text, more_boundaries) {
    expect_words(
        "<ul><li>one<li>two</ul><table><tr><td>three<td>four</table>five<hr>six"
        "<img src=x>seven<my-widget>eight</my-widget>nine<wbr>ten",
        "one two three four five six seven eight nineten"); /* wbr: a break opportunity only */
}

Test(html_text, title_and_form_text_count_comments_do_not) {
    expect_words("<title>Page title</title><!-- hidden comment --><?php echo 'pi' ?>"
                 "<p>shown</p><textarea>typed text</textarea>",
                 "page title shown typed text");
}

/* Each truncated document is cut inside something: a tag, an entity, a
 * comment, a script. What came before the cut counts; nothing of the
 * script or comment does; nothing crashes, leaks or hangs. */
Test(html_text, truncated_documents) {
    const char *docs[] = {"<p>alpha beta",          "<p>alpha <b",          "<p>alpha <scr",
                          "<p>alpha <script>var x", "<p>alpha &am",         "<p>alpha <!-- comm",
                          "<p>alpha <a href=\"x",   "<p>alpha </",          "<p>alpha <![CDATA[",
                          "<p>alpha <style>p{",     "<p>alpha <template>t", "<p>alpha <!DOCTYPE"};
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        size_t len = strlen(docs[i]);
        size_t chunks[] = {len, 1};
        for (size_t k = 0; k < 2; k++) {
            char *got = words_of(docs[i], len, chunks[k], NULL);
            cr_expect(!strncmp(got, "alpha", 5), "%s -> %s", docs[i], got);
            cr_expect(!strstr(got, "var") && !strstr(got, "comm") && !strstr(got, "tpl"),
                      "%s -> %s", docs[i], got);
            free(got);
        }
    }
    /* every prefix of a real page */
    const char page[] =
        "<!DOCTYPE html><html><head><title>T</title><script>if (a < b) x();</script>"
        "<style>p { color: red }</style></head><body><p>one &amp; two</p>"
        "<!-- note --><div>three<br>four</div></body></html>";
    for (size_t n = 0; n <= sizeof page - 1; n++) {
        char *got = words_of(page, n, 5, NULL);
        cr_expect(!strstr(got, "color") && !strstr(got, "note"), "prefix %zu: %s", n, got);
        free(got);
    }
}

Test(html_text, very_deep_nesting) {
    const char *opens[] = {"<div>", "<b>", "<table><tr><td>", "<ul><li>", "<span>"};
    for (size_t k = 0; k < sizeof opens / sizeof opens[0]; k++) {
        struct buf deep;
        buf_init(&deep);
        for (int i = 0; i < 100000; i++) buf_append_str(&deep, opens[k]);
        buf_append_str(&deep, "bottom");
        char *got = words_of(deep.data, deep.len, 16384, NULL);
        cr_expect_str_eq(got, "bottom", "%s x 100000", opens[k]);
        free(got);
        buf_free(&deep);
    }
}

Test(html_text, nul_bytes_anywhere) {
    const char doc[] = "<p\0>one</p>\0<div>two\0three</div><scr\0ipt>four</script><p>five";
    char *got = words_of(doc, sizeof doc - 1, 3, NULL);
    cr_expect(strstr(got, "one") && strstr(got, "two") && strstr(got, "five"), "%s", got);
    free(got);
}

/* Garbage: random bytes, and random mixes of HTML pieces, in random
 * chunks. Nothing to assert but that it ends (the suite's timeout) and
 * leaks nothing (the sanitizer run). */
Test(html_text, garbage_does_not_crash) {
    static const char *bits[] = {
        "<",          ">",    "</",       "<p>", "<script>", "</script>", "&",
        "&amp;",      "&#x",  "<!--",     "-->", "\"",       "'",         "<meta charset=",
        "shift_jis>", "\xff", "\xe6\x9d", "\0",  "word",     " ",         "<![CDATA[",
        "]]>",        "<?",   "<style>",  "</"};
    srand(99);
    char doc[8192];
    for (int iter = 0; iter < 300; iter++) {
        size_t len = 0;
        while (len < sizeof doc - 32) {
            if (iter % 2) {
                doc[len++] = (char)(rand() & 0xFF);
            } else {
                const char *b = bits[rand() % (sizeof bits / sizeof bits[0])];
                size_t bl = b[0] ? strlen(b) : 1;
                memcpy(doc + len, b, bl);
                len += bl;
            }
        }
        char *got = words_of(doc, len, (size_t)(1 + rand() % 700), NULL);
        free(got);
    }
}

static void
on_len(const char *text, size_t len, void *arg) {
    (void)text;
    *(size_t *)arg += len;
}

/* A long run of text with no tag in it reaches the callback in pieces
 * (the buffer stays bounded) cut at white space, so no word is split;
 * text with no white space at all is cut too, and nothing is lost. */
Test(html_text, long_text_is_handed_on_in_pieces) {
    struct buf doc;
    buf_init(&doc);
    buf_append_str(&doc, "<p>");
    for (int i = 0; i < 200000; i++) buf_append_str(&doc, "word ");
    buf_append_str(&doc, "</p>");
    char *got = words_of(doc.data, doc.len, 16384, NULL);
    /* 200000 times "word", joined by single spaces: every word whole */
    size_t n = 0, len = strlen(got), bad = 0;
    for (size_t i = 0; i < len; i += 5, n++) bad += memcmp(got + i, "word", 4) != 0;
    cr_expect_eq(n, 200000);
    cr_expect_eq(bad, 0);
    cr_expect_eq(len, 200000 * 5 - 1);
    free(got);
    buf_free(&doc);

    /* 3 * 100000 bytes of ideographs and no space */
    buf_init(&doc);
    buf_append_str(&doc, "<p>");
    for (int i = 0; i < 50000; i++) buf_append_str(&doc, "東京");
    buf_append_str(&doc, "</p>");
    size_t total = 0;
    html_text_t *h = html_text_new(NULL, on_len, &total);
    for (size_t off = 0; off < doc.len; off += 4096)
        cr_assert_eq(html_text_feed(h, doc.data + off, doc.len - off < 4096 ? doc.len - off : 4096),
                     0);
    cr_assert_eq(html_text_finish(h), 0);
    html_text_free(h);
    cr_expect_geq(total, 300000u, "no byte of text lost");
    buf_free(&doc);
}
