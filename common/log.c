#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum log_level log_threshold = LOG_INFO;
static char role_name[32] = "wordcount";

void
log_init(const char *role, enum log_level level) {
    log_set_role(role);
    log_threshold = level;
}

void
log_set_role(const char *role) {
    snprintf(role_name, sizeof role_name, "%s", role ? role : "wordcount");
}

int
log_level_parse(const char *s) {
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        if (strcasecmp(s, names[i]) == 0) return i;
    if (strcasecmp(s, "warning") == 0) return LOG_WARN;
    return -1;
}

const char *
log_q(const char *value) {
    /* Rotating buffers let one log line quote several values. */
    static char bufs[4][520];
    static unsigned next;
    char *out = bufs[next++ % 4];
    size_t o = 0;
    if (!value) value = "";
    out[o++] = '"';
    for (const char *p = value; *p && o < 512; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else if (c < 0x20 || c == 0x7f) {
            out[o++] = '?';
        } else {
            out[o++] = (char)c;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

void
log_write(enum log_level level, const char *file, int line, int err, const char *fmt, ...) {
    static const char *names[] = {"debug", "info", "warn", "error"};
    char line_buf[4096];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line_buf, sizeof line_buf,
                     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s role=%s pid=%ld ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (long)(tv.tv_usec / 1000), names[level], role_name, (long)getpid());
    if (n < 0) return;
    size_t used = (size_t)n;
    va_list ap;
    va_start(ap, fmt);
    n = vsnprintf(line_buf + used, sizeof line_buf - used, fmt, ap);
    va_end(ap);
    if (n > 0) used += (size_t)n;
    if (used >= sizeof line_buf) used = sizeof line_buf - 1;
    if (err && used < sizeof line_buf - 1) {
        n = snprintf(line_buf + used, sizeof line_buf - used, " err=%s",
                     log_q(err > 0 ? strerror(err) : "unknown"));
        if (n > 0) used += (size_t)n;
        if (used >= sizeof line_buf) used = sizeof line_buf - 1;
    }
#ifndef NDEBUG
    if (level >= LOG_WARN && used < sizeof line_buf - 1) {
        n = snprintf(line_buf + used, sizeof line_buf - used, " src=%s:%d", file, line);
        if (n > 0) used += (size_t)n;
        if (used >= sizeof line_buf) used = sizeof line_buf - 1;
    }
#else
    (void)file;
    (void)line;
#endif
    line_buf[used++] = '\n';
    /* One write per line keeps lines whole when several processes share stderr. */
    ssize_t w = write(STDERR_FILENO, line_buf, used);
    (void)w;
}
