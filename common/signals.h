/* signals — SIGTERM and SIGINT on a libuv loop, turned into one "stop"
 * callback.
 *
 * Owns: two uv_signal_t handles. signals_start begins watching;
 * the callback runs for each signal received (the argument says which), so
 * a second signal can mean "stop now". signals_close closes both handles;
 * the struct must stay alive until the loop has run their close callbacks
 * (the owner embeds it and frees after its loop ends). */
#ifndef WC_SIGNALS_H
#define WC_SIGNALS_H

#include <uv.h>

typedef void (*signals_cb)(int signum, void *arg);

struct signals {
    uv_signal_t term;
    uv_signal_t intr;
    signals_cb cb;
    void *arg;
};

/* signals_block holds SIGTERM and SIGINT back (a program calls it first
 * thing), so one that arrives while the program starts is not fatal;
 * signals_start lets them through once they are watched. It also ignores
 * SIGPIPE: a client or server that hangs up mid-write gives EPIPE. */
void signals_block(void);
int signals_start(struct signals *s, uv_loop_t *loop, signals_cb cb, void *arg);
void signals_close(struct signals *s);

#endif
