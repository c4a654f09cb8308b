/* stopwords — the English stop list (NLTK's 179 words), loaded from a data
 * file (STOPWORDS_FILE).
 *
 * Owns: a sorted array of the words (lower case UTF-8). stopwords_contains
 * treats a typographic apostrophe (U+2019) as the plain one, so "don’t"
 * matches "don't". Free with stopwords_free. */
#ifndef WC_STOPWORDS_H
#define WC_STOPWORDS_H

#include <stdbool.h>
#include <stddef.h>

struct stopwords {
    char **words;
    size_t n;
};

/* stopwords_load reads one word per line (blank lines and #comments skipped). */
int stopwords_load(struct stopwords *sw, const char *path, char *err, size_t errlen);
/* stopwords_contains looks up a case-folded word of len bytes. */
bool stopwords_contains(const struct stopwords *sw, const char *word, size_t len);
void stopwords_free(struct stopwords *sw);

#endif
