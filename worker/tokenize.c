#include "worker/tokenize.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <unicode/ubrk.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>

/* Longest word handed on; a longer token is cut (it is no word a reader
 * sees, but it must not make the scratch buffers grow without bound). */
#define WORD_MAX 1024

/* The word break iterator every tokenizer clones: building one (rules,
 * locale) costs about twenty times a clone, and a tokenizer is made per
 * page. Built once per process, never given text, so clones may be taken
 * from any thread; how it segments "a:b" is asked once too. */
static struct {
    pthread_once_t once;
    UBreakIterator *brk;
    bool colon_midletter;
    UErrorCode st;
} proto = {.once = PTHREAD_ONCE_INIT};

static void
proto_build(void) {
    UErrorCode st = U_ZERO_ERROR;
    UBreakIterator *b = ubrk_open(UBRK_WORD, "en", NULL, 0, &st);
    if (U_FAILURE(st)) {
        proto.st = st;
        return;
    }
    /* Does this ICU keep "a:b" whole (colon as MidLetter)? */
    static const UChar probe[] = {'a', ':', 'b'};
    ubrk_setText(b, probe, 3, &st);
    proto.colon_midletter = U_SUCCESS(st) && ubrk_following(b, 0) == 3;
    st = U_ZERO_ERROR;
    ubrk_setText(b, NULL, 0, &st);
    proto.brk = b;
}

int
tokenizer_init(struct tokenizer *t, char *err, size_t errlen) {
    UErrorCode st = U_ZERO_ERROR;
    buf_init(&t->u16);
    buf_init(&t->fold);
    buf_init(&t->norm);
    buf_init(&t->out);
    t->nfc = NULL;
    t->brk = NULL;
    if (pthread_once(&proto.once, proto_build) != 0 || !proto.brk) {
        snprintf(err, errlen, "ubrk_open: %s", u_errorName(proto.st));
        return -1;
    }
    t->brk = ubrk_clone(proto.brk, &st);
    if (U_FAILURE(st)) {
        t->brk = NULL;
        snprintf(err, errlen, "ubrk_clone: %s", u_errorName(st));
        return -1;
    }
    t->nfc = unorm2_getNFCInstance(&st);
    if (U_FAILURE(st)) {
        snprintf(err, errlen, "unorm2_getNFCInstance: %s", u_errorName(st));
        tokenizer_free(t);
        return -1;
    }
    buf_reserve(&t->out, WORD_MAX + 1);
    t->colon_midletter = proto.colon_midletter;
    return 0;
}

void
tokenizer_cleanup(void) {
    if (proto.brk) ubrk_close(proto.brk);
    proto.brk = NULL;
}

void
tokenizer_free(struct tokenizer *t) {
    if (t->brk) ubrk_close(t->brk);
    t->brk = NULL;
    buf_free(&t->u16);
    buf_free(&t->fold);
    buf_free(&t->norm);
    buf_free(&t->out);
}

/* ensure_u16 sizes b for n UChars and returns its data. */
static UChar *
ensure_u16(struct buf *b, size_t n) {
    b->len = 0;
    buf_reserve(b, n * sizeof(UChar));
    return (UChar *)b->data;
}

/* --- ICU path --- */

static bool
has_letter(const UChar *s, int32_t n) {
    for (int32_t i = 0; i < n;) {
        UChar32 c;
        U16_NEXT(s, i, n, c);
        if (u_isalpha(c)) return true;
    }
    return false;
}

/* emit folds, normalises and hands on one ICU token. */
static void
emit(struct tokenizer *t, const UChar *s, int32_t n, tokenize_word_cb cb, void *arg) {
    if (n > WORD_MAX) n = WORD_MAX;
    if (n > 1 && U16_IS_LEAD(s[n - 1])) n--; /* do not cut a pair in two */
    bool ascii = true;
    for (int32_t i = 0; i < n && ascii; i++) ascii = s[i] < 0x80;
    t->out.len = 0;
    if (ascii) {
        /* Already NFC; folding is lower-casing. */
        buf_reserve(&t->out, (size_t)n);
        for (int32_t i = 0; i < n; i++) {
            UChar c = s[i];
            t->out.data[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        cb(t->out.data, (size_t)n, arg);
        return;
    }
    UErrorCode st = U_ZERO_ERROR;
    /* Full case folding grows a string at most three times (ß -> ss). */
    int32_t cap = n * 3 + 8;
    UChar *fold = ensure_u16(&t->fold, (size_t)cap);
    int32_t fn = u_strFoldCase(fold, cap, s, n, U_FOLD_CASE_DEFAULT, &st);
    if (U_FAILURE(st)) return;
    /* NFC of a folded string can also grow (a few compatibility cases);
     * ask ICU again with the size it reports. */
    int32_t ncap = fn * 3 + 8;
    UChar *norm = ensure_u16(&t->norm, (size_t)ncap);
    int32_t nn = unorm2_normalize(t->nfc, fold, fn, norm, ncap, &st);
    if (st == U_BUFFER_OVERFLOW_ERROR) {
        st = U_ZERO_ERROR;
        ncap = nn + 1;
        norm = ensure_u16(&t->norm, (size_t)ncap);
        nn = unorm2_normalize(t->nfc, fold, fn, norm, ncap, &st);
    }
    if (U_FAILURE(st)) return;
    int32_t outcap = nn * 3 + 1; /* a UTF-16 unit is at most 3 UTF-8 bytes */
    buf_reserve(&t->out, (size_t)outcap);
    int32_t olen = 0;
    u_strToUTF8WithSub(t->out.data, outcap, &olen, norm, nn, 0xFFFD, NULL, &st);
    if (U_FAILURE(st)) return;
    cb(t->out.data, (size_t)olen, arg);
}

/* icu_segment runs ICU's word break iterator over utf8[0..len). */
static void
icu_segment(struct tokenizer *t, const char *utf8, size_t len, tokenize_word_cb cb, void *arg) {
    while (len > 0) {
        /* ICU takes int32_t lengths: very long text goes in pieces cut
         * at a character boundary. */
        size_t n = len;
        if (n > (1u << 24)) {
            n = 1u << 24;
            while (n > 0 && ((unsigned char)utf8[n] & 0xC0) == 0x80) n--;
        }
        UErrorCode st = U_ZERO_ERROR;
        int32_t cap = (int32_t)n + 1;
        UChar *u = ensure_u16(&t->u16, (size_t)cap);
        int32_t ulen = 0;
        u_strFromUTF8WithSub(u, cap, &ulen, utf8, (int32_t)n, 0xFFFD, NULL, &st);
        if (U_FAILURE(st)) return;
        ubrk_setText(t->brk, u, ulen, &st);
        if (U_FAILURE(st)) return;
        int32_t start = ubrk_first(t->brk);
        for (int32_t end = ubrk_next(t->brk); end != UBRK_DONE;
             start = end, end = ubrk_next(t->brk)) {
            /* A combining mark after a space joins the space (UAX #29
             * WB4), so a token can begin with white space: trim it. */
            int32_t a = start, b = end;
            while (a < b && u_isUWhiteSpace(u[a])) a++;
            while (b > a && u_isUWhiteSpace(u[b - 1])) b--;
            /* A word is a token with a letter in it. ICU's rule status
             * is not used: it calls "abc123" a number. */
            if (has_letter(u + a, b - a)) emit(t, u + a, b - a, cb, arg);
        }
        /* Detach the text: the buffer may move on the next call. */
        ubrk_setText(t->brk, NULL, 0, &st);
        utf8 += n;
        len -= n;
    }
}

void
tokenize_text_icu(struct tokenizer *t, const char *utf8, size_t len, tokenize_word_cb cb,
                  void *arg) {
    icu_segment(t, utf8, len, cb, arg);
}

/* --- ASCII path --- */

/* Word_Break classes of the ASCII characters (UAX #29). Two characters
 * have classes that ICU tailors or has changed between versions: the
 * colon (MidLetter in UAX #29, not in ICU's root rules) and '@' (a
 * letter in ICU 72, to keep e-mail addresses whole). tokenizer_init asks
 * the installed ICU about the colon; a piece holding '@' goes to ICU. */
enum wb {
    WB_OTHER,
    WB_ALETTER,
    WB_NUMERIC,
    WB_MIDLETTER,
    WB_MIDNUMLETQ,
    WB_MIDNUM,
    WB_EXTENDNUMLET
};

static const unsigned char wb_class[256] = {
    ['a' ... 'z'] = WB_ALETTER, ['A' ... 'Z'] = WB_ALETTER, ['0' ... '9'] = WB_NUMERIC,
    ['.'] = WB_MIDNUMLETQ,      ['\''] = WB_MIDNUMLETQ,     [','] = WB_MIDNUM,
    [';'] = WB_MIDNUM,          ['_'] = WB_EXTENDNUMLET,
};

/* scan: white space ends a piece; SCAN_ICU sends the piece to ICU. A
 * no-break space (C2 A0) also ends a piece: it is Word_Break Other, so
 * like a space it never joins anything on either side. */
enum { SCAN_ICU = 1, SCAN_SPACE = 2 };
static const unsigned char scan[256] = {
    [' '] = SCAN_SPACE,  ['\t'] = SCAN_SPACE, ['\n'] = SCAN_SPACE, ['\r'] = SCAN_SPACE,
    ['\v'] = SCAN_SPACE, ['\f'] = SCAN_SPACE, ['@'] = SCAN_ICU,    [0x80 ... 0xff] = SCAN_ICU,
};

static inline bool
is_nbsp(const unsigned char *p, const unsigned char *end) {
    return p[0] == 0xC2 && p + 1 < end && p[1] == 0xA0;
}

static inline bool
joins(unsigned char c) {
    return c == WB_ALETTER || c == WB_NUMERIC || c == WB_EXTENDNUMLET;
}

/* ascii_piece segments s[0..n): ASCII, no white space, no '@'. */
static void
ascii_piece(struct tokenizer *t, const unsigned char *s, size_t n, tokenize_word_cb cb, void *arg) {
    unsigned char colon = t->colon_midletter ? WB_MIDLETTER : WB_OTHER;
    size_t i = 0;
    while (i < n) {
        unsigned char c = wb_class[s[i]];
        if (!joins(c)) {
            i++; /* punctuation or a symbol alone: never a word */
            continue;
        }
        size_t start = i;
        bool letter = c == WB_ALETTER;
        unsigned char prev = c;
        for (i++; i < n; i++) {
            unsigned char cur = wb_class[s[i]];
            if (joins(cur)) { /* WB5, WB8-10, WB13a, WB13b */
                prev = cur;
                letter |= cur == WB_ALETTER;
                continue;
            }
            if (s[i] == ':') cur = colon;
            unsigned char next = i + 1 < n ? wb_class[s[i + 1]] : WB_OTHER;
            if (prev == WB_ALETTER && (cur == WB_MIDLETTER || cur == WB_MIDNUMLETQ) &&
                next == WB_ALETTER) { /* WB6, WB7 */
                i++;
                prev = next;
                continue;
            }
            if (prev == WB_NUMERIC && (cur == WB_MIDNUM || cur == WB_MIDNUMLETQ) &&
                next == WB_NUMERIC) { /* WB11, WB12 */
                i++;
                prev = next;
                continue;
            }
            break;
        }
        if (!letter) continue;
        size_t len = i - start;
        if (len > WORD_MAX) len = WORD_MAX;
        char *o = t->out.data; /* WORD_MAX + 1 bytes since tokenizer_init */
        for (size_t k = 0; k < len; k++) {
            unsigned char b = s[start + k];
            o[k] = (char)(b >= 'A' && b <= 'Z' ? b + 32 : b);
        }
        cb(o, len, arg);
    }
}

void
tokenize_text(struct tokenizer *t, const char *utf8, size_t len, tokenize_word_cb cb, void *arg) {
    const unsigned char *p = (const unsigned char *)utf8, *end = p + len;
    const unsigned char *icu_from = NULL; /* start of pieces waiting for ICU */
    while (p < end) {
        for (; p < end; p++) {
            if (scan[*p] == SCAN_SPACE) continue;
            if (!is_nbsp(p, end)) break;
            p++;
        }
        if (p == end) break;
        const unsigned char *q = p;
        unsigned char icu = 0;
        for (; q < end; q++) {
            unsigned char f = scan[*q];
            if (!f) continue;
            if (f & SCAN_SPACE || is_nbsp(q, end)) break;
            icu = 1;
        }
        if (!icu) {
            if (icu_from) icu_segment(t, (const char *)icu_from, (size_t)(p - icu_from), cb, arg);
            icu_from = NULL;
            ascii_piece(t, p, (size_t)(q - p), cb, arg);
        } else if (!icu_from) {
            icu_from = p;
        }
        p = q;
    }
    if (icu_from) icu_segment(t, (const char *)icu_from, (size_t)(end - icu_from), cb, arg);
}
