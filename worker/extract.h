/* extract — the extract stage: the text a reader sees, from a document
 * of one of the content types we count, as its bytes arrive.
 *
 * One table (extract.c) maps each media type to its decode rule
 * (decode.h) and its implementation of the small interface below; HTML
 * (extract_html.c) and plain text (extract_plain.c) are the two today. A
 * new content type is a new file with a struct extract_impl and one row
 * in the table.
 *
 * An implementation gets UTF-8 (or bytes, for DECODE_BYTES) and hands
 * text on to cb in pieces that end at a word boundary:
 *   open    makes its state (NULL when it cannot start);
 *   feed    takes data[0..len) and returns how many bytes it used: what
 *           it leaves (a tag or a word cut by the network) comes again,
 *           followed by more, on the next call;
 *   finish  takes the rest, all of it, and flushes its text; 0 or -1;
 *   free    releases the state (after finish, or instead of it).
 *
 * Owns (extract_t): the decode stage and the implementation's state.
 * extract_free releases both; the text callback's arg is borrowed. */
#ifndef WC_EXTRACT_H
#define WC_EXTRACT_H

#include <stddef.h>

#include "worker/decode.h"

typedef void (*extract_text_cb)(const char *text, size_t len, void *arg);

struct extract_impl {
    void *(*open)(extract_text_cb cb, void *arg);
    size_t (*feed)(void *state, const char *data, size_t len);
    int (*finish)(void *state, const char *data, size_t len);
    void (*free)(void *state);
};

struct extract_type {
    const char *media_type; /* lower case, no parameters */
    enum decode_rule decode;
    const struct extract_impl *impl;
};

typedef struct extract extract_t;

/* extract_find returns the table row of a media type (lower case, no
 * parameters), or NULL when it is not one we count. */
const struct extract_type *extract_find(const char *media_type);
/* extract_open starts extracting a document of type t; header_charset
 * is the HTTP header's (or NULL). NULL when the implementation cannot
 * start. */
extract_t *extract_open(const struct extract_type *t, const char *header_charset,
                        extract_text_cb cb, void *arg);
/* extract_feed and extract_finish return 0, or -1 when the document
 * cannot be decoded in its charset. Call extract_finish once, at the end. */
int extract_feed(extract_t *x, const char *data, size_t len);
int extract_finish(extract_t *x);
/* extract_charset: the charset the document is read in, once decided
 * (after enough bytes, or finish), else NULL. */
const char *extract_charset(const extract_t *x);
void extract_free(extract_t *x);

#endif
