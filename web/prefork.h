/* prefork — WEB_CONCURRENCY processes serving one listening socket.
 *
 * The socket is made before the fork and inherited, so the kernel spreads
 * connections over the processes (no SO_REUSEPORT needed). With n == 1
 * prefork_run simply calls serve. Otherwise the calling process becomes a
 * small supervisor that owns no loop: it forks n children that each call
 * serve, restarts one that dies unexpectedly (at most once a second per
 * slot), forwards SIGTERM and SIGINT to all of them, and returns once
 * every child has exited. Children get SIGTERM if the supervisor dies. */
#ifndef WC_PREFORK_H
#define WC_PREFORK_H

/* serve runs one server process and returns its exit status. */
typedef int (*prefork_serve_fn)(int index, void *arg);

/* prefork_run returns serve's status (n == 1), or 0 when every child
 * stopped cleanly after a signal, EX_SOFTWARE (70, common/exits.h)
 * otherwise. */
int prefork_run(int n, prefork_serve_fn serve, void *arg);

#endif
