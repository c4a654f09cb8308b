/* extract_html — the HTML implementation of extract.h: the text a reader
 * sees, read as it arrives by a scanner of our own that follows the
 * HTML5 tokenizer (WHATWG HTML, "tokenization") for what matters to
 * visible text, fed UTF-8 by the decode stage (which decides the charset).
 *
 * Why not libxml2's HTML parser, which this file used until issue 19: it
 * interns every name, builds attribute arrays, runs its own encoding
 * layer and its HTML 4 auto-close tables for every element, and it was
 * 45 % of a worker's CPU. This needs only text, two attributes and the
 * nesting of elements; it gives the text at 230 to 290 MB/s where
 * libxml2's push parser with our callbacks gave it at about 40 (one
 * core, the PostgreSQL manual's pages: tests/bench/README.md).
 *
 * The tokenizer is a state machine that keeps its state between pieces,
 * so any piece boundary is fine and nothing is held back but a partial
 * character reference. It reads tags and their attributes (only hidden
 * and style are kept), comments (<!-- -->, with HTML5's --!> and <!-->),
 * everything else after <! or <? up to > (DOCTYPE, CDATA sections, even
 * inside svg) as a bogus comment, the raw text of script, style, textarea, title,
 * xmp, iframe, noembed, noframes, noscript and plaintext up to their own
 * end tag, and character references (html_entity.h). Script's
 * "<!--<script>" escapes are not modelled.
 *
 * The open elements, and what they hide, are html_tree.h's: the content
 * of script, style, noscript, template, title, iframe, noembed and
 * noframes, of elements with the hidden attribute or display:none in
 * their style attribute, and text under visibility:hidden there.
 * Comments are not text.
 *
 * A block-level element or <br> ends a word, so adjacent blocks never
 * glue together; inline ones (<b>, <span>, <a> ...) do not. Text reaches
 * the callback in pieces that end at a word boundary.
 *
 * Owns: the scanner's state, the open elements (html_tree), the style
 * attribute being read and a text buffer. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "worker/extract.h"
#include "worker/html_elements.h"
#include "worker/html_entity.h"
#include "worker/html_tree.h"

/* Text is handed on once this much has gathered (at a word boundary). */
#define FLUSH_AT 32768

/* A style attribute is read up to this many bytes. */
#define STYLE_MAX 4096

enum state {
    S_DATA,         /* text (or the raw text of h->raw) */
    S_TAG_OPEN,     /* after < */
    S_END_TAG_OPEN, /* after </ */
    S_TAG_NAME,
    S_BEFORE_ATTR,
    S_ATTR_NAME,
    S_AFTER_ATTR,
    S_BEFORE_VALUE,
    S_VALUE_QUOTED,
    S_VALUE_UNQUOTED,
    S_AFTER_VALUE,
    S_SELF_CLOSING, /* after / in a tag */
    S_MARKUP,       /* after <! */
    S_MARKUP_DASH,  /* after <!- */
    S_COMMENT,
    S_BOGUS,   /* up to the next > */
    S_RAW_LT,  /* raw text, after < */
    S_RAW_END, /* raw text, after </ and h->matched bytes of its name */
    S_REF,     /* after & */
    S_REF_NAMED,
    S_REF_NUMBER, /* after &# */
    S_REF_HEX_START,
    S_REF_DIGITS,
};

enum attr { ATTR_OTHER, ATTR_STYLE };

struct html {
    extract_text_cb cb;
    void *arg;
    enum state state;

    /* the tag being read */
    struct html_start tag;
    bool end_tag;
    enum attr attr;
    char attr_name[8];
    size_t attr_len;
    char quote;
    struct buf style;

    /* raw text: the element whose end tag ends it (flags 0: none) */
    struct html_element raw;
    struct html_name raw_name;
    size_t matched;

    int dashes; /* comment: dashes just seen (2 at its start: <!--> ends it) */
    bool bang;  /* comment: --! just seen */

    /* a character reference being read */
    char ref[HTML_ENTITY_NAME_MAX + 1];
    size_t ref_len;
    unsigned long ref_num;
    int ref_base;

    struct html_tree tree;

    struct buf text;
    size_t no_space; /* text[0..no_space) holds no white space (flush_long) */
};

static bool
is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static bool
is_alpha(unsigned char c) {
    return (unsigned char)((c | 0x20) - 'a') < 26;
}

static bool
is_digit(unsigned char c) {
    return (unsigned char)(c - '0') < 10;
}

static int
hex_value(unsigned char c) {
    if (is_digit(c)) return c - '0';
    if ((unsigned char)((c | 0x20) - 'a') < 6) return (c | 0x20) - 'a' + 10;
    return -1;
}

static unsigned char
lower(unsigned char c) {
    return (unsigned char)(c - 'A') < 26 ? (unsigned char)(c | 0x20) : c;
}

/* --- text --- */

static void
flush(struct html *h) {
    if (h->text.len) h->cb(h->text.data, h->text.len, h->arg);
    buf_reset(&h->text);
    h->no_space = 0;
}

static void
boundary(struct html *h) {
    if (h->text.len >= FLUSH_AT) flush(h);
    else if (h->text.len && h->text.data[h->text.len - 1] != ' ') buf_append_char(&h->text, ' ');
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

static bool
shown(const struct html *h) {
    return html_tree_shown(&h->tree);
}

/* text appends what is shown, but NUL bytes (which HTML5's tree builder
 * drops from text). */
static void
text(struct html *h, const char *s, size_t n) {
    if (!n || !shown(h)) return;
    const char *nul;
    while ((nul = memchr(s, '\0', n))) {
        buf_append(&h->text, s, (size_t)(nul - s));
        n -= (size_t)(nul - s) + 1;
        s = nul + 1;
    }
    buf_append(&h->text, s, n);
    if (h->text.len >= 2 * FLUSH_AT) flush_long(h);
}

/* emit: the tag in h->tag is whole (its > is read). */
static void
emit(struct html *h) {
    h->state = S_DATA;
    h->tag.el = html_element_of(&h->tag.name);
    unsigned r;
    if (h->end_tag) {
        h->raw = (struct html_element){0, TAG_OTHER};
        r = html_tree_end(&h->tree, &h->tag.name, h->tag.el);
    } else {
        h->tag.style = h->style.data;
        h->tag.style_len = h->style.len;
        r = html_tree_start(&h->tree, &h->tag);
        if (r & HTML_TREE_RAW) {
            h->raw = h->tag.el;
            h->raw_name = h->tag.name;
        }
    }
    if (r & HTML_TREE_BOUNDARY) boundary(h);
}

/* --- the tokenizer --- */

static void
tag_begin(struct html *h, bool end) {
    memset(&h->tag, 0, sizeof h->tag);
    h->end_tag = end;
    h->attr = ATTR_OTHER;
    buf_reset(&h->style);
    h->state = S_TAG_NAME;
}

static void
attr_begin(struct html *h, unsigned char c) {
    h->attr_len = 0;
    h->attr = ATTR_OTHER;
    h->attr_name[h->attr_len++] = (char)lower(c);
    h->state = S_ATTR_NAME;
}

/* attr_named: the attribute's name is whole. The first style attribute
 * is kept (HTML5 drops a repeated attribute). */
static void
attr_named(struct html *h) {
    h->attr = ATTR_OTHER;
    if (h->end_tag) return;
    if (h->attr_len == 6 && !memcmp(h->attr_name, "hidden", 6)) {
        h->tag.hidden_attr = true;
    } else if (h->attr_len == 5 && !memcmp(h->attr_name, "style", 5) && !h->tag.style_seen) {
        h->tag.style_seen = true;
        h->attr = ATTR_STYLE;
    }
}

static void
value_add(struct html *h, const char *s, size_t n) {
    if (h->attr != ATTR_STYLE || h->style.len >= STYLE_MAX) return;
    if (n > STYLE_MAX - h->style.len) n = STYLE_MAX - h->style.len;
    buf_append(&h->style, s, n);
}

/* ref_end: the reference read so far ends; semicolon says whether it
 * ended with one (consumed). What cannot be decoded is text as it was. */
static void
ref_end(struct html *h, bool semicolon) {
    char out[4];
    h->state = S_DATA;
    if (h->ref_base) { /* a number: always a character */
        text(h, out, html_entity_number(h->ref_num, out));
        return;
    }
    size_t n = html_entity_named(h->ref, h->ref_len, semicolon, out);
    if (n) {
        text(h, out, n);
        return;
    }
    text(h, "&", 1);
    text(h, h->ref, h->ref_len);
    if (semicolon) text(h, ";", 1);
}

/* data reads text up to the next < (or &, where references count). */
static const char *
data(struct html *h, const char *p, const char *end) {
    if (h->raw.tag == TAG_PLAINTEXT) {
        text(h, p, (size_t)(end - p));
        return end;
    }
    const char *lt = memchr(p, '<', (size_t)(end - p));
    const char *stop = lt ? lt : end;
    if ((!h->raw.flags || h->raw.flags & HTML_RCDATA) && shown(h)) {
        const char *amp = memchr(p, '&', (size_t)(stop - p));
        if (amp) {
            text(h, p, (size_t)(amp - p));
            h->state = S_REF;
            return amp + 1;
        }
    }
    text(h, p, (size_t)(stop - p));
    if (!lt) return end;
    h->state = h->raw.flags ? S_RAW_LT : S_TAG_OPEN;
    return lt + 1;
}

/* raw_mismatch: "</" and the first h->matched bytes of the raw element's
 * name turned out to be text. */
static void
raw_mismatch(struct html *h) {
    char name[16];
    size_t n = h->matched < 16 ? h->matched : 16;
    for (size_t i = 0; i < n; i++) name[i] = (char)html_name_at(&h->raw_name, i);
    text(h, "</", 2);
    text(h, name, n);
    h->state = S_DATA;
}

/* step reads one byte at p, or more when a state can skip ahead; it
 * returns where to go on. A state that hands a byte to the next state
 * returns p itself (and always changes the state). */
static const char *
step(struct html *h, const char *p, const char *end) {
    unsigned char c = (unsigned char)*p;
    switch (h->state) {
    case S_DATA:
        return data(h, p, end);
    case S_TAG_OPEN:
        if (c == '!') h->state = S_MARKUP;
        else if (c == '/') h->state = S_END_TAG_OPEN;
        else if (c == '?') h->state = S_BOGUS;
        else if (is_alpha(c)) return tag_begin(h, false), p;
        else return text(h, "<", 1), h->state = S_DATA, p;
        return p + 1;
    case S_END_TAG_OPEN:
        if (is_alpha(c)) return tag_begin(h, true), p;
        if (c == '>') return h->state = S_DATA, p + 1;
        h->state = S_BOGUS;
        return p;
    case S_TAG_NAME:
        for (; p < end; p++) {
            c = (unsigned char)*p;
            if (is_space((char)c)) return h->state = S_BEFORE_ATTR, p + 1;
            if (c == '/') return h->state = S_SELF_CLOSING, p + 1;
            if (c == '>') return emit(h), p + 1;
            html_name_add(&h->tag.name, lower(c));
        }
        return p;
    case S_BEFORE_ATTR:
    case S_AFTER_ATTR:
        if (is_space((char)c)) return p + 1;
        if (c == '/') h->state = S_SELF_CLOSING;
        else if (c == '>') emit(h);
        else if (c == '=' && h->state == S_AFTER_ATTR) h->state = S_BEFORE_VALUE;
        else attr_begin(h, c);
        return p + 1;
    case S_ATTR_NAME:
        if (is_space((char)c)) h->state = S_AFTER_ATTR;
        else if (c == '/') h->state = S_SELF_CLOSING;
        else if (c == '>') return attr_named(h), emit(h), p + 1;
        else if (c == '=') h->state = S_BEFORE_VALUE;
        else {
            if (h->attr_len < sizeof h->attr_name) h->attr_name[h->attr_len] = (char)lower(c);
            h->attr_len++;
            return p + 1;
        }
        attr_named(h);
        return p + 1;
    case S_BEFORE_VALUE:
        if (is_space((char)c)) return p + 1;
        if (c == '"' || c == '\'') return h->quote = (char)c, h->state = S_VALUE_QUOTED, p + 1;
        if (c == '>') return emit(h), p + 1;
        h->state = S_VALUE_UNQUOTED;
        return p;
    case S_VALUE_QUOTED: {
        const char *q = memchr(p, h->quote, (size_t)(end - p));
        value_add(h, p, (size_t)((q ? q : end) - p));
        if (!q) return end;
        h->state = S_AFTER_VALUE;
        return q + 1;
    }
    case S_VALUE_UNQUOTED:
        if (is_space((char)c)) h->state = S_BEFORE_ATTR;
        else if (c == '>') emit(h);
        else value_add(h, (const char *)p, 1);
        return p + 1;
    case S_AFTER_VALUE:
        if (is_space((char)c)) return h->state = S_BEFORE_ATTR, p + 1;
        if (c == '/') return h->state = S_SELF_CLOSING, p + 1;
        if (c == '>') return emit(h), p + 1;
        h->state = S_BEFORE_ATTR;
        return p;
    case S_SELF_CLOSING:
        if (c == '>') return h->tag.self_closing = true, emit(h), p + 1;
        h->state = S_BEFORE_ATTR;
        return p;
    case S_MARKUP:
    case S_MARKUP_DASH:
        if (c != '-') return h->state = S_BOGUS, p;
        if (h->state == S_MARKUP) return h->state = S_MARKUP_DASH, p + 1;
        h->dashes = 2;
        h->bang = false;
        h->state = S_COMMENT;
        return p + 1;
    case S_COMMENT:
        if (c == '>' && h->dashes >= 2) h->state = S_DATA;
        else if (c == '-') h->dashes = h->bang ? 1 : h->dashes + 1, h->bang = false;
        else if (c == '!' && h->dashes >= 2 && !h->bang) h->bang = true;
        else h->dashes = 0, h->bang = false;
        return p + 1;
    case S_BOGUS: {
        const char *gt = memchr(p, '>', (size_t)(end - p));
        if (!gt) return end;
        h->state = S_DATA;
        return gt + 1;
    }
    case S_RAW_LT:
        if (c == '/') return h->matched = 0, h->state = S_RAW_END, p + 1;
        text(h, "<", 1);
        h->state = S_DATA;
        return p;
    case S_RAW_END:
        if (h->matched < h->raw_name.len) {
            size_t i = h->matched;
            if (i < 16 && lower(c) == html_name_at(&h->raw_name, i)) return h->matched++, p + 1;
        } else if (is_space((char)c) || c == '/' || c == '>') {
            tag_begin(h, true);
            h->tag.name = h->raw_name;
            return p; /* S_TAG_NAME reads the rest of the end tag */
        }
        raw_mismatch(h);
        return p;
    case S_REF:
        h->ref_len = 0;
        h->ref_num = 0;
        h->ref_base = 0;
        if (c == '#') return h->state = S_REF_NUMBER, p + 1;
        if (is_alpha(c) || is_digit(c)) return h->state = S_REF_NAMED, p;
        text(h, "&", 1);
        h->state = S_DATA;
        return p;
    case S_REF_NAMED:
        if (c == ';') return ref_end(h, true), p + 1;
        if (!(is_alpha(c) || is_digit(c))) return ref_end(h, false), p;
        if (h->ref_len == HTML_ENTITY_NAME_MAX) {
            text(h, "&", 1);
            text(h, h->ref, h->ref_len);
            h->state = S_DATA;
            return p;
        }
        h->ref[h->ref_len++] = (char)c;
        return p + 1;
    case S_REF_NUMBER:
        if (c == 'x' || c == 'X') return h->ref[0] = (char)c, h->state = S_REF_HEX_START, p + 1;
        if (is_digit(c)) return h->ref_base = 10, h->state = S_REF_DIGITS, p;
        text(h, "&#", 2);
        h->state = S_DATA;
        return p;
    case S_REF_HEX_START:
        if (hex_value(c) >= 0) return h->ref_base = 16, h->state = S_REF_DIGITS, p;
        text(h, "&#", 2);
        text(h, h->ref, 1);
        h->state = S_DATA;
        return p;
    case S_REF_DIGITS: {
        int v = h->ref_base == 16 ? hex_value(c) : is_digit(c) ? c - '0' : -1;
        if (v < 0 || v >= h->ref_base) return ref_end(h, c == ';'), c == ';' ? p + 1 : p;
        h->ref_num = h->ref_num * (unsigned long)h->ref_base + (unsigned long)v;
        if (h->ref_num > 0x110000) h->ref_num = 0x110000;
        return p + 1;
    }
    }
    return p + 1;
}

static void
scan(struct html *h, const char *p, size_t n) {
    const char *end = p + n;
    while (p < end) p = step(h, p, end);
}

/* at_end: the document ended in the middle of something. A tag, comment
 * or declaration cut short is dropped; a character reference or raw end
 * tag cut short is the text it was (HTML5's end-of-file rules). */
static void
at_end(struct html *h) {
    switch (h->state) {
    case S_TAG_OPEN:
    case S_RAW_LT:
        text(h, "<", 1);
        break;
    case S_END_TAG_OPEN:
        text(h, "</", 2);
        break;
    case S_RAW_END:
        raw_mismatch(h);
        break;
    case S_REF:
        text(h, "&", 1);
        break;
    case S_REF_NAMED:
        ref_end(h, false);
        break;
    case S_REF_NUMBER:
        text(h, "&#", 2);
        break;
    case S_REF_HEX_START:
        text(h, "&#", 2);
        text(h, h->ref, 1);
        break;
    case S_REF_DIGITS:
        ref_end(h, false);
        break;
    default:
        break;
    }
    h->state = S_DATA;
}

static void *
html_open(extract_text_cb cb, void *arg) {
    struct html *h = xcalloc(1, sizeof *h);
    h->cb = cb;
    h->arg = arg;
    buf_init(&h->text);
    buf_init(&h->style);
    html_tree_init(&h->tree);
    return h;
}

static size_t
html_feed(void *state, const char *d, size_t n) {
    scan(state, d, n);
    return n;
}

static int
html_finish(void *state, const char *d, size_t n) {
    struct html *h = state;
    scan(h, d, n);
    at_end(h);
    flush(h);
    return 0;
}

static void
html_free(void *state) {
    struct html *h = state;
    html_tree_free(&h->tree);
    buf_free(&h->text);
    buf_free(&h->style);
    free(h);
}

const struct extract_impl extract_html = {html_open, html_feed, html_finish, html_free};
