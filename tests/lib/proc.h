/* proc — start and stop the real programs from tests.
 *
 * Owns nothing beyond the call: proc_start forks and execs a program with
 * extra environment variables and its stderr/stdout sent to a log file;
 * proc_stop signals it and waits (bounded), returning how it ended. */
#ifndef WC_TEST_PROC_H
#define WC_TEST_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* proc_start runs argv[0] with env (NULL-terminated "K=V" list added to the
 * current environment) and output appended to log_path. Returns the pid or -1. */
pid_t proc_start(const char *const *argv, const char *const *env, const char *log_path);
/* proc_stop sends sig and waits up to timeout_ms; then SIGKILL. Returns the
 * wait status, or -1 when the process had to be killed. */
int proc_stop(pid_t pid, int sig, int timeout_ms);
/* proc_wait_exit waits up to timeout_ms for pid; returns the wait status or -1. */
int proc_wait_exit(pid_t pid, int timeout_ms);
/* proc_wait_log waits up to timeout_ms for a line of log_path containing
 * needle and copies that line into out. Returns true when found. */
bool proc_wait_log(const char *log_path, const char *needle, int timeout_ms, char *out, size_t n);
/* proc_alive tells whether pid still runs (a zombie does not). */
bool proc_alive(pid_t pid);

#endif
