/* prefork.c — fork, supervise and stop the web processes. */
#include "web/prefork.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/exits.h"
#include "common/log.h"
#include "common/xalloc.h"

struct slot {
    pid_t pid; /* 0: not running */
    time_t started;
};

static pid_t
spawn(int index, prefork_serve_fn serve, void *arg, const sigset_t *orig, pid_t parent) {
    pid_t pid = fork();
    if (pid < 0) {
        log_error("msg=\"cannot fork a web process\" index=%d error=%s", index,
                  log_q(strerror(errno)));
        return 0;
    }
    if (pid == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent) _exit(EX_SOFTWARE);
        sigprocmask(SIG_SETMASK, orig, NULL);
        _exit(serve(index, arg));
    }
    log_info("msg=\"web process started\" index=%d pid=%d", index, (int)pid);
    return pid;
}

int
prefork_run(int n, prefork_serve_fn serve, void *arg) {
    if (n <= 1) return serve(0, arg);
    sigset_t set, orig;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &set, &orig) < 0) {
        log_error("msg=\"cannot block signals\" error=%s", log_q(strerror(errno)));
        return EX_SOFTWARE;
    }
    pid_t self = getpid();
    struct slot *slots = xcalloc((size_t)n, sizeof *slots);
    for (int i = 0; i < n; i++) {
        slots[i].pid = spawn(i, serve, arg, &orig, self);
        slots[i].started = time(NULL);
    }
    bool stopping = false, failed = false;
    for (;;) {
        int alive = 0;
        for (int i = 0; i < n; i++) alive += slots[i].pid > 0;
        if (stopping && alive == 0) break;
        /* Wake at least once a second to restart slots that wait out their delay. */
        struct timespec tick = {.tv_sec = 1};
        siginfo_t info;
        int sig = sigtimedwait(&set, &info, &tick);
        if (sig == SIGTERM || sig == SIGINT) {
            log_info("msg=\"stopping web processes\" signal=%d processes=%d", sig, alive);
            stopping = true;
            for (int i = 0; i < n; i++)
                if (slots[i].pid > 0) kill(slots[i].pid, sig);
        }
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            for (int i = 0; i < n; i++) {
                if (slots[i].pid != pid) continue;
                slots[i].pid = 0;
                bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
                if (!clean || !stopping) {
                    log_warn("msg=\"web process exited\" index=%d pid=%d status=%d signal=%d", i,
                             (int)pid, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                             WIFSIGNALED(status) ? WTERMSIG(status) : 0);
                }
                if (!clean && stopping) failed = true;
            }
        }
        if (stopping) continue;
        time_t now = time(NULL);
        for (int i = 0; i < n; i++) {
            if (slots[i].pid == 0 && now > slots[i].started) {
                slots[i].pid = spawn(i, serve, arg, &orig, self);
                slots[i].started = now;
            }
        }
    }
    free(slots);
    sigprocmask(SIG_SETMASK, &orig, NULL);
    return failed ? EX_SOFTWARE : EX_OK;
}
