#include "tests/lib/run.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/testenv.h"

static void
slurp(int fd, struct buf *b) {
    buf_reset(b);
    lseek(fd, 0, SEEK_SET);
    char chunk[8192];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof chunk)) > 0) buf_append(b, chunk, (size_t)n);
    buf_append(b, "", 0); /* data is never NULL, always NUL-terminated */
}

static int
temp_fd(void) {
    char path[] = "/tmp/wc-run-XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) unlink(path);
    return fd;
}

int
run_cmd(const char *const *argv, const char *const *env, const char *stdin_path, int timeout_ms,
        struct buf *out, struct buf *err) {
    int ofd = temp_fd(), efd = temp_fd();
    if (ofd < 0 || efd < 0) {
        if (ofd >= 0) close(ofd);
        if (efd >= 0) close(efd);
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(ofd);
        close(efd);
        return -1;
    }
    if (pid == 0) {
        for (const char *const *e = env; e && *e; e++) putenv((char *)*e);
        int in = open(stdin_path ? stdin_path : "/dev/null", O_RDONLY);
        if (in >= 0) dup2(in, 0);
        dup2(ofd, 1);
        dup2(efd, 2);
        execvp(argv[0], (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int status = 0, rc = -1;
    struct timespec tick = {0, 10 * 1000 * 1000};
    for (int waited = 0;; waited += 10) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            break;
        }
        if (r < 0 || waited >= timeout_ms) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            break;
        }
        nanosleep(&tick, NULL);
    }
    if (out) slurp(ofd, out);
    if (err) slurp(efd, err);
    close(ofd);
    close(efd);
    return rc;
}

int
run_program(const char *name, va_list ap, const char *const *env, const char *stdin_path,
            int timeout_ms, struct buf *out, struct buf *err) {
    const char *argv[32];
    char bin[4096];
    snprintf(bin, sizeof bin, "%s", testenv_bin(name));
    int n = 0;
    argv[n++] = bin;
    for (const char *a = va_arg(ap, const char *); a && n < 31; a = va_arg(ap, const char *))
        argv[n++] = a;
    argv[n] = NULL;
    return run_cmd(argv, env, stdin_path, timeout_ms, out, err);
}
