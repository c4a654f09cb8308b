#include "common/signals.h"

static void
on_signal(uv_signal_t *h, int signum) {
    struct signals *s = h->data;
    s->cb(signum, s->arg);
}

int
signals_start(struct signals *s, uv_loop_t *loop, signals_cb cb, void *arg) {
    s->cb = cb;
    s->arg = arg;
    int rc = uv_signal_init(loop, &s->term);
    if (rc < 0) return rc;
    rc = uv_signal_init(loop, &s->intr);
    if (rc < 0) {
        uv_close((uv_handle_t *)&s->term, NULL);
        return rc;
    }
    s->term.data = s->intr.data = s;
    if ((rc = uv_signal_start(&s->term, on_signal, SIGTERM)) < 0 ||
        (rc = uv_signal_start(&s->intr, on_signal, SIGINT)) < 0) {
        signals_close(s);
        return rc;
    }
    /* Watched now: let through what signals_block held back. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    return 0;
}

void
signals_block(void) {
    /* A peer that hangs up mid-write must give EPIPE, not kill the process. */
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
}

void
signals_close(struct signals *s) {
    if (!uv_is_closing((uv_handle_t *)&s->term)) uv_close((uv_handle_t *)&s->term, NULL);
    if (!uv_is_closing((uv_handle_t *)&s->intr)) uv_close((uv_handle_t *)&s->intr, NULL);
}
