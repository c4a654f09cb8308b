/* json_out.c — JSON strings and numbers into a buf; see json_out.h. */
#include "common/json_out.h"

#include <string.h>

/* plain says whether byte c is copied as it is: printable ASCII but the
 * quote and the backslash (bytes from 0x80 go through the UTF-8 check). */
static inline int
plain(unsigned char c) {
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

static const char hex[] = "0123456789abcdef";

/* utf8_len returns the length of the well-formed UTF-8 sequence at s
 * (s[0] >= 0x80), or 0 when it is ill-formed; then *bad is the length of
 * its maximal ill-formed subsequence (at least 1), which becomes one
 * U+FFFD. Table 3-7 of the Unicode standard. */
static size_t
utf8_len(const unsigned char *s, size_t left, size_t *bad) {
    unsigned char c = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF; /* the second byte's range */
    if (c >= 0xC2 && c <= 0xDF) need = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F; /* nothing above U+10FFFF */
    } else {
        *bad = 1;
        return 0;
    }
    size_t i = 1;
    for (; i < need && i < left; i++) {
        unsigned char lo_i = i == 1 ? lo : 0x80, hi_i = i == 1 ? hi : 0xBF;
        if (s[i] < lo_i || s[i] > hi_i) break;
    }
    if (i == need) return need;
    *bad = i;
    return 0;
}

void
json_out_string(struct buf *b, const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str;
    /* Worst case: every byte a \u00XX escape (6), or an ill-formed byte
     * turned into U+FFFD (3). */
    buf_reserve(b, 6 * len + 2);
    char *o = b->data + b->len;
    *o++ = '"';
    size_t i = 0;
    while (i < len) {
        size_t run = i;
        while (run < len && plain(s[run])) run++;
        if (run > i) {
            memcpy(o, s + i, run - i);
            o += run - i;
            i = run;
            if (i == len) break;
        }
        unsigned char c = s[i];
        if (c >= 0x80) {
            size_t bad = 0, n = utf8_len(s + i, len - i, &bad);
            if (n) {
                memcpy(o, s + i, n);
                o += n;
                i += n;
            } else {
                memcpy(o, "\xEF\xBF\xBD", 3);
                o += 3;
                i += bad;
            }
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"':
            *o++ = '"';
            break;
        case '\\':
            *o++ = '\\';
            break;
        case '\b':
            *o++ = 'b';
            break;
        case '\f':
            *o++ = 'f';
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\t':
            *o++ = 't';
            break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
        i++;
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
}

size_t
json_out_u64_str(char *out, uint64_t v) {
    char tmp[JSON_OUT_U64_LEN];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t k = 0; k < n; k++) out[k] = tmp[n - 1 - k];
    out[n] = '\0';
    return n;
}

void
json_out_u64(struct buf *b, uint64_t v) {
    char tmp[JSON_OUT_U64_LEN];
    size_t n = json_out_u64_str(tmp, v);
    buf_append(b, tmp, n);
}
