/* xalloc — allocation that aborts on out-of-memory.
 *
 * Every size in wordcount is bounded by a configured limit, so running out
 * of memory means a bug or a machine in trouble; aborting with a message is
 * better than a half-handled NULL (the h2o choice). Memory from these is
 * freed with free(). */
#ifndef WC_XALLOC_H
#define WC_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* xasprintf returns a newly allocated formatted string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
