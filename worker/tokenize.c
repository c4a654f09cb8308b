#include "worker/tokenize.h"

#include <stdio.h>
#include <unicode/ubrk.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

int
tokenizer_init(struct tokenizer *t, char *err, size_t errlen) {
    UErrorCode st = U_ZERO_ERROR;
    t->brk = ubrk_open(UBRK_WORD, "en", NULL, 0, &st);
    buf_init(&t->u16);
    buf_init(&t->fold);
    buf_init(&t->norm);
    buf_init(&t->out);
    if (U_FAILURE(st)) {
        snprintf(err, errlen, "ubrk_open: %s", u_errorName(st));
        return -1;
    }
    return 0;
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

static void
emit(struct tokenizer *t, const UChar *s, int32_t n, tokenize_word_cb cb, void *arg) {
    UErrorCode st = U_ZERO_ERROR;
    /* Folding can grow a string (ß -> ss); three times is ICU's bound. */
    int32_t cap = n * 3 + 8;
    UChar *fold = ensure_u16(&t->fold, (size_t)cap);
    int32_t fn = u_strFoldCase(fold, cap, s, n, U_FOLD_CASE_DEFAULT, &st);
    if (U_FAILURE(st)) return;
    const UNormalizer2 *nfc = unorm2_getNFCInstance(&st);
    UChar *norm = ensure_u16(&t->norm, (size_t)cap);
    int32_t nn = unorm2_normalize(nfc, fold, fn, norm, cap, &st);
    if (U_FAILURE(st)) return;
    int32_t outcap = nn * 4 + 1;
    t->out.len = 0;
    buf_reserve(&t->out, (size_t)outcap);
    int32_t olen = 0;
    u_strToUTF8WithSub(t->out.data, outcap, &olen, norm, nn, 0xFFFD, NULL, &st);
    if (U_FAILURE(st)) return;
    cb(t->out.data, (size_t)olen, arg);
}

void
tokenize_text(struct tokenizer *t, const char *utf8, size_t len, tokenize_word_cb cb, void *arg) {
    if (len == 0 || len > INT32_MAX / 2) return;
    UErrorCode st = U_ZERO_ERROR;
    int32_t cap = (int32_t)len + 1;
    UChar *u = ensure_u16(&t->u16, (size_t)cap);
    int32_t ulen = 0;
    u_strFromUTF8WithSub(u, cap, &ulen, utf8, (int32_t)len, 0xFFFD, NULL, &st);
    if (U_FAILURE(st)) return;
    ubrk_setText(t->brk, u, ulen, &st);
    if (U_FAILURE(st)) return;
    int32_t start = ubrk_first(t->brk);
    for (int32_t end = ubrk_next(t->brk); end != UBRK_DONE; start = end, end = ubrk_next(t->brk)) {
        int32_t status = ubrk_getRuleStatus(t->brk);
        if (status >= UBRK_WORD_LETTER && status < UBRK_WORD_IDEO_LIMIT)
            emit(t, u + start, end - start, cb, arg);
    }
    /* Detach the text: the buffer may move on the next call. */
    ubrk_setText(t->brk, NULL, 0, &st);
}
