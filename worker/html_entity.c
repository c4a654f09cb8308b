#include "worker/html_entity.h"

#include <libxml/HTMLparser.h>
#include <string.h>
#include <unicode/utf8.h>

/* HTML5's reading of &#128; to &#159; (windows-1252); 0 where it keeps
 * the number. */
static const unsigned short c1_map[32] = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};

/* encode writes cp (a scalar value) as UTF-8: ICU's macro. */
static size_t
encode(unsigned cp, char out[4]) {
    size_t n = 0;
    U8_APPEND_UNSAFE(out, n, cp);
    return n;
}

size_t
html_entity_number(unsigned long cp, char out[4]) {
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
    else if (cp >= 0x80 && cp <= 0x9F && c1_map[cp - 0x80]) cp = c1_map[cp - 0x80];
    return encode((unsigned)cp, out);
}

size_t
html_entity_named(const char *name, size_t len, bool semicolon, char out[4]) {
    if (len == 0 || len > HTML_ENTITY_NAME_MAX) return 0;
    char z[HTML_ENTITY_NAME_MAX + 1];
    memcpy(z, name, len);
    z[len] = '\0';
    const htmlEntityDesc *e = htmlEntityLookup((const xmlChar *)z);
    if (!e || (!semicolon && e->value > 0xFF)) return 0;
    return encode(e->value, out);
}
