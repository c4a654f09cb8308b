/* tokenize — Unicode word segmentation (UAX #29, ICU's word break
 * iterator), case folding and NFC normalisation.
 *
 * Owns: its ICU break iterator (a clone of one the process builds once)
 * and scratch buffers, reused across calls, so segmenting allocates
 * nothing once the buffers have grown. A token is a word when ICU's rule
 * status says letters, kana or ideographs and it holds at least one
 * letter (general category L) of any script:
 * "don't", "état", "東京" are words; numbers ("42", "3.14"), punctuation,
 * emoji and "4_2" are not. Each word reaches the callback as case-folded
 * NFC UTF-8, valid only during the call.
 *
 * Speed: text is cut at ASCII white space and no-break spaces, which
 * UAX #29 never joins with anything on either side. A piece made of
 * ASCII alone is segmented by the UAX #29 rules restricted to ASCII
 * (letters, digits, ' . : , ; _) and lower-cased in place, without ICU;
 * the other pieces go through ICU together. tokenize_text_icu sends
 * everything through ICU; the tests and the fuzzer check that both give
 * the same words. */
#ifndef WC_TOKENIZE_H
#define WC_TOKENIZE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

typedef void (*tokenize_word_cb)(const char *word, size_t len, void *arg);

struct tokenizer {
    void *brk;       /* UBreakIterator */
    const void *nfc; /* UNormalizer2, owned by ICU */
    struct buf u16;
    struct buf fold;
    struct buf norm;
    struct buf out;
    bool colon_midletter; /* how the installed ICU segments "a:b" */
};

/* tokenizer_init returns 0, or -1 with a message in err (ICU data missing). */
int tokenizer_init(struct tokenizer *t, char *err, size_t errlen);
void tokenizer_free(struct tokenizer *t);
/* tokenizer_cleanup frees what every tokenizer shares (the break
 * iterator they are cloned from), at the end of a process, once no
 * tokenizer is in use; a later tokenizer_init fails. */
void tokenizer_cleanup(void);
/* tokenize_text segments UTF-8 text (invalid bytes become U+FFFD) and
 * calls cb for each word in order. */
void tokenize_text(struct tokenizer *t, const char *utf8, size_t len, tokenize_word_cb cb,
                   void *arg);
/* tokenize_text_icu does the same with no ASCII fast path. */
void tokenize_text_icu(struct tokenizer *t, const char *utf8, size_t len, tokenize_word_cb cb,
                       void *arg);

#endif
