/* charset.c — encoding sniffing and ICU conversion to UTF-8. */
#include "worker/charset.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unicode/ucnv.h>

/* The WHATWG Encoding standard reads these labels as windows-1252. */
static const char *
canonical(const char *label) {
    static const char *w1252[] = {"iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "l1",
                                  "us-ascii",   "ascii",     "cp819",      "ibm819", "iso-ir-100"};
    for (size_t i = 0; i < sizeof w1252 / sizeof w1252[0]; i++)
        if (!strcasecmp(label, w1252[i])) return "windows-1252";
    /* A meta tag that says UTF-16 cannot be right: the bytes were read as ASCII. */
    if (!strncasecmp(label, "utf-16", 6)) return "utf-8";
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
        if (*p != '<' || strncasecmp(p + 1, "meta", 4) != 0) continue;
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
        snprintf(name, CHARSET_NAME_MAX, "%s", canonical(header_charset));
        if (charset_known(name)) return "header";
    }
    char label[CHARSET_NAME_MAX];
    if (meta_charset(data, len < CHARSET_SNIFF_BYTES ? len : CHARSET_SNIFF_BYTES, label)) {
        snprintf(name, CHARSET_NAME_MAX, "%s", canonical(label));
        if (charset_known(name)) return "meta";
    }
    snprintf(name, CHARSET_NAME_MAX, "utf-8");
    return "default";
}

int
charset_conv_open(struct charset_conv *c, const char *name, char *err, size_t errlen) {
    UErrorCode e = U_ZERO_ERROR;
    c->from = c->to = NULL;
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
