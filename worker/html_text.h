/* html_text — the visible text of an HTML document, parsed chunk by chunk
 * as it arrives (libxml2's HTML push parser with SAX callbacks, so no
 * tree is built).
 *
 * Owns: the parser context and a text buffer. Text inside script, style,
 * noscript and template is dropped; entities are decoded by libxml2; a
 * block-level element or <br> ends a word, so adjacent blocks never glue
 * together. Text reaches cb in UTF-8 pieces that end at a word boundary. */
#ifndef WC_HTML_TEXT_H
#define WC_HTML_TEXT_H

#include <stddef.h>

typedef void (*html_text_cb)(const char *text, size_t len, void *arg);
typedef struct html_text html_text_t;

/* html_text_new: charset from the HTTP header, or NULL. The first
 * CHARSET_SNIFF_BYTES are held until the charset is decided (charset.h:
 * BOM, header, <meta>, UTF-8); everything is converted to UTF-8 before
 * libxml2 sees it. */
html_text_t *html_text_new(const char *charset, html_text_cb cb, void *arg);
/* html_text_feed and html_text_finish return 0, or -1 when the document
 * cannot be decoded (the charset converter failed). */
int html_text_feed(html_text_t *h, const char *data, size_t len);
/* html_text_finish flushes what is left; call once at the end. */
int html_text_finish(html_text_t *h);
/* html_text_charset: the charset the page was read in (after the first
 * feed that decided it, or finish), or NULL before. */
const char *html_text_charset(const html_text_t *h);
void html_text_free(html_text_t *h);

#endif
