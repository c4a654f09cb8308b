/* json_out.c — JSON strings and numbers into a buf; see json_out.h. */
#include "common/json_out.h"

#include <string.h>

#include "common/utf8.h"

/* plain says whether byte c is copied as it is: printable ASCII but the
 * quote and the backslash (bytes from 0x80 go through the UTF-8 check). */
static inline int
plain(unsigned char c) {
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

static const char hex[] = "0123456789abcdef";

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
            size_t need, n = utf8_seq_prefix(s + i, len - i, &need);
            if (n == need) {
                memcpy(o, s + i, n);
                o += n;
            } else { /* a maximal ill-formed subsequence, or an invalid byte */
                memcpy(o, UTF8_REPLACEMENT, 3);
                o += 3;
                if (!n) n = 1;
            }
            i += n;
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
