/* count — a table from word (UTF-8 bytes) to count.
 *
 * Owns: an open-addressing hash table (FNV-1a, linear probing, grown at
 * 70 % load) and copies of the words. count_free releases everything.
 * Results are deterministic: count_top orders by count descending, then
 * by word (byte order). */
#ifndef WC_COUNT_H
#define WC_COUNT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

struct count_entry {
    const char *word; /* owned by the table */
    size_t len;
    uint64_t count;
};

struct count_table {
    struct count_entry *slots;
    size_t cap;
    size_t used;
    uint64_t total;
};

void count_init(struct count_table *t);
void count_free(struct count_table *t);
void count_add(struct count_table *t, const char *word, size_t len);
uint64_t count_total(const struct count_table *t);
size_t count_unique(const struct count_table *t);
/* count_top writes the n most frequent words into out; returns how many. */
int count_top(const struct count_table *t, size_t n, struct count_entry *out);
/* count_to_json appends a JSON object word -> count (keys sorted). */
int count_to_json(const struct count_table *t, struct buf *out);

#endif
