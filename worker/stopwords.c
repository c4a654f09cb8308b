#include "worker/stopwords.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include "common/xalloc.h"

/* plain_apostrophes copies word to key with U+2019 (E2 80 99) made '\'';
 * returns the key's length, or -1 when it does not fit. */
static int
plain_apostrophes(const char *word, size_t len, char *key, size_t keycap) {
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        if (k + 1 >= keycap) return -1;
        if (i + 2 < len && (unsigned char)word[i] == 0xE2 && (unsigned char)word[i + 1] == 0x80 &&
            (unsigned char)word[i + 2] == 0x99) {
            key[k++] = '\'';
            i += 2;
        } else {
            key[k++] = word[i];
        }
    }
    key[k] = '\0';
    return (int)k;
}

static uint64_t
hash(const char *s, size_t len) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h ^ (h >> 31);
}

/* find returns the slot of key, or the free slot where it would go. */
static size_t
find(const struct stopwords *sw, const char *key, size_t len) {
    size_t j = hash(key, len) & (sw->cap - 1);
    while (sw->slots[j] && (strlen(sw->slots[j]) != len || memcmp(sw->slots[j], key, len) != 0))
        j = (j + 1) & (sw->cap - 1);
    return j;
}

static void
insert(struct stopwords *sw, const char *key, size_t len) {
    if ((sw->n + 1) * 2 > sw->cap) { /* at most half full: short probes */
        struct stopwords bigger = {.cap = sw->cap ? sw->cap * 2 : 512, .longest = sw->longest};
        bigger.slots = xcalloc(bigger.cap, sizeof *bigger.slots);
        for (size_t i = 0; i < sw->cap; i++)
            if (sw->slots[i])
                bigger.slots[find(&bigger, sw->slots[i], strlen(sw->slots[i]))] = sw->slots[i];
        bigger.n = sw->n;
        free(sw->slots);
        *sw = bigger;
    }
    size_t j = find(sw, key, len);
    if (sw->slots[j]) return; /* listed twice */
    sw->slots[j] = xstrndup(key, len);
    sw->n++;
    if (len > sw->longest) sw->longest = len;
}

/* fold makes a line's word what the tokenizer would make of it: case
 * folded, NFC. Returns its length in out, or -1 (not UTF-8, too long). */
static int
fold(const char *in, size_t len, char out[STOPWORDS_WORD_MAX + 1]) {
    UChar u[STOPWORDS_WORD_MAX + 1], f[3 * STOPWORDS_WORD_MAX + 8], n[3 * STOPWORDS_WORD_MAX + 8];
    int32_t ulen = 0, olen = 0;
    UErrorCode st = U_ZERO_ERROR;
    u_strFromUTF8(u, STOPWORDS_WORD_MAX + 1, &ulen, in, (int32_t)len, &st);
    int32_t flen =
        u_strFoldCase(f, (int32_t)(sizeof f / sizeof *f), u, ulen, U_FOLD_CASE_DEFAULT, &st);
    const UNormalizer2 *nfc = unorm2_getNFCInstance(&st);
    int32_t nlen =
        U_SUCCESS(st) ? unorm2_normalize(nfc, f, flen, n, (int32_t)(sizeof n / sizeof *n), &st) : 0;
    u_strToUTF8(out, STOPWORDS_WORD_MAX + 1, &olen, n, nlen, &st);
    if (U_FAILURE(st) || st == U_STRING_NOT_TERMINATED_WARNING || olen > STOPWORDS_WORD_MAX)
        return -1;
    return olen;
}

int
stopwords_load(struct stopwords *sw, const char *path, char *err, size_t errlen) {
    memset(sw, 0, sizeof *sw);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t linecap = 0;
    ssize_t got;
    int lineno = 0, rc = 0;
    while (rc == 0 && (got = getline(&line, &linecap, f)) >= 0) {
        lineno++;
        size_t a = 0, b = (size_t)got;
        while (a < b && strchr(" \t\r\n\f\v", line[a])) a++;
        while (b > a && strchr(" \t\r\n\f\v", line[b - 1])) b--;
        if (a == b || line[a] == '#') continue;
        char folded[STOPWORDS_WORD_MAX + 1], key[STOPWORDS_WORD_MAX + 1];
        int flen = b - a <= STOPWORDS_WORD_MAX ? fold(line + a, b - a, folded) : -1;
        int klen = flen < 0 ? -1 : plain_apostrophes(folded, (size_t)flen, key, sizeof key);
        if (klen <= 0) {
            snprintf(err, errlen, "%s:%d: not a word of at most %d bytes of UTF-8", path, lineno,
                     STOPWORDS_WORD_MAX);
            rc = -1;
        } else {
            insert(sw, key, (size_t)klen);
        }
    }
    free(line);
    bool bad = ferror(f);
    fclose(f);
    if (rc == 0 && (bad || sw->n == 0)) {
        snprintf(err, errlen, "%s: %s", path, bad ? "read error" : "no words");
        rc = -1;
    }
    if (rc < 0) stopwords_free(sw);
    return rc;
}

bool
stopwords_contains(const struct stopwords *sw, const char *word, size_t len) {
    /* A key is at least a third of the word (’ is 3 bytes, ' one). */
    if (sw->n == 0 || len > 3 * sw->longest) return false;
    if (!memchr(word, 0xE2, len)) /* no ’: the word is its own key */
        return len <= sw->longest && sw->slots[find(sw, word, len)] != NULL;
    char key[STOPWORDS_WORD_MAX + 1];
    int k = plain_apostrophes(word, len, key, sizeof key);
    if (k < 0 || (size_t)k > sw->longest) return false;
    return sw->slots[find(sw, key, (size_t)k)] != NULL;
}

void
stopwords_free(struct stopwords *sw) {
    for (size_t i = 0; i < sw->cap; i++) free(sw->slots[i]);
    free(sw->slots);
    memset(sw, 0, sizeof *sw);
}
