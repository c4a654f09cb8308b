#include "worker/html_tree.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "worker/html_style.h"

struct html_open {
    struct html_name name;
    struct html_element el;
};

static bool
is_block(struct html_element el) {
    return !(el.flags & (HTML_INLINE | HTML_SKIP));
}

void
html_tree_init(struct html_tree *t) {
    memset(t, 0, sizeof *t);
}

void
html_tree_free(struct html_tree *t) {
    free(t->stack);
    t->stack = NULL;
}

/* closed_to: the elements deeper than depth d (counting the ones beyond
 * the stack) have closed. */
static void
closed_to(struct html_tree *t, int d) {
    if (t->hidden_at > d) t->hidden_at = 0;
    if (t->foreign_at > d) t->foreign_at = 0;
    while (t->nvis && t->vis[t->nvis - 1].depth > d) t->nvis--;
}

/* pop_to closes stack[i] and everything above it; HTML_TREE_BOUNDARY
 * when a block closes. */
static unsigned
pop_to(struct html_tree *t, int i) {
    bool block = false;
    for (int k = i; k < t->depth; k++) block |= is_block(t->stack[k].el);
    t->depth = i;
    t->overflow = 0;
    closed_to(t, i);
    return block ? HTML_TREE_BOUNDARY : 0;
}

typedef bool stop_fn(struct html_element el);

static bool
stop_scope(struct html_element el) {
    return el.flags & HTML_SCOPE;
}

static bool
stop_list(struct html_element el) {
    return (el.flags & HTML_SCOPE) || el.tag == TAG_UL || el.tag == TAG_OL;
}

static bool
stop_dl(struct html_element el) {
    return (el.flags & HTML_SCOPE) || el.tag == TAG_DL;
}

static bool
stop_row(struct html_element el) {
    return el.tag == TAG_TR || el.tag == TAG_TABLE;
}

static bool
stop_table(struct html_element el) {
    return el.tag == TAG_TABLE;
}

/* close_open closes the nearest open element tagged a or b, looking
 * down from the top but not past one that stop says ends the search. */
static unsigned
close_open(struct html_tree *t, enum html_tag a, enum html_tag b, stop_fn *stop) {
    for (int i = t->depth - 1; i >= 0; i--) {
        struct html_element el = t->stack[i].el;
        if (el.tag == a || el.tag == b) return pop_to(t, i);
        if (stop(el)) return 0;
    }
    return 0;
}

static bool
top_is(const struct html_tree *t, enum html_tag tag) {
    return t->depth && t->stack[t->depth - 1].el.tag == tag;
}

/* implied_ends: what HTML5 closes before this start tag opens. */
static unsigned
implied_ends(struct html_tree *t, struct html_element el) {
    unsigned r = 0;
    if (t->overflow) return 0;
    if (el.flags & HTML_CLOSES_P) r |= close_open(t, TAG_P, TAG_P, stop_scope);
    switch (el.tag) {
    case TAG_LI:
        r |= close_open(t, TAG_LI, TAG_LI, stop_list);
        break;
    case TAG_DD:
    case TAG_DT:
        r |= close_open(t, TAG_DD, TAG_DT, stop_dl);
        break;
    case TAG_TD:
    case TAG_TH:
        r |= close_open(t, TAG_TD, TAG_TH, stop_row);
        break;
    case TAG_TR:
        r |= close_open(t, TAG_TR, TAG_TR, stop_table);
        break;
    case TAG_OPTION:
    case TAG_OPTGROUP:
        if (top_is(t, TAG_OPTION)) r |= pop_to(t, t->depth - 1);
        if (el.tag == TAG_OPTGROUP && top_is(t, TAG_OPTGROUP)) r |= pop_to(t, t->depth - 1);
        break;
    default:
        break;
    }
    return r;
}

/* hide_or_track looks at the attributes of an element that starts at
 * depth while everything around it is rendered. */
static void
hide_or_track(struct html_tree *t, const struct html_start *s, int depth) {
    struct style_says says = {SHOWN_UNSAID, SHOWN_UNSAID};
    if (s->style_seen) says = html_style_read(s->style, s->style_len);
    if (says.display == SHOWN_NO || (s->hidden_attr && says.display == SHOWN_UNSAID)) {
        t->hidden_at = depth;
    } else if (says.visibility != SHOWN_UNSAID && t->nvis < HTML_TREE_VISIBILITY) {
        t->vis[t->nvis].depth = depth;
        t->vis[t->nvis].hidden = says.visibility == SHOWN_NO;
        t->nvis++;
    }
}

unsigned
html_tree_start(struct html_tree *t, const struct html_start *s) {
    unsigned r = implied_ends(t, s->el);
    if (is_block(s->el)) r |= HTML_TREE_BOUNDARY;
    if (s->el.flags & HTML_VOID) return r;
    if (s->self_closing && (t->foreign_at || (s->el.flags & HTML_FOREIGN))) return r;
    if (t->depth < HTML_TREE_DEPTH) {
        if (t->depth == t->cap) {
            t->cap = t->cap ? 2 * t->cap : 32;
            t->stack = xrealloc(t->stack, (size_t)t->cap * sizeof *t->stack);
        }
        t->stack[t->depth++] = (struct html_open){s->name, s->el};
    } else {
        t->overflow++;
    }
    int depth = t->depth + t->overflow;
    if (!t->hidden_at) {
        if (s->el.flags & HTML_SKIP) t->hidden_at = depth;
        else if (s->hidden_attr || s->style_seen) hide_or_track(t, s, depth);
    }
    if (s->el.flags & HTML_FOREIGN && !t->foreign_at) t->foreign_at = depth;
    if (s->el.flags & HTML_RAW && !t->foreign_at) r |= HTML_TREE_RAW;
    return r;
}

unsigned
html_tree_end(struct html_tree *t, const struct html_name *name, struct html_element el) {
    unsigned r = is_block(el) ? HTML_TREE_BOUNDARY : 0;
    if (t->overflow) {
        t->overflow--;
        closed_to(t, t->depth + t->overflow);
        return r;
    }
    for (int i = t->depth - 1; i >= 0; i--) {
        if (html_name_eq(&t->stack[i].name, name)) return r | pop_to(t, i);
        if (stop_scope(t->stack[i].el)) return r;
    }
    return r;
}
