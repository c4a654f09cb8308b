/* tally — the count stage: text (UTF-8, in pieces that end at a word
 * boundary) to words (tokenize) to counts, for all words, and at the end
 * for the words that are not stop words (one stop list lookup per
 * distinct word, not per occurrence).
 *
 * Owns: the tokenizer and both count tables; the stop words are
 * borrowed. Embedded by its owner; tally_free releases everything. */
#ifndef WC_TALLY_H
#define WC_TALLY_H

#include <stddef.h>

#include "worker/count.h"
#include "worker/stopwords.h"
#include "worker/tokenize.h"

struct tally {
    struct tokenizer tok;
    const struct stopwords *sw;
    struct count_table all;     /* every word */
    struct count_table no_stop; /* filled by tally_finish */
};

/* tally_init returns 0, or -1 with a message in err (ICU data missing);
 * then there is nothing to free. */
int tally_init(struct tally *t, const struct stopwords *sw, char *err, size_t errlen);
/* tally_text counts the words of text; arg is the struct tally (it fits
 * extract_text_cb). */
void tally_text(const char *text, size_t len, void *arg);
/* tally_finish derives the counts without stop words; call once. */
void tally_finish(struct tally *t);
void tally_free(struct tally *t);

#endif
