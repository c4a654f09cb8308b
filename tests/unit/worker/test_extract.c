/* The extract stage: the content type table, the HTML implementation
 * (our HTML5 scanner: what a reader sees, hidden markup left out) and
 * the plain text one, fed in pieces; and Unicode words (ICU). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "worker/extract.h"
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

/* extract_text runs a document of media type `type` through the extract
 * stage, fed in pieces of `chunk` bytes, and returns its text (the
 * caller frees it). */
static char *
extract_text(const char *type, const char *doc, size_t len, size_t chunk, const char *charset) {
    struct buf text;
    buf_init(&text);
    const struct extract_type *t = extract_find(type);
    cr_assert_not_null(t, "%s is not in the table", type);
    extract_t *x = extract_open(t, charset, on_text, &text);
    cr_assert_not_null(x);
    for (size_t off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        cr_assert_eq(extract_feed(x, doc + off, n), 0);
    }
    cr_assert_eq(extract_finish(x), 0);
    extract_free(x);
    buf_append(&text, "", 0);
    return buf_steal(&text);
}

/* words_of extracts html fed in pieces of `chunk` bytes and tokenizes
 * the text; the words come back joined by single spaces. */
static char *
words_of(const char *html, size_t len, size_t chunk, const char *charset) {
    char *text = extract_text("text/html", html, len, chunk, charset);
    struct tokenizer t;
    char err[256];
    cr_assert_eq(tokenizer_init(&t, err, sizeof err), 0, "%s", err);
    struct buf words;
    buf_init(&words);
    tokenize_text(&t, text, strlen(text), on_word, &words);
    tokenizer_free(&t);
    free(text);
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

Test(extract_html, visible_text_only) {
    expect_words("<html><head><title>Title here</title>"
                 "<style>body { color: red }</style>"
                 "<script>var notAWord = 1; function f() {}</script></head>"
                 "<body><noscript>enable js</noscript><template>hidden tpl</template>"
                 "<p>Visible words</p></body></html>",
                 "visible words");
}

Test(extract_html, blocks_and_br_separate_words) {
    expect_words(
        "<div>Acronyms</div><div>Appendix</div><p>one<br>two</p><li>three</li><li>four</li>"
        "<td>five</td><td>six</td><h1>seven</h1>eight",
        "acronyms appendix one two three four five six seven eight");
}

Test(extract_html, inline_elements_do_not_split_words) {
    expect_words("<p>won<b>der</b>ful <i>day</i></p>", "wonderful day");
}

Test(extract_html, entities_decoded) {
    expect_words("<p>caf&eacute; &amp; cr&#232;me &lt;tag&gt; don&#x27;t</p>",
                 "café crème tag don't");
}

Test(extract_html, malformed_html_does_not_crash) {
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

Test(extract_html, charset_from_meta_and_header) {
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

Test(extract_html, white_space_between_inline_elements_separates) {
    expect_words("<p><b>one</b> <i>two</i>\n<span>three</span>&nbsp;<em>four</em></p>",
                 "one two three four");
}

Test(extract_html, more_boundaries) {
    expect_words(
        "<ul><li>one<li>two</ul><table><tr><td>three<td>four</table>five<hr>six"
        "<img src=x>seven<my-widget>eight</my-widget>nine<wbr>ten",
        "one two three four five six seven eight nineten"); /* wbr: a break opportunity only */
}

Test(extract_html, form_text_counts_title_and_comments_do_not) {
    expect_words("<title>Page title</title><!-- hidden comment --><?php echo 'pi' ?>"
                 "<p>shown</p><textarea>typed text</textarea>",
                 "shown typed text");
}

/* --- what a reader does not see (issue 13, item 10) --- */

Test(extract_html, hidden_elements_and_title_do_not_count) {
    /* the page: only alpha is shown */
    expect_words("<head><title>Zebra</title></head><body><p>alpha</p>"
                 "<div style=\"display:none\">hidden</div><p hidden>hid2</p></body>",
                 "alpha");
    /* a title is the tab's label wherever it is, even in an inline SVG */
    expect_words("<body><svg><title>tip</title></svg><p>x</p><title>late</title>y</body>", "x y");
}

Test(extract_html, hidden_markup_hides_everything_inside) {
    expect_words("<div hidden><p>a<div>b<span style=\"display:block\">c</span></div>d"
                 "<p style=\"visibility:visible\">e</p></div>f",
                 "f");
    expect_words("<div style=\"display:none\"><p style=\"visibility:visible\">a</p>"
                 "<div><div><b>b</b></div></div></div><p>c</p>",
                 "c");
    expect_words("<ul><li>one<li hidden>two<li>three</ul><table><tr><td hidden>four"
                 "<td>five</table><select hidden><option>six</select>seven",
                 "one three five seven");
    /* hidden inside hidden: the outer end shows again */
    expect_words("<div hidden>a<div hidden>b</div>c</div>d<div hidden>e</div>f", "d f");
    /* an element the parser closes ends its hiding: <div> closes a <p> */
    expect_words("<p hidden>a<div>b</div>", "b");
    /* a document cut inside a hidden element */
    expect_words("<p>a</p><div hidden>b", "a");
    expect_words("<p>a</p><div style=\"display:none\">b<scr", "a");
}

Test(extract_html, style_attribute_in_any_case_and_spacing) {
    expect_words("<P HIDDEN>a</P><div STYLE=\"DISPLAY:NONE\">b</div>"
                 "<div style=\"Display : None\">c</div>"
                 "<div style=\" display:none ; color:red\">d</div>"
                 "<div style=\"color:red;display:none;\">e</div>"
                 "<div style=\"display:\n\tnone\">f</div>"
                 "<span style=\"visibility:HIDDEN\">g</span>"
                 "<span style=\"VISIBILITY: collapse\">h</span>"
                 "<div style=\"display: none !important\">i</div>"
                 "<div style=\"display:none!IMPORTANT\">j</div>"
                 "<div style=\"display:none ! important\">k</div>shown",
                 "shown");
}

Test(extract_html, last_declaration_wins_unless_important) {
    expect_words("<div style=\"display:none; display:block\">a</div>"
                 "<div style=\"display:block; display:none\">b</div>"
                 "<div style=\"display:none !important; display:block\">c</div>"
                 "<div style=\"display:block !important; display:none\">d</div>"
                 "<div style=\"visibility:hidden; visibility:visible\">e</div>"
                 "<div style=\"visibility:visible !important; visibility:hidden\">f</div>",
                 "a d e f");
}

/* CSS inherits visibility, and a descendant may set it back to visible:
 * that text counts. */
Test(extract_html, visibility_visible_inside_hidden_counts) {
    expect_words("<div style=\"visibility:hidden\">a<p>b<span style=\"visibility:visible\">"
                 "c</span>d</p><p style=\"visibility:visible\">e <b>f</b>"
                 "<i style=\"visibility:hidden\">g</i></p>h</div>i",
                 "c e f i");
    expect_words("<div style=\"visibility:visible\"><span style=\"display:none\">a</span>b"
                 "<span style=\"visibility:hidden\">c</span></div>d",
                 "b d");
    /* initial is visible; inherit and unset leave the parent's */
    expect_words("<div style=\"visibility:hidden\"><p style=\"visibility:initial\">a</p>"
                 "<p style=\"visibility:inherit\">b</p><p style=\"visibility:unset\">c</p></div>",
                 "a");
}

/* The author's display overrides the browser's [hidden] { display: none }. */
Test(extract_html, inline_display_overrides_the_hidden_attribute) {
    expect_words("<div hidden style=\"display:block\">shown</div>"
                 "<div hidden style=\"color:red\">gone</div><div hidden=\"hidden\">gone</div>"
                 "<div hidden=\"until-found\">gone</div><div hidden style=\"display:none\">gone"
                 "</div>",
                 "shown");
}

Test(extract_html, what_is_not_hidden_markup_still_counts) {
    expect_words("<div style=\"display:block\">a</div><div style=\"visibility:visible\">b</div>"
                 "<div style=\"display: nonesuch\">c</div><div style=\"xdisplay:none\">d</div>"
                 "<div data-hidden=\"true\">e</div><div aria-hidden=\"true\">f</div>"
                 "<div class=\"hidden\">g</div><div style=\"opacity:0\">h</div>"
                 "<div style=\"display:\">i</div><div style>j</div><div style=\"\">k</div>"
                 "<div style=\"font-family:'display:none'\">l</div>"
                 "<div style=\"visibility:hiddenx\">m</div><div title=\"t\">n</div>",
                 "a b c d e f g h i j k l m n");
}

/* Many nested visibility declarations: the stack is bounded, the text
 * of those past its depth follows the nearest tracked one. */
Test(extract_html, deep_visibility_nesting) {
    struct buf doc;
    buf_init(&doc);
    for (int i = 0; i < 200; i++)
        buf_printf(&doc, "<div style=\"visibility:%s\">", i % 2 ? "visible" : "hidden");
    buf_append_str(&doc, "deep");
    for (int i = 0; i < 200; i++) buf_append_str(&doc, "</div>");
    buf_append_str(&doc, "after");
    char *got = words_of(doc.data, doc.len, 1000, NULL);
    cr_expect(!strcmp(got, "after") || !strcmp(got, "deep after"), "%s", got);
    free(got);
    buf_free(&doc);
}

/* --- the scanner's own rules (HTML5 tokenizer and tree builder) --- */

Test(extract_html, comments_and_declarations_as_html5_ends_them) {
    expect_words("a <!-->b <!--->c <!-- x -- y -->d <!-- z --!>e <!-- <p>w</p> -->f "
                 "<?xml version='1.0'?>g <!DOCTYPE html>h <![CDATA[ cdata ]]>i </ bogus>j "
                 "<!-x>k < l <3 m",
                 "a b c d e f g h i j k l m");
    /* a comment left open hides the rest */
    expect_words("<p>a</p><!-- <p>b</p> -- >c", "a");
}

Test(extract_html, raw_text_ends_only_at_its_own_end_tag) {
    expect_words("<script>if (a</b) s = '</scriptx>';</script>one "
                 "<style>p{}</STYLE >two<textarea>&lt;b&gt; &amp; x</textarea >"
                 "<xmp><b>bold</b></xmp><p>three</p>",
                 "one two b x b bold b three");
    /* an end tag that closes raw text may carry attributes */
    expect_words("<script>x</script foo=\"a>b\">after", "after");
    /* raw text left open hides the rest, and the cut end tag is no tag */
    expect_words("<p>a</p><script>b</scr", "a");
    expect_words("<p>a</p><textarea>b</textar", "a b textar");
}

Test(extract_html, character_references_as_html5_reads_them) {
    expect_words(
        "<p>don&#146;t a&#0;b c&#xD800;d e&#1114112;f caf&eacute caf&eacute; "
        "&hellip; &hellip &notanentity; &amp z &#65&#66; &#x; &#; &#X41;&#x62;</p>",
        "don\xe2\x80\x99t a b c d e f caf\xc3\xa9 caf\xc3\xa9 hellip notanentity z ab x ab");
    /* references are not read inside script, nor where the text is hidden */
    expect_words("<script>&lt;</script><div hidden>&amp;</div>&lt;ok&gt;", "ok");
    /* a reference cut by the end of the document is the text it was */
    expect_words("x &eacute", "x \xc3\xa9");
    expect_words("x &#x4", "x");
    expect_words("x &amp", "x");
}

Test(extract_html, tags_in_any_case_and_spacing) {
    expect_words("<DIV HIDDEN>a</DIV><div\nhidden\n>b</div><div hidden=''>c</div>"
                 "<div style=display:none>d</div><div title='x>y' hidden>e</div>"
                 "<div title=\"a'b\">f</div><div/hidden>g</div><div class=x/ hidden>h</div>"
                 "<Div Style = ' DISPLAY : NONE '>i</dIV>shown",
                 "f shown");
    /* only the first style attribute counts, as HTML5 drops repeats */
    expect_words("<div style=\"color:red\" style=\"display:none\">a</div>"
                 "<div style=\"display:none\" style=\"display:block\">b</div>",
                 "a");
}

Test(extract_html, implied_end_tags_close_hidden_elements) {
    expect_words("<p hidden>a<ul><li>b</ul><dl><dt hidden>c<dd>d</dl>"
                 "<select><option hidden>e<option>f</select>"
                 "<table><tr hidden><td>g<tr><td>h</table>",
                 "b d f h");
    /* an end tag does not close past a table cell */
    expect_words("<div hidden><table><tr><td></div>x</td></tr></table></div>y", "y");
    /* an end tag with no open element is ignored; an inline one glues */
    expect_words("<b>wo</i>rd</b> <span>a</div>b</span>", "word a b");
}

Test(extract_html, self_closing_tags_close_only_in_svg_and_math) {
    expect_words("<p>a<svg><g hidden/>b<title>tip</title><text>c</text></svg>d</p>"
                 "<math><mi hidden/>e</math><div hidden/>f",
                 "a b c d e");
}

Test(extract_html, never_rendered_and_plaintext_elements) {
    expect_words("<iframe>frame <b>text</b></iframe>a <noembed>x</noembed>b "
                 "<noframes>y</noframes>c <noscript><p>z</p></noscript>"
                 "<plaintext><b>all</b> &amp; </plaintext>",
                 "a b c b all b amp plaintext");
}

/* Deeper than the stack of named elements, elements are counted: an end
 * tag closes the deepest, so a hidden element down there still ends. */
Test(extract_html, hidden_element_deeper_than_the_stack) {
    struct buf doc;
    buf_init(&doc);
    for (int i = 0; i < 700; i++) buf_append_str(&doc, "<div>");
    buf_append_str(&doc, "<div hidden>x<span>x2</span></div>y");
    for (int i = 0; i < 700; i++) buf_append_str(&doc, "</div>");
    buf_append_str(&doc, "z<p hidden>w</p>");
    size_t chunks[] = {doc.len, 1, 4096};
    for (size_t k = 0; k < 3; k++) {
        char *got = words_of(doc.data, doc.len, chunks[k], NULL);
        cr_expect_str_eq(got, "y z", "chunk %zu", chunks[k]);
        free(got);
    }
    buf_free(&doc);
}

/* --- the table and the plain text implementation --- */

Test(extract, one_table_of_content_types) {
    cr_expect_not_null(extract_find("text/html"));
    cr_expect_eq(extract_find("application/xhtml+xml"), extract_find("application/xhtml+xml"));
    cr_expect_eq(extract_find("application/xhtml+xml")->impl, extract_find("text/html")->impl);
    cr_expect_eq(extract_find("text/plain")->decode, DECODE_TEXT);
    cr_expect_eq(extract_find("text/html")->decode, DECODE_HTML);
    cr_expect_neq(extract_find("text/plain")->impl, extract_find("text/html")->impl);
    const char *not_ours[] = {"application/pdf", "image/png", "text/css", "text/html; charset=x",
                              "TEXT/HTML",       "",          "text",     "text/"};
    for (size_t i = 0; i < sizeof not_ours / sizeof not_ours[0]; i++)
        cr_expect_null(extract_find(not_ours[i]), "%s", not_ours[i]);
}

Test(extract_plain, all_text_is_text) {
    const char doc[] = "<p>tags are text</p> <meta charset=koi8-r> caf\xc3\xa9 &amp;";
    size_t chunks[] = {sizeof doc - 1, 1, 7};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        char *got = extract_text("text/plain", doc, sizeof doc - 1, chunks[i], NULL);
        cr_expect_str_eq(got, doc, "chunk %zu", chunks[i]);
        free(got);
    }
    /* the header's charset, not the <meta> */
    char *got = extract_text("text/plain", "<meta charset=utf-8>caf\xe9", 25, 25, "iso-8859-1");
    cr_expect_str_eq(got, "<meta charset=utf-8>caf\xc3\xa9");
    free(got);
    got = extract_text("text/plain", "", 0, 1, NULL);
    cr_expect_str_eq(got, "");
    free(got);
}

struct pieces {
    size_t n, bytes, bad; /* pieces, their bytes, pieces not ending at white space */
};

static void
on_piece(const char *text, size_t len, void *arg) {
    struct pieces *p = arg;
    p->n++;
    p->bytes += len;
    if (len && !strchr(" \n", text[len - 1])) p->bad++;
}

/* Long plain text reaches the callback in pieces cut at white space (a
 * word is never cut); with no white space at all it is cut anyway, so
 * nothing waits without bound, and no byte is lost. */
Test(extract_plain, long_text_in_bounded_pieces) {
    struct buf doc;
    buf_init(&doc);
    for (int i = 0; i < 100000; i++) buf_append_str(&doc, i % 10 == 9 ? "word\n" : "word ");
    struct pieces p = {0};
    extract_t *x = extract_open(extract_find("text/plain"), NULL, on_piece, &p);
    for (size_t off = 0; off < doc.len; off += 4096)
        cr_assert_eq(extract_feed(x, doc.data + off, doc.len - off < 4096 ? doc.len - off : 4096),
                     0);
    cr_expect_gt(p.n, 10u, "handed on while arriving");
    cr_expect_eq(p.bad, 0, "a piece ended inside a word");
    cr_assert_eq(extract_finish(x), 0);
    extract_free(x);
    cr_expect_eq(p.bytes, doc.len);
    buf_free(&doc);

    buf_init(&doc);
    for (int i = 0; i < 100000; i++) buf_append_str(&doc, "東京");
    struct pieces q = {0};
    x = extract_open(extract_find("text/plain"), NULL, on_piece, &q);
    for (size_t off = 0; off < doc.len; off += 4096)
        cr_assert_eq(extract_feed(x, doc.data + off, doc.len - off < 4096 ? doc.len - off : 4096),
                     0);
    cr_expect_gt(q.n, 2u, "text with no white space is cut too");
    cr_assert_eq(extract_finish(x), 0);
    extract_free(x);
    cr_expect_eq(q.bytes, doc.len, "no byte lost");
    buf_free(&doc);
}

/* Each truncated document is cut inside something: a tag, an entity, a
 * comment, a script. What came before the cut counts; nothing of the
 * script or comment does; nothing crashes, leaks or hangs. */
Test(extract_html, truncated_documents) {
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

Test(extract_html, very_deep_nesting) {
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

Test(extract_html, nul_bytes_anywhere) {
    const char doc[] = "<p\0>one</p>\0<div>two\0three</div><scr\0ipt>four</script><p>five";
    char *got = words_of(doc, sizeof doc - 1, 3, NULL);
    cr_expect(strstr(got, "one") && strstr(got, "two") && strstr(got, "five"), "%s", got);
    free(got);
}

/* Garbage: random bytes, and random mixes of HTML pieces, in random
 * chunks. Nothing to assert but that it ends (the suite's timeout) and
 * leaks nothing (the sanitizer run). */
Test(extract_html, garbage_does_not_crash) {
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
Test(extract_html, long_text_is_handed_on_in_pieces) {
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
    extract_t *x = extract_open(extract_find("text/html"), NULL, on_len, &total);
    for (size_t off = 0; off < doc.len; off += 4096)
        cr_assert_eq(extract_feed(x, doc.data + off, doc.len - off < 4096 ? doc.len - off : 4096),
                     0);
    cr_assert_eq(extract_finish(x), 0);
    extract_free(x);
    cr_expect_geq(total, 300000u, "no byte of text lost");
    buf_free(&doc);
}
