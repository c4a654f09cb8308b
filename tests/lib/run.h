/* run — run a command to completion from a test and capture what it says.
 *
 * Owns nothing after the call: output goes through temporary files that
 * are removed, into caller-owned bufs. */
#ifndef WC_TEST_RUN_H
#define WC_TEST_RUN_H

#include <stdarg.h>

#include "common/buf.h"

/* run_cmd runs argv (argv[0] found on PATH when it has no slash) with env
 * ("K=V" entries added to the current environment; "K=" empties one;
 * NULL-terminated, may be NULL) and standard input from stdin_path (NULL:
 * /dev/null). Waits up to timeout_ms. Fills out and err when not NULL
 * (always NUL-terminated). Returns the exit code, 128 + signal when
 * killed, or -1 when it could not start or timed out (then killed). */
int run_cmd(const char *const *argv, const char *const *env, const char *stdin_path, int timeout_ms,
            struct buf *out, struct buf *err);

/* run_program is run_cmd of the program BIN_DIR/name (tests/lib/testenv)
 * with the arguments in ap (const char *, up to a NULL; at most 30). */
int run_program(const char *name, va_list ap, const char *const *env, const char *stdin_path,
                int timeout_ms, struct buf *out, struct buf *err);

#endif
