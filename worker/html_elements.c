#include "worker/html_elements.h"

#include <pthread.h>
#include <string.h>

/* The inline elements (and which are never shown) are the ones the word
 * counter has always used; raw text, void elements and the implied end
 * tags follow the HTML5 parsing rules (WHATWG "tokenization" and "the
 * rules for parsing tokens in HTML content"), with scripting enabled as
 * in a browser: noscript's content is raw text. */
static const struct {
    const char *name;
    unsigned flags;
    enum html_tag tag;
} known[] = {
    /* inline */
    {"a", HTML_INLINE, 0},
    {"b", HTML_INLINE, 0},
    {"i", HTML_INLINE, 0},
    {"q", HTML_INLINE, 0},
    {"s", HTML_INLINE, 0},
    {"u", HTML_INLINE, 0},
    {"em", HTML_INLINE, 0},
    {"rb", HTML_INLINE, 0},
    {"tt", HTML_INLINE, 0},
    {"bdi", HTML_INLINE, 0},
    {"bdo", HTML_INLINE, 0},
    {"big", HTML_INLINE, 0},
    {"del", HTML_INLINE, 0},
    {"dfn", HTML_INLINE, 0},
    {"ins", HTML_INLINE, 0},
    {"kbd", HTML_INLINE, 0},
    {"sub", HTML_INLINE, 0},
    {"sup", HTML_INLINE, 0},
    {"var", HTML_INLINE, 0},
    {"wbr", HTML_INLINE | HTML_VOID, 0},
    {"span", HTML_INLINE, 0},
    {"code", HTML_INLINE, 0},
    {"abbr", HTML_INLINE, 0},
    {"cite", HTML_INLINE, 0},
    {"data", HTML_INLINE, 0},
    {"font", HTML_INLINE, 0},
    {"mark", HTML_INLINE, 0},
    {"nobr", HTML_INLINE, 0},
    {"ruby", HTML_INLINE, 0},
    {"samp", HTML_INLINE, 0},
    {"time", HTML_INLINE, 0},
    {"label", HTML_INLINE, 0},
    {"small", HTML_INLINE, 0},
    {"strong", HTML_INLINE, 0},
    {"strike", HTML_INLINE, 0},
    /* never shown; the raw ones hold no markup */
    {"script", HTML_SKIP | HTML_RAW, 0},
    {"style", HTML_SKIP | HTML_RAW, 0},
    {"title", HTML_SKIP | HTML_RAW | HTML_RCDATA, 0},
    {"noscript", HTML_SKIP | HTML_RAW, 0},
    {"iframe", HTML_SKIP | HTML_RAW, 0},
    {"noembed", HTML_SKIP | HTML_RAW, 0},
    {"noframes", HTML_SKIP | HTML_RAW, 0},
    {"template", HTML_SKIP | HTML_SCOPE, 0},
    /* raw text that is shown */
    {"xmp", HTML_RAW | HTML_CLOSES_P, 0},
    {"textarea", HTML_RAW | HTML_RCDATA, 0},
    {"plaintext", HTML_RAW | HTML_CLOSES_P, TAG_PLAINTEXT},
    /* void */
    {"area", HTML_VOID, 0},
    {"base", HTML_VOID, 0},
    {"basefont", HTML_VOID, 0},
    {"bgsound", HTML_VOID, 0},
    {"br", HTML_VOID, 0},
    {"col", HTML_VOID, 0},
    {"embed", HTML_VOID, 0},
    {"frame", HTML_VOID, 0},
    {"hr", HTML_VOID | HTML_CLOSES_P, 0},
    {"image", HTML_VOID, 0},
    {"img", HTML_VOID, 0},
    {"input", HTML_VOID, 0},
    {"keygen", HTML_VOID, 0},
    {"link", HTML_VOID, 0},
    {"meta", HTML_VOID, 0},
    {"param", HTML_VOID, 0},
    {"source", HTML_VOID, 0},
    {"track", HTML_VOID, 0},
    /* blocks that close an open <p> */
    {"address", HTML_CLOSES_P, 0},
    {"article", HTML_CLOSES_P, 0},
    {"aside", HTML_CLOSES_P, 0},
    {"blockquote", HTML_CLOSES_P, 0},
    {"center", HTML_CLOSES_P, 0},
    {"details", HTML_CLOSES_P, 0},
    {"dialog", HTML_CLOSES_P, 0},
    {"dir", HTML_CLOSES_P, 0},
    {"div", HTML_CLOSES_P, 0},
    {"fieldset", HTML_CLOSES_P, 0},
    {"figcaption", HTML_CLOSES_P, 0},
    {"figure", HTML_CLOSES_P, 0},
    {"footer", HTML_CLOSES_P, 0},
    {"form", HTML_CLOSES_P, 0},
    {"h1", HTML_CLOSES_P, 0},
    {"h2", HTML_CLOSES_P, 0},
    {"h3", HTML_CLOSES_P, 0},
    {"h4", HTML_CLOSES_P, 0},
    {"h5", HTML_CLOSES_P, 0},
    {"h6", HTML_CLOSES_P, 0},
    {"header", HTML_CLOSES_P, 0},
    {"hgroup", HTML_CLOSES_P, 0},
    {"listing", HTML_CLOSES_P, 0},
    {"main", HTML_CLOSES_P, 0},
    {"menu", HTML_CLOSES_P, 0},
    {"nav", HTML_CLOSES_P, 0},
    {"pre", HTML_CLOSES_P, 0},
    {"search", HTML_CLOSES_P, 0},
    {"section", HTML_CLOSES_P, 0},
    {"summary", HTML_CLOSES_P, 0},
    {"p", HTML_CLOSES_P, TAG_P},
    {"li", HTML_CLOSES_P, TAG_LI},
    {"dd", HTML_CLOSES_P, TAG_DD},
    {"dt", HTML_CLOSES_P, TAG_DT},
    {"dl", HTML_CLOSES_P, TAG_DL},
    {"ul", HTML_CLOSES_P, TAG_UL},
    {"ol", HTML_CLOSES_P, TAG_OL},
    {"table", HTML_CLOSES_P | HTML_SCOPE, TAG_TABLE},
    /* the rest that implied end tags concern */
    {"td", HTML_SCOPE, TAG_TD},
    {"th", HTML_SCOPE, TAG_TH},
    {"tr", 0, TAG_TR},
    {"option", 0, TAG_OPTION},
    {"optgroup", 0, TAG_OPTGROUP},
    {"applet", HTML_SCOPE, 0},
    {"button", HTML_SCOPE, 0},
    {"caption", HTML_SCOPE, 0},
    {"html", HTML_SCOPE, 0},
    {"marquee", HTML_SCOPE, 0},
    {"object", HTML_SCOPE, 0},
    {"svg", HTML_FOREIGN, 0},
    {"math", HTML_FOREIGN, 0},
};

#define NKNOWN (sizeof known / sizeof known[0])
#define SLOTS 512 /* a power of two, over three times NKNOWN */

static struct {
    struct html_name name;
    struct html_element el;
    bool used;
} table[SLOTS];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static size_t
slot_of(const struct html_name *n) {
    uint64_t k = n->w[0] ^ (n->w[1] * 0x9E3779B97F4A7C15u) ^ n->len;
    return (size_t)((k * 0x9E3779B97F4A7C15u) >> 55) & (SLOTS - 1);
}

static void
build(void) {
    for (size_t i = 0; i < NKNOWN; i++) {
        struct html_name n;
        html_name_set(&n, known[i].name);
        size_t s = slot_of(&n);
        while (table[s].used) s = (s + 1) & (SLOTS - 1);
        table[s].name = n;
        table[s].el = (struct html_element){known[i].flags, known[i].tag};
        table[s].used = true;
    }
}

void
html_name_set(struct html_name *n, const char *s) {
    memset(n, 0, sizeof *n);
    while (*s) html_name_add(n, (unsigned char)*s++);
}

struct html_element
html_element_of(const struct html_name *n) {
    pthread_once(&table_once, build);
    for (size_t s = slot_of(n); table[s].used; s = (s + 1) & (SLOTS - 1))
        if (html_name_eq(&table[s].name, n)) return table[s].el;
    return (struct html_element){0, TAG_OTHER};
}
