/* stopwords — the English stop list (NLTK's 179 words), loaded from a data
 * file (STOPWORDS_FILE, which replaces the list).
 *
 * Owns: the words (case-folded NFC UTF-8, as the tokenizer makes words,
 * so a file may use capitals or decomposed accents) in a hash set.
 * A typographic apostrophe (U+2019) is the plain one, in the file and in
 * lookups, so "don’t" matches "don't". Free with stopwords_free. */
#ifndef WC_STOPWORDS_H
#define WC_STOPWORDS_H

#include <stdbool.h>
#include <stddef.h>

/* STOPWORDS_WORD_MAX is the longest stop word in bytes; longer lines are
 * refused. */
#define STOPWORDS_WORD_MAX 64

struct stopwords {
    char **slots; /* open addressing, NULL = free; power-of-two size */
    size_t cap;
    size_t n;
    size_t longest; /* bytes: a longer word cannot be a stop word */
};

/* stopwords_load reads one word per line (UTF-8; blank lines, lines of
 * white space and #comments skipped; white space around a word ignored).
 * Returns 0, or -1 with a message in err (unreadable file, a line that
 * is not UTF-8 or longer than STOPWORDS_WORD_MAX, no words at all). */
int stopwords_load(struct stopwords *sw, const char *path, char *err, size_t errlen);
/* stopwords_contains looks up a case-folded word of len bytes. */
bool stopwords_contains(const struct stopwords *sw, const char *word, size_t len);
void stopwords_free(struct stopwords *sw);

#endif
