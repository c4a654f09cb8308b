/* child — one worker process: its loop, its runner and its stop signals.
 *
 * Owns: the process's uv loop, the runner, the SIGTERM/SIGINT watchers,
 * and the process-wide libraries it initialises for its own use (curl,
 * ICU's word break prototype) and the stop words. Everything is made
 * after the process starts (STYLE.md rule 7) and gone when child_run
 * returns.
 *
 * Stopping: the first SIGTERM or SIGINT drains the runner within
 * WORKER_GRACE, then hands back what is unfinished; a second one hands
 * back at once; a third stops now. Handing back is bounded
 * (RUNNER_HANDBACK_MS), so the process ends within WORKER_GRACE plus a
 * few seconds of its first stop signal whatever Redis and Postgres do.
 * The supervisor's death counts as a stop signal: the kernel sends
 * SIGTERM (PR_SET_PDEATHSIG), even when the supervisor was SIGKILLed.
 *
 * child_run is apart from main.c so that tests can run a worker process
 * in a process they fork, with a seam set (worker/task.h). */
#ifndef WC_CHILD_H
#define WC_CHILD_H

#include "common/config.h"

/* child_run runs worker process `index` until it has stopped; returns the
 * process's exit status (common/exits.h: 0, EX_CONFIG, or EX_SOFTWARE for
 * an internal error). */
int child_run(const struct config *cfg, int index);

#endif
