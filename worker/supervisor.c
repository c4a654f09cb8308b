#include "worker/supervisor.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/backoff.h"
#include "common/log.h"
#include "common/signals.h"
#include "common/xalloc.h"

#define RESTART_MIN_MS 1000
#define RESTART_MAX_MS 30000
/* A child that lived this long was not crash-looping: its next death
 * starts the backoff from the beginning. */
#define HEALTHY_AFTER_MS 10000
#define KILL_EXTRA_MS 5000

struct slot {
    struct supervisor *sup;
    int index;
    uv_process_t proc;
    uv_timer_t restart;
    bool running;
    bool proc_open; /* proc handle initialised and not yet closed */
    uint64_t started_at;
    struct backoff restarts; /* deaths in a row, each soon after its start */
};

struct supervisor {
    uv_loop_t loop;
    const struct config *cfg;
    const char *exe;
    struct slot *slots;
    int nslots;
    struct signals signals;
    uv_timer_t kill_timer;
    bool stopping;
    bool closed; /* the supervisor's own handles are closing */
    int alive;
};

static void spawn_child(struct slot *s);

bool
supervisor_death_is_crash(int64_t exit_status, int term_signal) {
    bool killed = term_signal == SIGKILL || term_signal == SIGTERM || term_signal == SIGINT ||
                  term_signal == SIGHUP || (term_signal == 0 && exit_status == 0);
    return !killed;
}

static void
on_restart_timer(uv_timer_t *t) {
    spawn_child(t->data);
}

static void
check_done(struct supervisor *sup) {
    if (!sup->stopping || sup->alive > 0 || sup->closed) return;
    sup->closed = true;
    log_info("msg=\"all workers stopped\"");
    uv_timer_stop(&sup->kill_timer);
    uv_close((uv_handle_t *)&sup->kill_timer, NULL);
    signals_close(&sup->signals);
    for (int i = 0; i < sup->nslots; i++) uv_close((uv_handle_t *)&sup->slots[i].restart, NULL);
}

static void
on_proc_closed(uv_handle_t *h) {
    struct slot *s = h->data;
    s->proc_open = false;
    check_done(s->sup);
}

static void
on_child_exit(uv_process_t *p, int64_t exit_status, int term_signal) {
    struct slot *s = p->data;
    struct supervisor *sup = s->sup;
    s->running = false;
    sup->alive--;
    uint64_t lived = uv_now(&sup->loop) - s->started_at;
    if (sup->stopping) {
        log_info("msg=\"worker exited\" child=%d pid=%d status=%lld signal=%d", s->index, p->pid,
                 (long long)exit_status, term_signal);
    } else {
        bool crashed = supervisor_death_is_crash(exit_status, term_signal);
        if (lived >= HEALTHY_AFTER_MS) backoff_reset(&s->restarts);
        /* A crash loop backs off (1 s doubling to 30 s); a child killed
         * from outside (kill -9, a stop signal) comes back after the first
         * step, however often it happens: a kill storm must not leave
         * the fleet without workers. */
        int64_t delay = crashed ? backoff_next(&s->restarts)
                                : backoff_delay_ms(RESTART_MIN_MS, RESTART_MAX_MS, 1,
                                                   backoff_rand(&s->restarts));
        log_warn("msg=\"worker died, restarting\" child=%d pid=%d status=%lld signal=%d "
                 "lived_ms=%llu cause=%s restart_in_ms=%lld",
                 s->index, p->pid, (long long)exit_status, term_signal, (unsigned long long)lived,
                 crashed ? "crash" : "killed", (long long)delay);
        uv_timer_start(&s->restart, on_restart_timer, (uint64_t)delay, 0);
    }
    uv_close((uv_handle_t *)p, on_proc_closed);
}

static void
spawn_child(struct slot *s) {
    struct supervisor *sup = s->sup;
    if (sup->stopping || s->running || s->proc_open) return;
    char index[16];
    snprintf(index, sizeof index, "%d", s->index);
    char *args[] = {(char *)sup->exe, "--child", index, NULL};
    uv_stdio_container_t stdio[3] = {{.flags = UV_IGNORE},
                                     {.flags = UV_INHERIT_FD, .data.fd = 1},
                                     {.flags = UV_INHERIT_FD, .data.fd = 2}};
    uv_process_options_t opts = {
        .exit_cb = on_child_exit, .file = sup->exe, .args = args, .stdio_count = 3, .stdio = stdio};
    s->proc.data = s;
    int rc = uv_spawn(&sup->loop, &s->proc, &opts);
    if (rc < 0) {
        /* uv_spawn initialises the handle even when it fails; close it. */
        log_error("msg=\"cannot start worker\" child=%d error=%s", s->index,
                  log_q(uv_strerror(rc)));
        s->proc_open = true;
        uv_close((uv_handle_t *)&s->proc, on_proc_closed);
        /* Not a crash but the system refusing (no memory, no processes
         * left): wait the longest, without counting it as a death. */
        uv_timer_start(&s->restart, on_restart_timer, RESTART_MAX_MS, 0);
        return;
    }
    s->proc_open = true;
    s->running = true;
    s->started_at = uv_now(&sup->loop);
    sup->alive++;
    log_info("msg=\"worker started\" child=%d pid=%d", s->index, s->proc.pid);
}

static void
on_kill_timer(uv_timer_t *t) {
    struct supervisor *sup = t->data;
    for (int i = 0; i < sup->nslots; i++) {
        struct slot *s = &sup->slots[i];
        if (s->running) {
            log_warn("msg=\"worker did not stop in time, killing\" child=%d pid=%d", s->index,
                     s->proc.pid);
            uv_process_kill(&s->proc, SIGKILL);
        }
    }
}

static void
on_signal(int signum, void *arg) {
    struct supervisor *sup = arg;
    if (sup->stopping) {
        log_info("msg=\"second signal, stopping workers now\"");
        on_kill_timer(&sup->kill_timer);
        return;
    }
    sup->stopping = true;
    log_info("msg=\"stopping workers\" signal=%d workers=%d", signum, sup->alive);
    for (int i = 0; i < sup->nslots; i++) {
        struct slot *s = &sup->slots[i];
        uv_timer_stop(&s->restart);
        if (s->running) uv_process_kill(&s->proc, SIGTERM);
    }
    uv_timer_start(&sup->kill_timer, on_kill_timer,
                   (uint64_t)sup->cfg->worker_grace_ms + KILL_EXTRA_MS, 0);
    check_done(sup);
}

int
supervisor_run(const struct config *cfg, const char *exe) {
    struct supervisor sup = {.cfg = cfg, .exe = exe, .nslots = cfg->worker_processes};
    int rc = uv_loop_init(&sup.loop);
    if (rc < 0) return rc;
    sup.slots = xcalloc((size_t)sup.nslots, sizeof *sup.slots);
    uv_timer_init(&sup.loop, &sup.kill_timer);
    sup.kill_timer.data = &sup;
    rc = signals_start(&sup.signals, &sup.loop, on_signal, &sup);
    if (rc < 0) {
        log_error("msg=\"cannot watch signals\" error=%s", log_q(uv_strerror(rc)));
        uv_close((uv_handle_t *)&sup.kill_timer, NULL);
        uv_run(&sup.loop, UV_RUN_DEFAULT);
        uv_loop_close(&sup.loop);
        free(sup.slots);
        return rc;
    }
    log_info("msg=\"supervisor started\" workers=%d concurrency=%d", sup.nslots,
             cfg->worker_concurrency);
    for (int i = 0; i < sup.nslots; i++) {
        struct slot *s = &sup.slots[i];
        s->sup = &sup;
        s->index = i;
        backoff_init(&s->restarts, RESTART_MIN_MS, RESTART_MAX_MS,
                     uv_hrtime() ^ (uint64_t)(uintptr_t)s);
        uv_timer_init(&sup.loop, &s->restart);
        s->restart.data = s;
        spawn_child(s);
    }
    uv_run(&sup.loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(&sup.loop);
    if (rc < 0) log_warn("msg=\"loop not closed cleanly\" error=%s", log_q(uv_strerror(rc)));
    free(sup.slots);
    return 0;
}
