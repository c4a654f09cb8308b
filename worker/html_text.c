#include "worker/html_text.h"

#include <libxml/HTMLparser.h>
#include <libxml/parserInternals.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "worker/charset.h"

/* Text is handed on once this much has gathered (at a word boundary). */
#define FLUSH_AT 32768

/* A chunk never ends inside a short tag: a tag start ('<' with no '>'
 * after it) closer than this to the end waits for the next bytes.
 * libxml2 2.9's push parser loses the end of a <script> or <style> whose
 * "</script>" is split between two chunks, and everything after it. */
#define TAG_HOLD_MAX 1024

struct html_text {
    htmlParserCtxtPtr ctxt; /* NULL until the charset is known */
    char header_charset[CHARSET_NAME_MAX];
    char charset[CHARSET_NAME_MAX];
    struct charset_conv conv;
    struct buf raw;  /* bytes not yet decoded (only while sniffing) */
    struct buf utf8; /* decoded, not yet given to libxml2 */
    bool failed;
    html_text_cb cb;
    void *arg;
    int skip_depth; /* inside script/style/noscript/template */
    struct buf text;
    size_t no_space; /* text[0..no_space) holds no white space (flush_long) */
};

enum elem { ELEM_BLOCK, ELEM_INLINE, ELEM_SKIP };

/* classify: text inside script, style, noscript and template is not
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
        if (IS("style")) return ELEM_SKIP;
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

static void
flush(struct html_text *h) {
    if (h->text.len) h->cb(h->text.data, h->text.len, h->arg);
    buf_reset(&h->text);
    h->no_space = 0;
}

static bool
is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static void
boundary(struct html_text *h) {
    if (h->text.len >= FLUSH_AT) flush(h);
    else if (h->text.len && h->text.data[h->text.len - 1] != ' ') buf_append_char(&h->text, ' ');
}

static void
on_start(void *ctx, const xmlChar *name, const xmlChar **attrs) {
    struct html_text *h = ctx;
    (void)attrs;
    enum elem k = classify((const char *)name);
    if (k == ELEM_SKIP) h->skip_depth++;
    else if (k == ELEM_BLOCK) boundary(h);
}

static void
on_end(void *ctx, const xmlChar *name) {
    struct html_text *h = ctx;
    enum elem k = classify((const char *)name);
    if (k == ELEM_SKIP) {
        if (h->skip_depth > 0) h->skip_depth--;
    } else if (k == ELEM_BLOCK) {
        boundary(h);
    }
}

/* flush_long hands on a long run of text with no element boundary in
 * it, up to its last white space, so the buffer stays near FLUSH_AT
 * whatever the page. Text with no ASCII white space at all (Chinese,
 * Japanese) is cut at a character boundary once it reaches 4 * FLUSH_AT:
 * one word in 128 KiB may then be cut in two. */
static void
flush_long(struct html_text *h) {
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
    size_t rest = h->text.len - cut;
    memmove(h->text.data, d + cut, rest);
    h->text.len = rest;
    h->text.data[rest] = '\0';
    h->no_space = rest; /* what is left has no white space */
}

static void
on_characters(void *ctx, const xmlChar *ch, int len) {
    struct html_text *h = ctx;
    if (h->skip_depth > 0 || len <= 0) return;
    buf_append(&h->text, ch, (size_t)len);
    if (h->text.len >= 2 * FLUSH_AT) flush_long(h);
}

html_text_t *
html_text_new(const char *charset, html_text_cb cb, void *arg) {
    struct html_text *h = xcalloc(1, sizeof *h);
    h->cb = cb;
    h->arg = arg;
    buf_init(&h->text);
    buf_init(&h->raw);
    buf_init(&h->utf8);
    if (charset) snprintf(h->header_charset, sizeof h->header_charset, "%s", charset);
    return h;
}

/* Only these callbacks: no tree is built. White space libxml2 thinks
 * ignorable still separates words, so it is text too. The bodies of
 * script and style arrive through characters (cdataBlock is NULL) and
 * are dropped there by skip_depth. libxml2 copies the handler. */
static htmlSAXHandler sax = {
    .startElement = on_start,
    .endElement = on_end,
    .characters = on_characters,
    .ignorableWhitespace = on_characters,
};

/* start decides the charset from what has arrived and starts libxml2 on
 * UTF-8 (the conversion is ours, so libxml2 is told to ignore <meta>). */
static int
start(struct html_text *h) {
    size_t bom;
    charset_sniff(h->raw.data ? h->raw.data : "", h->raw.len,
                  h->header_charset[0] ? h->header_charset : NULL, h->charset, &bom);
    char err[128];
    if (charset_conv_open(&h->conv, h->charset, err, sizeof err) < 0) return -1;
    h->ctxt = htmlCreatePushParserCtxt(&sax, h, NULL, 0, NULL, XML_CHAR_ENCODING_UTF8);
    if (!h->ctxt) return -1;
    htmlCtxtUseOptions(h->ctxt, HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_RECOVER |
                                    HTML_PARSE_NONET | HTML_PARSE_COMPACT | HTML_PARSE_IGNORE_ENC);
    struct buf raw = h->raw;
    buf_init(&h->raw);
    int rc =
        charset_conv_feed(&h->conv, raw.data ? raw.data + bom : "", raw.len - bom, false, &h->utf8);
    buf_free(&raw);
    return rc;
}

/* parse gives libxml2 the decoded text, holding back a trailing tag start. */
static void
parse(struct html_text *h, bool terminate) {
    size_t n = h->utf8.len;
    if (!terminate && n) {
        const char *d = h->utf8.data;
        const char *lt = memrchr(d, '<', n);
        if (lt && !memchr(lt, '>', (size_t)(d + n - lt)) && (size_t)(d + n - lt) < TAG_HOLD_MAX)
            n = (size_t)(lt - d);
    }
    const char *d = h->utf8.data;
    for (size_t off = 0; off < n;) {
        int k = n - off > (1 << 20) ? 1 << 20 : (int)(n - off);
        htmlParseChunk(h->ctxt, d + off, k, 0);
        off += (size_t)k;
    }
    size_t rest = h->utf8.len - n;
    if (rest) memmove(h->utf8.data, h->utf8.data + n, rest);
    h->utf8.len = rest;
    if (h->utf8.data) h->utf8.data[rest] = '\0';
    if (terminate) htmlParseChunk(h->ctxt, NULL, 0, 1);
}

int
html_text_feed(html_text_t *h, const char *data, size_t len) {
    if (h->failed) return -1;
    if (!h->ctxt) {
        buf_append(&h->raw, data, len);
        if (h->raw.len < CHARSET_SNIFF_BYTES) return 0;
        if (start(h) < 0) return h->failed = true, -1;
    } else if (charset_conv_feed(&h->conv, data, len, false, &h->utf8) < 0) {
        return h->failed = true, -1;
    }
    parse(h, false);
    return 0;
}

int
html_text_finish(html_text_t *h) {
    if (h->failed) return -1;
    if (!h->ctxt && start(h) < 0) return h->failed = true, -1;
    if (charset_conv_feed(&h->conv, "", 0, true, &h->utf8) < 0) return h->failed = true, -1;
    parse(h, true);
    flush(h);
    return 0;
}

const char *
html_text_charset(const html_text_t *h) {
    return h->charset[0] ? h->charset : NULL;
}

void
html_text_free(html_text_t *h) {
    if (!h) return;
    if (h->ctxt) {
        if (h->ctxt->myDoc) xmlFreeDoc(h->ctxt->myDoc);
        htmlFreeParserCtxt(h->ctxt);
    }
    charset_conv_close(&h->conv);
    buf_free(&h->raw);
    buf_free(&h->utf8);
    buf_free(&h->text);
    free(h);
}
