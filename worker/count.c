#include "worker/count.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/json.h"
#include "common/xalloc.h"
#include "worker/charset.h"

struct count_block {
    struct count_block *next;
    size_t size;
    char data[];
};

struct count_slot {
    const char *word; /* NULL: free */
    uint32_t len;
    uint32_t hash; /* the low half of the word's hash: picks the slot, and
                      growing or filtering the table need not hash again */
    uint64_t count;
};

void
count_init(struct count_table *t) {
    memset(t, 0, sizeof *t);
}

void
count_free(struct count_table *t) {
    for (struct count_block *b = t->blocks, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(t->slots);
    memset(t, 0, sizeof *t);
}

/* hash reads the word eight bytes at a time (the last piece gathered by
 * shifts, no call to memcpy) and mixes each with a multiply: words are
 * short, and this runs once per word of the page. */
static uint64_t
hash(const char *s, size_t len) {
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 31;
    }
    if (i < len) {
        uint64_t w = 0;
        for (size_t k = 0; i + k < len; k++) w |= (uint64_t)(unsigned char)s[i + k] << (8 * k);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
    }
    h ^= h >> 32;
    h *= 0x94d049bb133111ebULL;
    return h ^ (h >> 29);
}

/* store copies a word into the arena: the free space is at the end of
 * the newest block (a word longer than a block gets a block of its own). */
static const char *
store(struct count_table *t, const char *word, size_t len) {
    if (len + 1 > t->block_left) {
        size_t size = len + 1 > COUNT_ARENA_BLOCK ? len + 1 : COUNT_ARENA_BLOCK;
        struct count_block *b = xmalloc(sizeof *b + size);
        b->size = size;
        b->next = t->blocks;
        t->blocks = b;
        t->block_left = size;
    }
    char *p = t->blocks->data + (t->blocks->size - t->block_left);
    memcpy(p, word, len);
    p[len] = '\0';
    t->block_left -= len + 1;
    return p;
}

/* resize moves every word to a table of cap slots (a power of two). */
static void
resize(struct count_table *t, size_t cap) {
    struct count_slot *slots = xcalloc(cap, sizeof *slots);
    for (size_t i = 0; i < t->cap; i++) {
        struct count_slot *e = &t->slots[i];
        if (!e->word) continue;
        size_t j = e->hash & (cap - 1);
        while (slots[j].word) j = (j + 1) & (cap - 1);
        slots[j] = *e;
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
}

/* add counts a word whose hash is known. */
static void
add(struct count_table *t, const char *word, size_t len, uint32_t h, uint64_t n) {
    if ((t->used + 1) * 10 > t->cap * 7) resize(t, t->cap ? t->cap * 2 : 256);
    size_t j = h & (t->cap - 1);
    for (;;) {
        struct count_slot *e = &t->slots[j];
        if (!e->word) {
            e->word = store(t, word, len);
            e->len = (uint32_t)len;
            e->hash = h;
            e->count = n;
            t->used++;
            break;
        }
        if (e->hash == h && e->len == len && memcmp(e->word, word, len) == 0) {
            e->count += n;
            break;
        }
        j = (j + 1) & (t->cap - 1);
    }
    t->total += n;
}

void
count_add_n(struct count_table *t, const char *word, size_t len, uint64_t n) {
    if (len > UINT32_MAX) return; /* the tokenizer cuts words long before */
    add(t, word, len, (uint32_t)hash(word, len), n);
}

void
count_add(struct count_table *t, const char *word, size_t len) {
    count_add_n(t, word, len, 1);
}

void
count_filter(struct count_table *dst, const struct count_table *src,
             bool (*keep)(const char *word, size_t len, void *arg), void *arg) {
    if (dst->cap < src->cap) resize(dst, src->cap); /* no growing on the way */
    for (size_t i = 0; i < src->cap; i++) {
        const struct count_slot *e = &src->slots[i];
        if (e->word && keep(e->word, e->len, arg)) add(dst, e->word, e->len, e->hash, e->count);
    }
}

uint64_t
count_total(const struct count_table *t) {
    return t->total;
}

size_t
count_unique(const struct count_table *t) {
    return t->used;
}

/* better: a goes before b in count_top's order (count descending, then
 * word). */
static bool
better(const struct count_entry *a, const struct count_entry *b) {
    if (a->count != b->count) return a->count > b->count;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->word, b->word, n);
    return c ? c < 0 : a->len < b->len;
}

int
count_top(const struct count_table *t, size_t n, struct count_entry *out) {
    /* A selection, not a sort of every word: out holds the best k so far,
     * in order; a word goes in only when it beats the last. */
    size_t k = 0;
    for (size_t i = 0; i < t->cap && n > 0; i++) {
        const struct count_slot *e = &t->slots[i];
        if (!e->word) continue;
        struct count_entry c = {e->word, e->len, e->count};
        if (k == n && !better(&c, &out[k - 1])) continue;
        size_t j = k < n ? k++ : n - 1;
        while (j > 0 && better(&c, &out[j - 1])) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = c;
    }
    return (int)k;
}

size_t
count_slots_bytes(size_t words) {
    size_t cap = 256;
    while ((words + 1) * 10 > cap * 7) cap *= 2;
    return cap * sizeof(struct count_slot);
}

/* json_key appends a word as a JSON string, as jansson writes it
 * (JSON_COMPACT: UTF-8 as it is, '"', '\\' and control characters
 * escaped), without making a json_t per word: a million-word page spent
 * most of its row's time there. Words are valid UTF-8 (the tokenizer's
 * output); one that is not becomes U+FFFD, as before. */
static void
json_key(const char *w, size_t len, struct buf *out) {
    if (charset_utf8_valid_prefix((const unsigned char *)w, len) != len) {
        buf_append_str(out, "\"\xEF\xBF\xBD\"");
        return;
    }
    buf_reserve(out, len + 2);
    buf_append_char(out, '"');
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)w[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        buf_append(out, w + run, i - run);
        run = i + 1;
        switch (c) {
        case '"':
            buf_append_str(out, "\\\"");
            break;
        case '\\':
            buf_append_str(out, "\\\\");
            break;
        case '\b':
            buf_append_str(out, "\\b");
            break;
        case '\f':
            buf_append_str(out, "\\f");
            break;
        case '\n':
            buf_append_str(out, "\\n");
            break;
        case '\r':
            buf_append_str(out, "\\r");
            break;
        case '\t':
            buf_append_str(out, "\\t");
            break;
        default:
            buf_printf(out, "\\u%04X", c);
            break;
        }
    }
    buf_append(out, w + run, len - run);
    buf_append_char(out, '"');
}

int
count_to_json(const struct count_table *t, struct buf *out) {
    /* In the table's order: the row's columns are jsonb, which keeps its
     * own order, and sorting a million keys took most of a big page's
     * row. */
    buf_append_char(out, '{');
    bool first = true;
    for (size_t i = 0; i < t->cap; i++) {
        const struct count_slot *e = &t->slots[i];
        if (!e->word) continue;
        if (!first) buf_append_char(out, ',');
        first = false;
        json_key(e->word, e->len, out);
        /* ":count" by hand: printf's machinery per word cost more than
         * the word itself. */
        char num[24];
        size_t k = sizeof num;
        uint64_t v = e->count;
        do num[--k] = (char)('0' + v % 10);
        while ((v /= 10) > 0);
        num[--k] = ':';
        buf_append(out, num + k, sizeof num - k);
    }
    buf_append_char(out, '}');
    return 0;
}
