/* html_style — what an element's style attribute says about showing it:
 * its display and visibility declarations, read as CSS reads them (names
 * and keywords ignore case, the last declaration of a property wins, an
 * !important one beats the plain ones after it). Nothing else of CSS is
 * read, and no style sheet is evaluated. Pure functions; owns nothing. */
#ifndef WC_HTML_STYLE_H
#define WC_HTML_STYLE_H

#include <stddef.h>

enum shown { SHOWN_UNSAID, SHOWN_YES, SHOWN_NO };

struct style_says {
    enum shown display;    /* NO: display:none; YES: another display */
    enum shown visibility; /* NO: hidden or collapse; YES: visible or initial */
};

/* html_style_read reads the style attribute s[0..n) (s may be NULL when
 * n is 0). */
struct style_says html_style_read(const char *s, size_t n);

#endif
