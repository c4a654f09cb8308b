/* html_entity — character references (&amp; &#233; &#xE9;) to UTF-8, for
 * the HTML text scanner (extract_html.c).
 *
 * Named references are looked up in libxml2's table of HTML 4's 253
 * entities (htmlEntityLookup), the set the word counter has always
 * decoded; the HTML5-only names (&NewLine;, &bigstar; ...) stay text.
 * Numbers follow HTML5: 0, surrogates and anything past U+10FFFF become
 * U+FFFD, and 0x80 to 0x9F are read as windows-1252 (&#146; is U+2019),
 * as browsers do. Pure functions; owns nothing. */
#ifndef WC_HTML_ENTITY_H
#define WC_HTML_ENTITY_H

#include <stdbool.h>
#include <stddef.h>

/* The longest entity name looked up; longer ones are text. */
#define HTML_ENTITY_NAME_MAX 32

/* html_entity_named writes the UTF-8 of the entity called name[0..len)
 * (case matters) to out and returns its length, or 0 when there is no
 * such entity. Without a closing semicolon only the Latin-1 ones (code
 * points up to U+00FF, the ones HTML5 reads without it) count. */
size_t html_entity_named(const char *name, size_t len, bool semicolon, char out[4]);

/* html_entity_number writes the UTF-8 of numeric reference cp (values
 * past U+10FFFF may be passed as any larger number) and returns its
 * length. */
size_t html_entity_number(unsigned long cp, char out[4]);

#endif
