#include "worker/count.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/json.h"
#include "common/xalloc.h"

void
count_init(struct count_table *t) {
    memset(t, 0, sizeof *t);
}

void
count_free(struct count_table *t) {
    for (size_t i = 0; i < t->cap; i++) free((char *)t->slots[i].word);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

static uint64_t
hash(const char *s, size_t len) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static void
grow(struct count_table *t) {
    size_t cap = t->cap ? t->cap * 2 : 256;
    struct count_entry *slots = xcalloc(cap, sizeof *slots);
    for (size_t i = 0; i < t->cap; i++) {
        struct count_entry *e = &t->slots[i];
        if (!e->word) continue;
        size_t j = hash(e->word, e->len) & (cap - 1);
        while (slots[j].word) j = (j + 1) & (cap - 1);
        slots[j] = *e;
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
}

void
count_add(struct count_table *t, const char *word, size_t len) {
    if ((t->used + 1) * 10 > t->cap * 7) grow(t);
    size_t j = hash(word, len) & (t->cap - 1);
    for (;;) {
        struct count_entry *e = &t->slots[j];
        if (!e->word) {
            e->word = xstrndup(word, len);
            e->len = len;
            e->count = 1;
            t->used++;
            break;
        }
        if (e->len == len && memcmp(e->word, word, len) == 0) {
            e->count++;
            break;
        }
        j = (j + 1) & (t->cap - 1);
    }
    t->total++;
}

uint64_t
count_total(const struct count_table *t) {
    return t->total;
}

size_t
count_unique(const struct count_table *t) {
    return t->used;
}

static int
by_word(const struct count_entry *a, const struct count_entry *b) {
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->word, b->word, n);
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

static int
by_count_then_word(const void *pa, const void *pb) {
    const struct count_entry *a = pa, *b = pb;
    if (a->count != b->count) return a->count > b->count ? -1 : 1;
    return by_word(a, b);
}

static int
by_word_only(const void *pa, const void *pb) {
    return by_word(pa, pb);
}

/* entries copies the used slots into a new array (caller frees). */
static struct count_entry *
entries(const struct count_table *t) {
    struct count_entry *all = xcalloc(t->used ? t->used : 1, sizeof *all);
    size_t k = 0;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i].word) all[k++] = t->slots[i];
    return all;
}

int
count_top(const struct count_table *t, size_t n, struct count_entry *out) {
    struct count_entry *all = entries(t);
    qsort(all, t->used, sizeof *all, by_count_then_word);
    size_t k = n < t->used ? n : t->used;
    memcpy(out, all, k * sizeof *out);
    free(all);
    return (int)k;
}

int
count_to_json(const struct count_table *t, struct buf *out) {
    struct count_entry *all = entries(t);
    qsort(all, t->used, sizeof *all, by_word_only);
    buf_append_char(out, '{');
    for (size_t i = 0; i < t->used; i++) {
        if (i) buf_append_char(out, ',');
        json_t *s = json_stringn(all[i].word, all[i].len);
        if (!s) s = json_string("\xEF\xBF\xBD"); /* not UTF-8: cannot happen after ICU */
        json_dump_append(s, out);
        json_decref(s);
        buf_printf(out, ":%llu", (unsigned long long)all[i].count);
    }
    buf_append_char(out, '}');
    free(all);
    return 0;
}
