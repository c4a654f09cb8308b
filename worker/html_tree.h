/* html_tree — the open elements of an HTML document, as the text scanner
 * (extract_html.c) reads its tags, and what they hide.
 *
 * The elements are kept as a stack by name (html_elements.h) with
 * HTML5's commonest implied end tags: a block start closes an open <p>,
 * <li> closes <li>, <dd>/<dt> close each other, <td>/<th> close a cell,
 * <tr> a row, <option> an option; an end tag closes the nearest open
 * element of its name, not past a table cell, table or the like, and is
 * ignored when there is none. Void elements have no content; a
 * self-closing tag closes only inside svg and math. Deeper than
 * HTML_TREE_DEPTH, elements are counted, not named (an end tag there
 * closes the deepest one), as browsers stop nesting at 512 too.
 *
 * Hidden: the content of the never-rendered elements (HTML_SKIP), and of
 * elements hidden by their own markup: the hidden attribute, or
 * display:none in the style attribute (html_style.h), with everything
 * inside them; and text whose element (or nearest ancestor saying so)
 * has visibility:hidden or collapse in its style attribute, unless
 * visibility:visible says otherwise closer in, as CSS inherits
 * visibility. A display set in the style attribute overrides the hidden
 * attribute, as the author's style overrides the browser's
 * [hidden] { display: none }.
 *
 * Owns: the stack (html_tree_free releases it). */
#ifndef WC_HTML_TREE_H
#define WC_HTML_TREE_H

#include <stdbool.h>
#include <stddef.h>

#include "worker/html_elements.h"

#define HTML_TREE_DEPTH 512

/* Nested visibility declarations tracked; deeper ones are ignored (their
 * text follows the outer ones). */
#define HTML_TREE_VISIBILITY 32

struct html_open;

struct html_tree {
    /* Depths count open elements from 1: stack[0..depth) by name, then
     * `overflow` more beyond HTML_TREE_DEPTH. */
    struct html_open *stack;
    int depth, cap, overflow;
    int hidden_at;  /* depth of the outermost element not rendered; 0: none */
    int foreign_at; /* depth of the outermost svg or math; 0: none */
    struct {
        int depth;
        bool hidden;
    } vis[HTML_TREE_VISIBILITY]; /* elements that set visibility, outermost first */
    int nvis;
};

/* A start tag, as far as the tree cares. */
struct html_start {
    struct html_name name;
    struct html_element el;
    bool self_closing, hidden_attr, style_seen;
    const char *style; /* the style attribute's value (style_len bytes) */
    size_t style_len;
};

/* What a tag means for the text around it. */
enum {
    HTML_TREE_BOUNDARY = 1 << 0, /* a word ends here */
    HTML_TREE_RAW = 1 << 1,      /* the element's content is raw text */
};

void html_tree_init(struct html_tree *t);
void html_tree_free(struct html_tree *t);
/* html_tree_start opens an element (closing what it implies first) and
 * returns HTML_TREE_* flags. */
unsigned html_tree_start(struct html_tree *t, const struct html_start *s);
/* html_tree_end closes what an end tag closes; HTML_TREE_BOUNDARY or 0. */
unsigned html_tree_end(struct html_tree *t, const struct html_name *name, struct html_element el);

/* html_tree_shown: text here is rendered. */
static inline bool
html_tree_shown(const struct html_tree *t) {
    return !t->hidden_at && !(t->nvis && t->vis[t->nvis - 1].hidden);
}

#endif
