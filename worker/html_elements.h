/* html_elements — what the HTML text scanner (extract_html.c) needs to
 * know about an element from its name: whether it separates words,
 * whether its content is ever rendered, whether it is void, whether the
 * tokenizer reads its content as raw text, and the few names the HTML5
 * tree builder closes implicitly (p, li, dd, dt, td, th, tr, option).
 *
 * A name is packed as it is read: its first 16 bytes, lower-cased, in
 * two words, and its length, so comparing two names (an end tag with an
 * open element) is three integer comparisons and looking one up is a
 * hash probe, with no string kept. Names longer than 16 bytes that share
 * their first 16 and their length compare equal (custom elements only).
 *
 * Owns: one process-wide table, built on first use (thread safe) and
 * never freed (it is static storage). */
#ifndef WC_HTML_ELEMENTS_H
#define WC_HTML_ELEMENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct html_name {
    uint64_t w[2];
    uint8_t len; /* the name's length, 255 for anything longer */
};

/* What an element is, for visible text. An element with neither
 * HTML_INLINE nor HTML_SKIP (and every unknown one) is a block: its
 * start and end separate words. */
enum {
    HTML_INLINE = 1 << 0,   /* <b>, <span>, <a>: does not separate words */
    HTML_SKIP = 1 << 1,     /* script, style, title ...: content never shown */
    HTML_VOID = 1 << 2,     /* br, img, meta ...: has no content, no end tag */
    HTML_RAW = 1 << 3,      /* content is raw text up to its own end tag */
    HTML_RCDATA = 1 << 4,   /* raw text in which character references count */
    HTML_CLOSES_P = 1 << 5, /* its start tag closes an open <p> */
    HTML_SCOPE = 1 << 6,    /* implied closes do not look past it */
    HTML_FOREIGN = 1 << 7,  /* svg, math: self-closing tags close, no raw text */
};

/* The elements an implied end tag concerns. */
enum html_tag {
    TAG_OTHER = 0,
    TAG_P,
    TAG_LI,
    TAG_DD,
    TAG_DT,
    TAG_DL,
    TAG_UL,
    TAG_OL,
    TAG_TD,
    TAG_TH,
    TAG_TR,
    TAG_TABLE,
    TAG_OPTION,
    TAG_OPTGROUP,
    TAG_PLAINTEXT,
};

struct html_element {
    unsigned flags;
    enum html_tag tag;
};

/* html_name_add appends one byte (already lower-cased) to a name. */
static inline void
html_name_add(struct html_name *n, unsigned char c) {
    if (n->len < 16) n->w[n->len >> 3] |= (uint64_t)c << (8 * (n->len & 7));
    if (n->len < 255) n->len++;
}

/* html_name_at: byte i (below 16) of a name. */
static inline unsigned char
html_name_at(const struct html_name *n, size_t i) {
    return (unsigned char)(n->w[i >> 3] >> (8 * (i & 7)));
}

static inline bool
html_name_eq(const struct html_name *a, const struct html_name *b) {
    return a->len == b->len && a->w[0] == b->w[0] && a->w[1] == b->w[1];
}

/* html_name_set packs a lower-case C string. */
void html_name_set(struct html_name *n, const char *s);

/* html_element_of: what the table says about a name (flags 0 and
 * TAG_OTHER for a name it does not know: a block). */
struct html_element html_element_of(const struct html_name *n);

#endif
