#include "tests/lib/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void
sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* enter runs in the child: the namespace, then the user. */
static int
enter(const struct proc_opts *o) {
    if (o && o->netns) {
        char path[256];
        snprintf(path, sizeof path, "/run/netns/%s", o->netns);
        int ns = open(path, O_RDONLY | O_CLOEXEC);
        if (ns < 0 || setns(ns, CLONE_NEWNET) < 0) {
            fprintf(stderr, "proc: cannot enter network namespace %s: %s\n", o->netns,
                    strerror(errno));
            return -1;
        }
        close(ns);
    }
    if (o && o->user) {
        struct passwd *pw = getpwnam(o->user);
        if (!pw || setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
            fprintf(stderr, "proc: cannot become user %s: %s\n", o->user,
                    pw ? strerror(errno) : "no such user");
            return -1;
        }
    }
    return 0;
}

pid_t
proc_start(const char *const *argv, const char *const *env, const char *log_path) {
    return proc_spawn(argv, env, log_path, NULL);
}

pid_t
proc_spawn(const char *const *argv, const char *const *env, const char *log_path,
           const struct proc_opts *opts) {
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(fd);
        return -1;
    }
    if (pid == 0) {
        for (const char *const *e = env; e && *e; e++) putenv((char *)*e);
        dup2(fd, 1);
        dup2(fd, 2);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, 0);
        if (enter(opts) < 0) _exit(126);
        execv(argv[0], (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fd);
    return pid;
}

int
proc_wait_exit(pid_t pid, int timeout_ms) {
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) return status;
        if (r < 0) return -1;
        sleep_ms(20);
    }
    return -1;
}

int
proc_stop(pid_t pid, int sig, int timeout_ms) {
    if (pid <= 0) return -1;
    kill(pid, sig);
    int status = proc_wait_exit(pid, timeout_ms);
    if (status == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    return status;
}

bool
proc_wait_log(const char *log_path, const char *needle, int timeout_ms, char *out, size_t n) {
    for (int waited = 0; waited <= timeout_ms; waited += 25) {
        FILE *f = fopen(log_path, "r");
        if (f) {
            char line[8192];
            while (fgets(line, sizeof line, f)) {
                if (strstr(line, needle)) {
                    if (out && n) snprintf(out, n, "%s", line);
                    fclose(f);
                    return true;
                }
            }
            fclose(f);
        }
        sleep_ms(25);
    }
    return false;
}

bool
proc_alive(pid_t pid) {
    if (pid <= 0 || kill(pid, 0) != 0) return false;
    /* A zombie (exited, not yet reaped: orphans are not reaped where pid 1
     * is not an init) is not alive. */
    char path[64], stat[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return false;
    size_t n = fread(stat, 1, sizeof stat - 1, f);
    fclose(f);
    stat[n] = '\0';
    const char *rp = strrchr(stat, ')');
    return !(rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'));
}
