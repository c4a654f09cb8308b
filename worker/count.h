/* count — a table from word (UTF-8 bytes) to count.
 *
 * Owns: an open-addressing hash table (linear probing, grown at 70 %
 * load; each slot keeps 32 bits of its word's hash, so a probe seldom
 * compares words) and the words' bytes, copied into large arena blocks (one
 * allocation per COUNT_ARENA_BLOCK bytes of distinct words, not one per
 * word). count_free releases everything. Words are NUL-terminated.
 * Results are deterministic: count_top orders by count descending, then
 * by word (byte order). */
#ifndef WC_COUNT_H
#define WC_COUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define COUNT_ARENA_BLOCK 65536

struct count_entry {
    const char *word; /* owned by the table */
    size_t len;
    uint64_t count;
};

struct count_block;
struct count_slot;

struct count_table {
    struct count_slot *slots;
    size_t cap;
    size_t used;
    uint64_t total;
    struct count_block *blocks; /* arena holding the words, newest first */
    size_t block_left;
};

void count_init(struct count_table *t);
void count_free(struct count_table *t);
void count_add(struct count_table *t, const char *word, size_t len);
/* count_add_n adds n occurrences of word at once. */
void count_add_n(struct count_table *t, const char *word, size_t len, uint64_t n);
uint64_t count_total(const struct count_table *t);
size_t count_unique(const struct count_table *t);
/* count_filter adds to dst every word of src for which keep() is true,
 * with its count (the words without stop words come from all words this
 * way: one stop list lookup per distinct word, not per occurrence). */
void count_filter(struct count_table *dst, const struct count_table *src,
                  bool (*keep)(const char *word, size_t len, void *arg), void *arg);
/* count_top writes the n most frequent words into out; returns how many. */
int count_top(const struct count_table *t, size_t n, struct count_entry *out);
/* count_slots_bytes: what the slots of a table of `words` distinct words
 * take at most (the table doubles at 70 % load), for memory estimates. */
size_t count_slots_bytes(size_t words);
/* count_to_json appends a JSON object word -> count, members in no
 * particular order (see json_out.h for the escaping). */
int count_to_json(const struct count_table *t, struct buf *out);

#endif
