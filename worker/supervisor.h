/* supervisor — keeps WORKER_PROCESSES worker children running.
 *
 * Owns: one uv_process_t per child slot (each child is this same program
 * started with `--child N`, so it builds its own loop and connections from
 * scratch, as STYLE.md rule 7 asks), the restart backoff timers, the
 * signal watchers and the kill timer used at shutdown.
 *
 * A child that exits unexpectedly is restarted. One that crashed (a
 * non-zero exit, or a signal such as SIGSEGV or SIGABRT) is restarted
 * after a backoff (steps of 1 s doubling to 30 s, each wait a random
 * point in the upper half of its step: common/backoff.h; reset once a
 * child has lived 10 s), so a crash loop costs little. One killed from
 * outside (SIGKILL, SIGTERM, SIGINT, SIGHUP, or exit 0) is restarted
 * after the first step only (0.5-1 s), however many kills came before: a
 * kill storm must not leave the fleet without workers for long (the
 * supervisor cannot tell an operator's kill from the OOM killer's, and a
 * start costs milliseconds). SIGTERM or
 * SIGINT is forwarded to every child as SIGTERM; children that are still
 * alive WORKER_GRACE + 5 s later get SIGKILL (a child stops on its own
 * within WORKER_GRACE + RUNNER_HANDBACK_MS, which is what bounds it when
 * this supervisor is gone: worker/child.h). supervisor_run returns when
 * every child has exited after a stop, with 0, or a negative UV_* error
 * when it could not start. */
#ifndef WC_SUPERVISOR_H
#define WC_SUPERVISOR_H

#include <stdbool.h>
#include <stdint.h>

#include "common/config.h"

/* supervisor_run runs the supervisor loop until stopped; exe is the path of
 * the worker program. */
int supervisor_run(const struct config *cfg, const char *exe);

/* supervisor_death_is_crash tells whether a child's end counts towards
 * the restart backoff (see above); exposed for tests. */
bool supervisor_death_is_crash(int64_t exit_status, int term_signal);

#endif
