#include "worker/stopwords.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

static int
cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int
stopwords_load(struct stopwords *sw, const char *path, char *err, size_t errlen) {
    sw->words = NULL;
    sw->n = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    char line[256];
    size_t cap = 0;
    while (fgets(line, sizeof line, f)) {
        size_t len = strcspn(line, "\r\n");
        line[len] = '\0';
        if (len == 0 || line[0] == '#') continue;
        if (sw->n == cap) {
            cap = cap ? cap * 2 : 256;
            sw->words = xrealloc(sw->words, cap * sizeof *sw->words);
        }
        sw->words[sw->n++] = xstrdup(line);
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad || sw->n == 0) {
        snprintf(err, errlen, "%s: %s", path, bad ? "read error" : "no words");
        stopwords_free(sw);
        return -1;
    }
    qsort(sw->words, sw->n, sizeof *sw->words, cmp);
    return 0;
}

bool
stopwords_contains(const struct stopwords *sw, const char *word, size_t len) {
    /* Stop words are short ASCII: map U+2019 (E2 80 99) to an apostrophe. */
    char key[64];
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        if (k + 1 >= sizeof key) return false;
        if (i + 2 < len + 0 && (unsigned char)word[i] == 0xE2 && (unsigned char)word[i + 1] == 0x80 &&
            (unsigned char)word[i + 2] == 0x99) {
            key[k++] = '\'';
            i += 2;
        } else {
            key[k++] = word[i];
        }
    }
    key[k] = '\0';
    const char *p = key;
    return bsearch(&p, sw->words, sw->n, sizeof *sw->words, cmp) != NULL;
}

void
stopwords_free(struct stopwords *sw) {
    for (size_t i = 0; i < sw->n; i++) free(sw->words[i]);
    free(sw->words);
    sw->words = NULL;
    sw->n = 0;
}
