/* supervisor — keeps WORKER_PROCESSES worker children running.
 *
 * Owns: one uv_process_t per child slot (each child is this same program
 * started with `--child N`, so it builds its own loop and connections from
 * scratch, as STYLE.md rule 7 asks), the restart backoff timers, the
 * signal watchers and the kill timer used at shutdown.
 *
 * A child that exits unexpectedly is restarted after a backoff (1 s,
 * doubling to 30 s; reset once a child has lived a minute). SIGTERM or
 * SIGINT is forwarded to every child as SIGTERM; children that are still
 * alive WORKER_GRACE + 5 s later get SIGKILL (a child stops on its own
 * within WORKER_GRACE + RUNNER_HANDBACK_MS, which is what bounds it when
 * this supervisor is gone: worker/child.h). supervisor_run returns when
 * every child has exited after a stop, with 0, or a negative UV_* error
 * when it could not start. */
#ifndef WC_SUPERVISOR_H
#define WC_SUPERVISOR_H

#include "common/config.h"

/* supervisor_run runs the supervisor loop until stopped; exe is the path of
 * the worker program. */
int supervisor_run(const struct config *cfg, const char *exe);

#endif
