/* proc — start and stop the real programs from tests.
 *
 * Owns nothing beyond the call: proc_start forks and execs a program with
 * extra environment variables and its stderr/stdout sent to a log file;
 * proc_stop signals it and waits (bounded), returning how it ended.
 * proc_spawn does the same inside a network namespace or as another user
 * (a private Postgres as user postgres, a worker on a simulated host). */
#ifndef WC_TEST_PROC_H
#define WC_TEST_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* proc_start runs argv[0] with env (NULL-terminated "K=V" list added to the
 * current environment) and output appended to log_path. Returns the pid or -1. */
pid_t proc_start(const char *const *argv, const char *const *env, const char *log_path);
/* Where and as whom proc_spawn runs a program. */
struct proc_opts {
    const char *netns; /* a named network namespace (/run/netns/NAME), or NULL */
    const char *user;  /* a user to run as (we must be root), or NULL */
};

/* proc_spawn is proc_start in the namespace and as the user opts names
 * (opts may be NULL). The child enters them before exec; when it cannot,
 * it exits with 126 and says why in the log. */
pid_t proc_spawn(const char *const *argv, const char *const *env, const char *log_path,
                 const struct proc_opts *opts);
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
