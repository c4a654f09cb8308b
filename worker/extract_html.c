/* extract_html — the HTML implementation of extract.h: the text a reader
 * sees, parsed chunk by chunk as it arrives (libxml2's HTML push parser
 * with SAX callbacks, so no tree is built), fed UTF-8 by the decode
 * stage (libxml2 is told to ignore <meta>: the charset is decided there).
 *
 * Left out: what is never rendered, that is the content of script, style,
 * noscript, template and title, and of elements hidden by their own
 * markup: the hidden attribute, or display:none in the style attribute
 * (no style sheet is evaluated), with everything inside them; and text
 * whose element (or nearest ancestor saying so) has visibility:hidden or
 * collapse in its style attribute, unless visibility:visible says
 * otherwise closer in, as CSS inherits visibility. A display set in the
 * style attribute overrides the hidden attribute, as the author's style
 * overrides the browser's [hidden] { display: none }. Comments are not
 * text; entities are decoded by libxml2.
 *
 * A block-level element or <br> ends a word, so adjacent blocks never
 * glue together; inline ones (<b>, <span>, <a> ...) do not. Text reaches
 * the callback in pieces that end at a word boundary.
 *
 * Owns: the parser context, the visibility stack and a text buffer. */
#include <libxml/HTMLparser.h>
#include <libxml/parserInternals.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "worker/extract.h"

/* Text is handed on once this much has gathered (at a word boundary). */
#define FLUSH_AT 32768

/* A chunk never ends inside a short tag: a tag start ('<' with no '>'
 * after it) closer than this to the end waits for the next bytes.
 * libxml2 2.9's push parser loses the end of a <script> or <style> whose
 * "</script>" is split between two chunks, and everything after it. */
#define TAG_HOLD_MAX 1024

/* Nested visibility declarations tracked; deeper ones are ignored (their
 * text follows the outer ones). */
#define VISIBILITY_MAX 32

struct html {
    htmlParserCtxtPtr ctxt;
    extract_text_cb cb;
    void *arg;
    /* Depths are libxml2's own count of open elements (ctxt->nameNr),
     * which stays right when the parser closes elements itself. */
    int hidden_at; /* depth of the outermost element not rendered; 0: none */
    struct {
        int depth;
        bool hidden;
    } vis[VISIBILITY_MAX]; /* elements that set visibility, outermost first */
    int nvis;
    struct buf text;
    size_t no_space; /* text[0..no_space) holds no white space (flush_long) */
};

enum elem { ELEM_BLOCK, ELEM_INLINE, ELEM_SKIP };

/* classify: script, style, noscript, template and title are never
 * shown; inline elements do not separate words ("<b>wo</b>rd" is one
 * word); every other element (blocks, br, img, unknown ones) does.
 * libxml2 hands HTML names over in lower case. This runs for every start
 * and end tag, so it switches on the length and compares fixed-size
 * memory (which compilers turn into one integer comparison). */
static enum elem
classify(const char *name) {
#define IS(lit) (memcmp(name, lit, sizeof lit - 1) == 0)
    switch (strlen(name)) {
    case 1:
        return strchr("abiqsu", name[0]) ? ELEM_INLINE : ELEM_BLOCK;
    case 2:
        return IS("em") || IS("rb") || IS("tt") ? ELEM_INLINE : ELEM_BLOCK;
    case 3:
        return IS("bdi") || IS("bdo") || IS("big") || IS("del") || IS("dfn") || IS("ins") ||
                       IS("kbd") || IS("sub") || IS("sup") || IS("var") || IS("wbr")
                   ? ELEM_INLINE
                   : ELEM_BLOCK;
    case 4:
        return IS("span") || IS("code") || IS("abbr") || IS("cite") || IS("data") || IS("font") ||
                       IS("mark") || IS("nobr") || IS("ruby") || IS("samp") || IS("time")
                   ? ELEM_INLINE
                   : ELEM_BLOCK;
    case 5:
        if (IS("style") || IS("title")) return ELEM_SKIP;
        return IS("label") || IS("small") ? ELEM_INLINE : ELEM_BLOCK;
    case 6:
        if (IS("script")) return ELEM_SKIP;
        return IS("strong") || IS("strike") ? ELEM_INLINE : ELEM_BLOCK;
    case 8:
        return IS("noscript") || IS("template") ? ELEM_SKIP : ELEM_BLOCK;
    default:
        return ELEM_BLOCK;
    }
#undef IS
}

/* What an element's own markup says about showing it. */
enum shown { SHOWN_UNSAID, SHOWN_YES, SHOWN_NO };

struct style_says {
    enum shown display;    /* NO: display:none; YES: another display */
    enum shown visibility; /* NO: hidden or collapse; YES: visible or initial */
};

static bool
css_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

/* word_is compares s[0..n) with a lower-case keyword, ignoring case. */
static bool
word_is(const char *s, size_t n, const char *kw) {
    return strlen(kw) == n && !strncasecmp(s, kw, n);
}

/* read_style reads the display and visibility declarations of a style
 * attribute. As in CSS, names and keywords ignore case, the last
 * declaration of a property wins, and an !important one beats the
 * plain ones after it. Anything else in the attribute is skipped. */
static struct style_says
read_style(const char *s) {
    struct style_says says = {SHOWN_UNSAID, SHOWN_UNSAID};
    bool display_important = false, visibility_important = false;
    while (*s) {
        size_t decl = strcspn(s, ";");
        const char *colon = memchr(s, ':', decl);
        if (colon) {
            const char *name = s, *value = colon + 1, *end = s + decl;
            while (name < colon && css_space(*name)) name++;
            const char *name_end = colon;
            while (name_end > name && css_space(name_end[-1])) name_end--;
            while (value < end && css_space(*value)) value++;
            while (end > value && css_space(end[-1])) end--;
            bool important = false;
            const char *bang = memchr(value, '!', (size_t)(end - value));
            if (bang) {
                const char *kw = bang + 1;
                while (kw < end && css_space(*kw)) kw++;
                important = word_is(kw, (size_t)(end - kw), "important");
                end = bang;
                while (end > value && css_space(end[-1])) end--;
            }
            size_t nlen = (size_t)(name_end - name), vlen = (size_t)(end - value);
            if (vlen && word_is(name, nlen, "display") && (important || !display_important)) {
                says.display = word_is(value, vlen, "none") ? SHOWN_NO : SHOWN_YES;
                display_important = important;
            } else if (vlen && word_is(name, nlen, "visibility") &&
                       (important || !visibility_important)) {
                if (word_is(value, vlen, "hidden") || word_is(value, vlen, "collapse"))
                    says.visibility = SHOWN_NO, visibility_important = important;
                else if (word_is(value, vlen, "visible") || word_is(value, vlen, "initial"))
                    says.visibility = SHOWN_YES, visibility_important = important;
            }
        }
        s += decl;
        if (*s) s++;
    }
    return says;
}

static void
flush(struct html *h) {
    if (h->text.len) h->cb(h->text.data, h->text.len, h->arg);
    buf_reset(&h->text);
    h->no_space = 0;
}

static bool
is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static void
boundary(struct html *h) {
    if (h->text.len >= FLUSH_AT) flush(h);
    else if (h->text.len && h->text.data[h->text.len - 1] != ' ') buf_append_char(&h->text, ' ');
}

/* hide_or_track looks at the attributes of an element that starts at
 * depth while everything around it is rendered. */
static void
hide_or_track(struct html *h, const xmlChar **attrs, int depth) {
    bool hidden_attr = false;
    struct style_says says = {SHOWN_UNSAID, SHOWN_UNSAID};
    for (; attrs && attrs[0]; attrs += 2) {
        const char *name = (const char *)attrs[0];
        if (!strcmp(name, "hidden")) hidden_attr = true;
        else if (!strcmp(name, "style") && attrs[1]) says = read_style((const char *)attrs[1]);
    }
    if (says.display == SHOWN_NO || (hidden_attr && says.display == SHOWN_UNSAID)) {
        h->hidden_at = depth;
    } else if (says.visibility != SHOWN_UNSAID && h->nvis < VISIBILITY_MAX) {
        h->vis[h->nvis].depth = depth;
        h->vis[h->nvis].hidden = says.visibility == SHOWN_NO;
        h->nvis++;
    }
}

static void
on_start(void *ctx, const xmlChar *name, const xmlChar **attrs) {
    struct html *h = ctx;
    enum elem k = classify((const char *)name);
    if (!h->hidden_at) {
        int depth = h->ctxt->nameNr;
        if (k == ELEM_SKIP) h->hidden_at = depth;
        else if (attrs) hide_or_track(h, attrs, depth);
    }
    if (k == ELEM_BLOCK) boundary(h);
}

static void
on_end(void *ctx, const xmlChar *name) {
    struct html *h = ctx;
    int depth = h->ctxt->nameNr;
    if (h->hidden_at >= depth) h->hidden_at = 0;
    while (h->nvis && h->vis[h->nvis - 1].depth >= depth) h->nvis--;
    if (classify((const char *)name) == ELEM_BLOCK) boundary(h);
}

/* flush_long hands on a long run of text with no element boundary in
 * it, up to its last white space, so the buffer stays near FLUSH_AT
 * whatever the page. Text with no ASCII white space at all (Chinese,
 * Japanese) is cut at a character boundary once it reaches 4 * FLUSH_AT:
 * one word in 128 KiB may then be cut in two. */
static void
flush_long(struct html *h) {
    const char *d = h->text.data;
    size_t cut = h->text.len;
    /* text[0..no_space) was looked at before and has no white space. */
    while (cut > h->no_space && !is_space(d[cut - 1])) cut--;
    if (cut <= h->no_space) {
        h->no_space = h->text.len;
        if (h->text.len < 4 * FLUSH_AT) return;
        /* Before the first byte of the last character, which may be
         * incomplete. */
        cut = h->text.len - 1;
        while (cut > 0 && ((unsigned char)d[cut] & 0xC0) == 0x80) cut--;
        if (cut == 0) cut = h->text.len;
    }
    h->cb(d, cut, h->arg);
    buf_consume(&h->text, cut);
    h->no_space = h->text.len; /* what is left has no white space */
}

static void
on_characters(void *ctx, const xmlChar *ch, int len) {
    struct html *h = ctx;
    if (h->hidden_at || (h->nvis && h->vis[h->nvis - 1].hidden) || len <= 0) return;
    buf_append(&h->text, ch, (size_t)len);
    if (h->text.len >= 2 * FLUSH_AT) flush_long(h);
}

/* Only these callbacks: no tree is built. White space libxml2 thinks
 * ignorable still separates words, so it is text too. The bodies of
 * script and style arrive through characters (cdataBlock is NULL) and
 * are dropped there. libxml2 copies the handler. */
static htmlSAXHandler sax = {
    .startElement = on_start,
    .endElement = on_end,
    .characters = on_characters,
    .ignorableWhitespace = on_characters,
};

static void *
html_open(extract_text_cb cb, void *arg) {
    struct html *h = xcalloc(1, sizeof *h);
    h->cb = cb;
    h->arg = arg;
    buf_init(&h->text);
    h->ctxt = htmlCreatePushParserCtxt(&sax, h, NULL, 0, NULL, XML_CHAR_ENCODING_UTF8);
    if (!h->ctxt) {
        free(h);
        return NULL;
    }
    htmlCtxtUseOptions(h->ctxt, HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_RECOVER |
                                    HTML_PARSE_NONET | HTML_PARSE_COMPACT | HTML_PARSE_IGNORE_ENC);
    return h;
}

/* parse gives libxml2 d[0..n) in pieces it takes (an int each). */
static void
parse(struct html *h, const char *d, size_t n) {
    for (size_t off = 0; off < n;) {
        int k = n - off > (1 << 20) ? 1 << 20 : (int)(n - off);
        htmlParseChunk(h->ctxt, d + off, k, 0);
        off += (size_t)k;
    }
}

/* html_feed parses what it is given but a trailing tag start. */
static size_t
html_feed(void *state, const char *d, size_t n) {
    struct html *h = state;
    const char *lt = memrchr(d, '<', n);
    if (lt && !memchr(lt, '>', (size_t)(d + n - lt)) && (size_t)(d + n - lt) < TAG_HOLD_MAX)
        n = (size_t)(lt - d);
    parse(h, d, n);
    return n;
}

static int
html_finish(void *state, const char *d, size_t n) {
    struct html *h = state;
    parse(h, d, n);
    htmlParseChunk(h->ctxt, NULL, 0, 1);
    flush(h);
    return 0;
}

static void
html_free(void *state) {
    struct html *h = state;
    if (h->ctxt->myDoc) xmlFreeDoc(h->ctxt->myDoc);
    htmlFreeParserCtxt(h->ctxt);
    buf_free(&h->text);
    free(h);
}

const struct extract_impl extract_html = {html_open, html_feed, html_finish, html_free};
