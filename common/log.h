/* log — levelled logfmt lines on stderr.
 *
 * Owns: the process-wide log level and role name (set once at start by
 * log_init), and the line format:
 *   ts=2026-11-24T19:57:40.123Z level=info role=web pid=123 <fields>
 * Callers pass the rest of the line as printf-style key=value fields, e.g.
 *   log_info("msg=\"job created\" job=%s url=%s", id, log_q(url));
 * Values that may hold spaces or quotes go through log_q(), which returns a
 * quoted, escaped copy in one of a few rotating static buffers (valid until
 * a few more log_q calls; the programs are single-threaded).
 * The macros test the level before evaluating their arguments. */
#ifndef WC_LOG_H
#define WC_LOG_H

#include <stdarg.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

extern enum log_level log_threshold;

/* log_init sets the role ("web", "worker", "supervisor", "migrate") and level. */
void log_init(const char *role, enum log_level level);
/* log_set_role changes the role, e.g. in a forked child. */
void log_set_role(const char *role);
/* log_level_parse maps "debug|info|warn|error" to a level; -1 when unknown. */
int log_level_parse(const char *s);
/* log_write formats one line; use the macros instead. */
void log_write(enum log_level level, const char *file, int line, int err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* log_q quotes a value for logfmt ("a b" -> "\"a b\""), truncated to 512 bytes. */
const char *log_q(const char *value);

#define log_at(lvl, err, ...)                                                                      \
    do {                                                                                           \
        if ((lvl) >= log_threshold) log_write((lvl), __FILE__, __LINE__, (err), __VA_ARGS__);      \
    } while (0)
#define log_debug(...) log_at(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_at(LOG_INFO, 0, __VA_ARGS__)
#define log_warn(...) log_at(LOG_WARN, 0, __VA_ARGS__)
#define log_error(...) log_at(LOG_ERROR, 0, __VA_ARGS__)
/* log_errno appends err="strerror(errno)" (errno is read before formatting). */
#define log_errno(...) log_at(LOG_ERROR, errno ? errno : -1, __VA_ARGS__)

#endif
