/* static.c — safe lookup of files under STATIC_DIR and HTTP validators. */
#include "web/static.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <uv.h>

bool
static_path_ok(const char *rel) {
    size_t len = rel ? strlen(rel) : 0;
    if (len == 0 || len > STATIC_NAME_MAX) return false;
    const char *seg = rel;
    for (const char *p = rel;; p++) {
        char c = *p;
        if (c == '/' || c == '\0') {
            /* Empty segments ("//", a leading or trailing '/'), "." and
             * "..", and hidden files all start or consist of nothing or '.'. */
            if (p == seg || seg[0] == '.') return false;
            if (c == '\0') return true;
            seg = p + 1;
            continue;
        }
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '.' || c == '_' || c == '-';
        if (!plain) return false; /* '%', '\\', controls, anything else */
    }
}

static void
http_date(time_t t, char out[40]) {
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 40, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

int
static_open(const char *root, const char *rel, struct static_file *f) {
    memset(f, 0, sizeof *f);
    f->fd = -1;
    if (!static_path_ok(rel)) return UV_ENOENT;
    char root_real[PATH_MAX], joined[PATH_MAX], real[PATH_MAX];
    if (!realpath(root, root_real)) return UV_ENOENT;
    int n = snprintf(joined, sizeof joined, "%s/%s", root_real, rel);
    if (n < 0 || (size_t)n >= sizeof joined) return UV_ENOENT;
    if (!realpath(joined, real)) return UV_ENOENT;
    size_t rl = strlen(root_real);
    /* Symlinks may point anywhere; only what resolves inside root counts. */
    if (strncmp(real, root_real, rl) != 0 || real[rl] != '/') return UV_ENOENT;
    int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return errno == ENOENT || errno == ELOOP ? UV_ENOENT : -errno;
    if (fstat(fd, &f->st) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    if (!S_ISREG(f->st.st_mode)) {
        close(fd);
        return UV_ENOENT;
    }
    if (f->st.st_size > STATIC_MAX_BYTES) {
        close(fd);
        return UV_EFBIG;
    }
    f->fd = fd;
    f->content_type = static_content_type(rel);
    long long mtime_ns = (long long)f->st.st_mtim.tv_sec * 1000000000LL + f->st.st_mtim.tv_nsec;
    snprintf(f->etag, sizeof f->etag, "\"%llx-%llx-%llx\"", (unsigned long long)f->st.st_ino,
             (unsigned long long)f->st.st_size, (unsigned long long)mtime_ns);
    http_date(f->st.st_mtim.tv_sec, f->last_modified);
    return 0;
}

int
static_read(struct static_file *f, struct buf *out) {
    size_t size = (size_t)f->st.st_size, got = 0;
    buf_reserve(out, size + 1);
    while (got < size) {
        ssize_t r = pread(f->fd, out->data + out->len, size - got, (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -errno;
        if (r == 0) break; /* truncated meanwhile: serve what is there */
        got += (size_t)r;
        out->len += (size_t)r;
    }
    out->data[out->len] = '\0';
    return 0;
}

void
static_file_close(struct static_file *f) {
    if (f->fd >= 0) close(f->fd);
    f->fd = -1;
}

const char *
static_content_type(const char *name) {
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
        {".woff2", "font/woff2"},
        {".webmanifest", "application/manifest+json"},
    };
    const char *dot = strrchr(name, '.');
    if (dot && !strchr(dot, '/'))
        for (size_t i = 0; i < sizeof types / sizeof *types; i++)
            if (!strcasecmp(dot, types[i].ext)) return types[i].type;
    return "application/octet-stream";
}

/* tag_core strips a weak prefix: W/"x" and "x" compare equal (weak comparison). */
static const char *
tag_core(const char *t, size_t *len) {
    if (*len >= 2 && t[0] == 'W' && t[1] == '/') t += 2, *len -= 2;
    return t;
}

bool
static_not_modified(const char *inm, const char *ims, const char *etag, time_t mtime) {
    if (inm) {
        size_t elen = strlen(etag);
        const char *e = tag_core(etag, &elen);
        for (const char *p = inm; *p;) {
            p += strspn(p, " \t,");
            size_t n = strcspn(p, ",");
            size_t m = n;
            while (m && (p[m - 1] == ' ' || p[m - 1] == '\t')) m--;
            if (m == 1 && p[0] == '*') return true;
            const char *t = tag_core(p, &m);
            if (m == elen && !memcmp(t, e, m)) return true;
            p += n;
        }
        return false; /* If-None-Match present: If-Modified-Since is ignored */
    }
    if (ims) {
        time_t since = curl_getdate(ims, NULL);
        return since != -1 && mtime <= since;
    }
    return false;
}
