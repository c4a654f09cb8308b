/* tokenize — Unicode word segmentation (UAX #29, ICU's word break
 * iterator), case folding and NFC normalisation.
 *
 * Owns: the ICU break iterator and scratch UTF-16 buffers, reused across
 * calls. A token is a word when ICU's rule status says it holds letters,
 * kana or ideographs ("don't", "état", "東京"); numbers, punctuation and
 * emoji are not words. Each word reaches the callback as case-folded NFC
 * UTF-8, valid only during the call. */
#ifndef WC_TOKENIZE_H
#define WC_TOKENIZE_H

#include <stddef.h>

#include "common/buf.h"

typedef void (*tokenize_word_cb)(const char *word, size_t len, void *arg);

struct tokenizer {
    void *brk; /* UBreakIterator */
    struct buf u16;
    struct buf fold;
    struct buf norm;
    struct buf out;
};

int tokenizer_init(struct tokenizer *t, char *err, size_t errlen);
void tokenizer_free(struct tokenizer *t);
/* tokenize_text segments UTF-8 text (invalid bytes become U+FFFD). */
void tokenize_text(struct tokenizer *t, const char *utf8, size_t len, tokenize_word_cb cb, void *arg);

#endif
