/* charset.c — encoding sniffing and ICU conversion to UTF-8. */
#include "worker/charset.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unicode/ucnv.h>

#include "common/utf8.h"

/* canonical maps a label to the encoding the WHATWG Encoding standard
 * (what browsers do) decodes it as, where that differs from ICU's
 * reading of the same label; other labels pass through to ICU. */
static const char *
canonical(const char *label, bool from_meta) {
    static const struct {
        const char *label, *name;
    } aliases[] = {
        {"iso-8859-1", "windows-1252"},
        {"iso8859-1", "windows-1252"},
        {"iso_8859-1", "windows-1252"},
        {"latin1", "windows-1252"},
        {"l1", "windows-1252"},
        {"us-ascii", "windows-1252"},
        {"ascii", "windows-1252"},
        {"cp819", "windows-1252"},
        {"ibm819", "windows-1252"},
        {"iso-ir-100", "windows-1252"},
        {"iso-8859-9", "windows-1254"},
        {"iso8859-9", "windows-1254"},
        {"latin5", "windows-1254"},
        {"l5", "windows-1254"},
        {"iso-8859-11", "windows-874"},
        {"tis-620", "windows-874"},
        {"gb2312", "gb18030"},
        {"gb_2312-80", "gb18030"},
        {"gbk", "gb18030"},
        {"x-gbk", "gb18030"},
        {"chinese", "gb18030"},
        {"euc-kr", "windows-949"},
        {"ks_c_5601-1987", "windows-949"},
        {"korean", "windows-949"},
        {"big5", "big5-hkscs"},
        {"x-sjis", "shift_jis"},
        {"iso-8859-8-i", "iso-8859-8"},
        {"utf-16", "utf-16le"},
        {"unicode", "utf-16le"},
    };
    /* A <meta> that names UTF-16 cannot be right: it was read as ASCII. */
    if (from_meta && (!strncasecmp(label, "utf-16", 6) || !strcasecmp(label, "unicode")))
        return "utf-8";
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (!strcasecmp(label, aliases[i].label)) return aliases[i].name;
    return label;
}

bool
charset_known(const char *name) {
    UErrorCode e = U_ZERO_ERROR;
    UConverter *c = ucnv_open(name, &e);
    if (U_FAILURE(e) || !c) return false;
    ucnv_close(c);
    return true;
}

/* take_label copies a charset label (letters, digits, - _ . : ) from p. */
static bool
take_label(const char *p, const char *end, char name[CHARSET_NAME_MAX]) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    if (p < end && (*p == '"' || *p == '\'')) p++;
    size_t n = 0;
    while (p < end && n < CHARSET_NAME_MAX - 1 &&
           (isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.' || *p == ':'))
        name[n++] = *p++;
    name[n] = '\0';
    return n > 0;
}

/* meta_charset finds charset=... inside the first <meta ...> tag that has one. */
static bool
meta_charset(const char *data, size_t len, char name[CHARSET_NAME_MAX]) {
    const char *end = data + len;
    for (const char *p = data; p + 5 < end; p++) {
        if (*p != '<' || strncasecmp(p + 1, "meta", 4) != 0 || !memchr(" \t\r\n\f/", p[5], 6))
            continue;
        const char *tag_end = memchr(p, '>', (size_t)(end - p));
        if (!tag_end) return false;
        for (const char *q = p + 5; q + 7 < tag_end; q++) {
            if (strncasecmp(q, "charset", 7) != 0) continue;
            const char *v = q + 7;
            while (v < tag_end && (*v == ' ' || *v == '\t')) v++;
            if (v < tag_end && *v == '=' && take_label(v + 1, tag_end, name)) return true;
        }
        p = tag_end;
    }
    return false;
}

/* wide_pattern names the UTF-16 or UTF-32 that a document with no
 * byte-order mark starts in, by where the NULs fall around its first two
 * ASCII characters (as XML's appendix F guesses), or NULL. */
static const char *
wide_pattern(const unsigned char *u, size_t len) {
    if (len < 4) return NULL;
#define ASCII(c) ((c) != 0 && (c) < 0x80)
    if (ASCII(u[0]) && !u[1] && !u[2] && !u[3]) return "utf-32le";
    if (!u[0] && !u[1] && !u[2] && ASCII(u[3])) return "utf-32be";
    if (ASCII(u[0]) && !u[1] && ASCII(u[2]) && !u[3]) return "utf-16le";
    if (!u[0] && ASCII(u[1]) && !u[2] && ASCII(u[3])) return "utf-16be";
#undef ASCII
    return NULL;
}

const char *
charset_sniff(const char *data, size_t len, const char *header_charset, char name[CHARSET_NAME_MAX],
              size_t *bom_len) {
    const unsigned char *u = (const unsigned char *)data;
    *bom_len = 0;
    if (len >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF) {
        snprintf(name, CHARSET_NAME_MAX, "utf-8");
        *bom_len = 3;
        return "bom";
    }
    if (len >= 2 && ((u[0] == 0xFF && u[1] == 0xFE) || (u[0] == 0xFE && u[1] == 0xFF))) {
        snprintf(name, CHARSET_NAME_MAX, "%s", u[0] == 0xFF ? "utf-16le" : "utf-16be");
        *bom_len = 2;
        return "bom";
    }
    if (header_charset && *header_charset) {
        snprintf(name, CHARSET_NAME_MAX, "%s", canonical(header_charset, false));
        if (charset_known(name)) return "header";
    }
    char label[CHARSET_NAME_MAX];
    if (meta_charset(data, len < CHARSET_SNIFF_BYTES ? len : CHARSET_SNIFF_BYTES, label)) {
        snprintf(name, CHARSET_NAME_MAX, "%s", canonical(label, true));
        if (charset_known(name)) return "meta";
    }
    const char *wide = wide_pattern(u, len);
    if (wide) {
        snprintf(name, CHARSET_NAME_MAX, "%s", wide);
        return "pattern";
    }
    snprintf(name, CHARSET_NAME_MAX, "utf-8");
    return "default";
}

size_t
charset_utf8_valid_prefix(const unsigned char *s, size_t len) {
    size_t i = 0, need;
    while (i < len) {
        /* ASCII eight bytes at a time: most of a page is. */
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ULL) break;
            i += 8;
        }
        if (i == len) break;
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        if (utf8_seq_prefix(s + i, len - i, &need) != need) break;
        i += need;
    }
    return i;
}

/* utf8_feed copies well-formed UTF-8 and puts one U+FFFD for each
 * maximal ill-formed part, as ICU's UTF-8 converter does. */
static int
utf8_feed(struct charset_conv *c, const char *in, size_t len, bool flush, struct buf *out) {
    const unsigned char *s = (const unsigned char *)in;
    size_t need;
    /* First the sequence the last feed ended in. */
    while (c->ntail && len) {
        c->tail[c->ntail] = *s;
        if (utf8_seq_prefix(c->tail, c->ntail + 1, &need) <= c->ntail) {
            buf_append(out, UTF8_REPLACEMENT, 3); /* *s does not continue it */
            c->ntail = 0;
            break;
        }
        c->ntail++;
        s++;
        len--;
        if (c->ntail == need) {
            buf_append(out, c->tail, need);
            c->ntail = 0;
        }
    }
    while (len) {
        size_t ok = charset_utf8_valid_prefix(s, len);
        buf_append(out, s, ok);
        s += ok;
        len -= ok;
        if (!len) break;
        size_t k = utf8_seq_prefix(s, len, &need);
        if (k == len && k < need) { /* cut by the end of this piece */
            memcpy(c->tail, s, k);
            c->ntail = k;
            break;
        }
        buf_append(out, UTF8_REPLACEMENT, 3);
        s += k ? k : 1;
        len -= k ? k : 1;
    }
    if (flush && c->ntail) {
        buf_append(out, UTF8_REPLACEMENT, 3);
        c->ntail = 0;
    }
    return 0;
}

/* icu_feed converts through the two ICU converters. */
static int icu_feed(struct charset_conv *c, const char *in, size_t len, bool flush,
                    struct buf *out);

int
charset_conv_open(struct charset_conv *c, const char *name, char *err, size_t errlen) {
    UErrorCode e = U_ZERO_ERROR;
    c->from = c->to = NULL;
    c->ntail = 0;
    c->utf8 = !strcasecmp(name, "utf-8") || !strcasecmp(name, "utf8");
    UConverter *from = ucnv_open(name, &e);
    if (U_FAILURE(e)) {
        snprintf(err, errlen, "unknown charset %s: %s", name, u_errorName(e));
        return -1;
    }
    UConverter *to = ucnv_open("UTF-8", &e);
    if (U_FAILURE(e)) {
        ucnv_close(from);
        snprintf(err, errlen, "cannot open the UTF-8 converter: %s", u_errorName(e));
        return -1;
    }
    c->from = from;
    c->to = to;
    return 0;
}

int
charset_conv_feed(struct charset_conv *c, const char *in, size_t len, bool flush, struct buf *out) {
    if (c->utf8) return utf8_feed(c, in, len, flush, out);
    return icu_feed(c, in, len, flush, out);
}

static int
icu_feed(struct charset_conv *c, const char *in, size_t len, bool flush, struct buf *out) {
    UChar u16[4096];
    const char *src = in, *end = in + len;
    bool more;
    do {
        UChar *ut = u16;
        UErrorCode e = U_ZERO_ERROR;
        ucnv_toUnicode(c->from, &ut, u16 + sizeof u16 / sizeof u16[0], &src, end, NULL, flush, &e);
        more = e == U_BUFFER_OVERFLOW_ERROR;
        if (U_FAILURE(e) && !more) return -1;
        const UChar *us = u16;
        bool full;
        do {
            buf_reserve(out, 4 * (size_t)(ut - us) + 16);
            char *t = out->data + out->len, *tend = out->data + out->cap - 1;
            UErrorCode e2 = U_ZERO_ERROR;
            ucnv_fromUnicode(c->to, &t, tend, &us, ut, NULL, flush && !more, &e2);
            out->len = (size_t)(t - out->data);
            out->data[out->len] = '\0';
            full = e2 == U_BUFFER_OVERFLOW_ERROR;
            if (U_FAILURE(e2) && !full) return -1;
        } while (full);
    } while (more);
    return 0;
}

void
charset_conv_close(struct charset_conv *c) {
    if (c->from) ucnv_close(c->from);
    if (c->to) ucnv_close(c->to);
    c->from = c->to = NULL;
}
