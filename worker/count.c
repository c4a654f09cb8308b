#include "worker/count.h"

#include <stdlib.h>
#include <string.h>

#include "common/json_out.h"
#include "common/xalloc.h"

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

/* worse says whether a ranks after b in count_top's order. */
static bool
worse(const struct count_entry *a, const struct count_entry *b) {
    return by_count_then_word(a, b) > 0;
}

/* sift_down restores the heap below i: heap[0] is the worst of the kept
 * words, so a better word replaces it. */
static void
sift_down(struct count_entry *heap, size_t n, size_t i) {
    for (;;) {
        size_t w = i, l = 2 * i + 1, r = l + 1;
        if (l < n && worse(&heap[l], &heap[w])) w = l;
        if (r < n && worse(&heap[r], &heap[w])) w = r;
        if (w == i) return;
        struct count_entry tmp = heap[i];
        heap[i] = heap[w];
        heap[w] = tmp;
        i = w;
    }
}

/* count_top keeps the n best words seen so far in a heap whose root is
 * the worst of them (one pass over the table, no copy or sort of every
 * word), then sorts those n. */
int
count_top(const struct count_table *t, size_t n, struct count_entry *out) {
    size_t k = 0;
    if (n == 0) return 0;
    for (size_t i = 0; i < t->cap; i++) {
        const struct count_slot *e = &t->slots[i];
        if (!e->word) continue;
        struct count_entry c = {e->word, e->len, e->count};
        if (k < n) {
            out[k++] = c;
            if (k == n)
                for (size_t j = n / 2; j-- > 0;) sift_down(out, n, j);
        } else if (worse(&out[0], &c)) {
            out[0] = c;
            sift_down(out, n, 0);
        }
    }
    qsort(out, k, sizeof *out, by_count_then_word);
    return (int)k;
}

size_t
count_slots_bytes(size_t words) {
    size_t cap = 256;
    while ((words + 1) * 10 > cap * 7) cap *= 2;
    return cap * sizeof(struct count_slot);
}

/* count_to_json writes the members in the table's order: a JSON object's
 * members have none, and the API promises none (Postgres keeps the text
 * as sent, json; rows from before migration 0005 are jsonb, in its order). */
int
count_to_json(const struct count_table *t, struct buf *out) {
    /* About a word's length plus the count and punctuation per member. */
    buf_reserve(out, t->used * 16 + 2);
    buf_append_char(out, '{');
    bool first = true;
    for (size_t i = 0; i < t->cap; i++) {
        const struct count_slot *e = &t->slots[i];
        if (!e->word) continue;
        if (!first) buf_append_char(out, ',');
        first = false;
        json_out_string(out, e->word, e->len);
        buf_append_char(out, ':');
        json_out_u64(out, e->count);
    }
    buf_append_char(out, '}');
    return 0;
}
