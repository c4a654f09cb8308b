/* static — the files under STATIC_DIR (the pages, their CSS and JS),
 * found safely and described for HTTP caching.
 *
 * Owns: the path rules, the content types, and the validators. A
 * relative path is served only when it is plain: 1..255 bytes of
 * [A-Za-z0-9._-] and '/', no empty, "." or ".." segment, no segment that
 * starts with '.', nothing percent-encoded (the router hands paths over
 * undecoded, so "%2e%2e" is refused rather than decoded), and its real
 * path (symlinks resolved) lies inside the real STATIC_DIR. The file is
 * opened with O_NOFOLLOW and must be a regular file of at most
 * STATIC_MAX_BYTES.
 *
 * Files are small and read whole, synchronously: from the page cache that
 * costs microseconds, less than a round trip through the thread pool.
 * struct static_file owns its descriptor (static_file_close). */
#ifndef WC_STATIC_H
#define WC_STATIC_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <time.h>

#include "common/buf.h"

#define STATIC_MAX_BYTES (1024 * 1024)
#define STATIC_NAME_MAX 255

struct static_file {
    int fd;
    struct stat st;
    const char *content_type;
    char etag[64];          /* "\"<inode>-<size>-<mtime ns>\"" in hex */
    char last_modified[40]; /* IMF-fixdate of the mtime */
};

/* static_path_ok tells whether rel follows the path rules above (syntax only). */
bool static_path_ok(const char *rel);
/* static_open finds rel under root and opens it. Returns 0, or UV_ENOENT
 * (no such file, or a path the rules refuse: the answer is 404 either
 * way), UV_EFBIG (over STATIC_MAX_BYTES) or another negative UV_* error. */
int static_open(const char *root, const char *rel, struct static_file *f);
/* static_read reads the whole file into out. Returns 0 or a negative UV_* error. */
int static_read(struct static_file *f, struct buf *out);
void static_file_close(struct static_file *f);
/* static_content_type maps a file name's extension to a media type. */
const char *static_content_type(const char *name);
/* static_not_modified applies RFC 9110 conditionals: If-None-Match (a
 * list of tags, or "*"; weak comparison) wins over If-Modified-Since.
 * Either header may be NULL. */
bool static_not_modified(const char *if_none_match, const char *if_modified_since, const char *etag,
                         time_t mtime);

#endif
