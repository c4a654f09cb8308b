#include "worker/html_text.h"

#include <libxml/HTMLparser.h>
#include <libxml/parserInternals.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/xalloc.h"

/* Text is handed on once this much has gathered (at a word boundary). */
#define FLUSH_AT 32768

struct html_text {
    htmlParserCtxtPtr ctxt;
    html_text_cb cb;
    void *arg;
    int skip_depth; /* inside script/style/noscript/template */
    struct buf text;
};

static bool
skipped(const char *name) {
    return !strcasecmp(name, "script") || !strcasecmp(name, "style") ||
           !strcasecmp(name, "noscript") || !strcasecmp(name, "template");
}

/* Inline elements do not separate words ("<b>wo</b>rd" is one word). */
static bool
is_inline(const char *name) {
    static const char *names[] = {"a",    "abbr", "b",    "bdi",  "bdo",   "cite", "code",
                                  "data", "dfn",  "em",   "font", "i",     "kbd",  "mark",
                                  "q",    "s",    "samp", "small", "span", "strong",
                                  "sub",  "sup",  "time", "tt",   "u",     "var",  "label"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcasecmp(name, names[i])) return true;
    return false;
}

static void
flush(struct html_text *h) {
    if (h->text.len) h->cb(h->text.data, h->text.len, h->arg);
    buf_reset(&h->text);
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
    if (skipped((const char *)name)) h->skip_depth++;
    else if (!is_inline((const char *)name)) boundary(h);
}

static void
on_end(void *ctx, const xmlChar *name) {
    struct html_text *h = ctx;
    if (skipped((const char *)name)) {
        if (h->skip_depth > 0) h->skip_depth--;
    } else if (!is_inline((const char *)name)) {
        boundary(h);
    }
}

static void
on_characters(void *ctx, const xmlChar *ch, int len) {
    struct html_text *h = ctx;
    if (h->skip_depth > 0 || len <= 0) return;
    buf_append(&h->text, ch, (size_t)len);
}

html_text_t *
html_text_new(const char *charset, html_text_cb cb, void *arg) {
    struct html_text *h = xcalloc(1, sizeof *h);
    h->cb = cb;
    h->arg = arg;
    buf_init(&h->text);
    static htmlSAXHandler sax;
    if (!sax.startElement) {
        sax.startElement = on_start;
        sax.endElement = on_end;
        sax.characters = on_characters;
        sax.cdataBlock = NULL; /* script/style bodies arrive as cdata: ignored */
    }
    h->ctxt = htmlCreatePushParserCtxt(&sax, h, NULL, 0, NULL, XML_CHAR_ENCODING_NONE);
    if (!h->ctxt) {
        free(h);
        return NULL;
    }
    htmlCtxtUseOptions(h->ctxt, HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_RECOVER |
                                    HTML_PARSE_NONET | HTML_PARSE_COMPACT);
    if (charset && *charset) {
        xmlCharEncodingHandlerPtr enc = xmlFindCharEncodingHandler(charset);
        if (enc) xmlSwitchToEncoding(h->ctxt, enc);
    }
    return h;
}

int
html_text_feed(html_text_t *h, const char *data, size_t len) {
    while (len > 0) {
        int n = len > (1 << 20) ? 1 << 20 : (int)len;
        htmlParseChunk(h->ctxt, data, n, 0);
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

int
html_text_finish(html_text_t *h) {
    htmlParseChunk(h->ctxt, NULL, 0, 1);
    flush(h);
    return 0;
}

void
html_text_free(html_text_t *h) {
    if (!h) return;
    if (h->ctxt) {
        if (h->ctxt->myDoc) xmlFreeDoc(h->ctxt->myDoc);
        htmlFreeParserCtxt(h->ctxt);
    }
    buf_free(&h->text);
    free(h);
}
