/* buf — a growable byte buffer.
 *
 * An explicit struct (no hidden header). The owner embeds a struct buf,
 * calls buf_init, appends, and calls buf_free. The data is always
 * NUL-terminated after len bytes so it can be used as a C string when it
 * holds text. Growth aborts on OOM (xalloc); callers bound sizes. */
#ifndef WC_BUF_H
#define WC_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data;
    size_t len;
    size_t cap;
};

void buf_init(struct buf *b);
void buf_free(struct buf *b);
/* buf_reset empties the buffer and keeps its memory. */
void buf_reset(struct buf *b);
void buf_reserve(struct buf *b, size_t extra);
/* buf_shrink gives back the capacity beyond len (and its NUL). */
void buf_shrink(struct buf *b);
void buf_append(struct buf *b, const void *data, size_t len);
void buf_append_str(struct buf *b, const char *s);
void buf_append_char(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* buf_consume drops the first n bytes (n <= len), keeping the rest and
 * the memory. */
void buf_consume(struct buf *b, size_t n);
/* buf_steal returns the data (caller frees) and leaves the buffer empty. */
char *buf_steal(struct buf *b);

#endif
