#include "cli/urlfile.h"

#include <errno.h>
#include <string.h>

int
urlfile_open(struct urlfile *u, const char *path, char *err, size_t errlen) {
    memset(u, 0, sizeof *u);
    if (strcmp(path, "-") == 0) {
        u->f = stdin;
        return 0;
    }
    u->f = fopen(path, "r");
    if (!u->f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    u->owned = true;
    return 0;
}

/* read_line reads one line into u->buf; returns 1, 0 at the end, -1 on an
 * error. *too_long and *has_nul say what was wrong with it. */
static int
read_line(struct urlfile *u, bool *too_long, bool *has_nul) {
    size_t n = 0;
    int ch;
    bool any = false;
    *too_long = *has_nul = false;
    while ((ch = getc(u->f)) != EOF) {
        any = true;
        if (ch == '\n') break;
        if (ch == '\0') *has_nul = true;
        if (n < sizeof u->buf - 1) u->buf[n++] = (char)ch;
        else *too_long = true;
    }
    u->buf[n] = '\0';
    if (ch == EOF && ferror(u->f)) return -1;
    return any ? 1 : 0;
}

int
urlfile_next(struct urlfile *u, const char **url, const char **reject, char *err, size_t errlen) {
    for (;;) {
        bool too_long, has_nul;
        int rc = read_line(u, &too_long, &has_nul);
        if (rc < 0) {
            snprintf(err, errlen, "read error after line %ld: %s", u->line, strerror(errno));
            return -1;
        }
        if (rc == 0) return 0;
        u->line++;
        char *s = u->buf;
        while (*s == ' ' || *s == '\t') s++;
        size_t len = strlen(s);
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
            s[--len] = '\0';
        if (!too_long && !has_nul && (len == 0 || s[0] == '#')) continue;
        *url = s;
        *reject = NULL;
        if (too_long) {
            snprintf(u->why, sizeof u->why, "longer than %d bytes", URL_CHECK_MAX);
            *reject = u->why;
        } else if (has_nul) {
            snprintf(u->why, sizeof u->why, "contains a NUL byte");
            *reject = u->why;
        } else if (url_check(s, u->why, sizeof u->why) < 0) {
            *reject = u->why;
        }
        return 1;
    }
}

void
urlfile_close(struct urlfile *u) {
    if (u->owned && u->f) fclose(u->f);
    u->f = NULL;
}
