/* utf8.c — well-formed UTF-8 sequences; see utf8.h. */
#include "common/utf8.h"

size_t
utf8_seq_prefix(const unsigned char *s, size_t len, size_t *need) {
    unsigned char c = s[0], lo = 0x80, hi = 0xBF; /* range of the second byte */
    *need = 1;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        *need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        *need = 3;
        if (c == 0xE0) lo = 0xA0;
        else if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        *need = 4;
        if (c == 0xF0) lo = 0x90;
        else if (c == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    if (len < 2) return 1;
    if (s[1] < lo || s[1] > hi) return 1;
    size_t k = 2;
    while (k < len && k < *need && (s[k] & 0xC0) == 0x80) k++;
    return k;
}
