#include "tests/lib/testenv.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

const char *
testenv_redis_url(void) {
    const char *u = getenv("WC_TEST_REDIS_URL");
    if (!u || !*u)
        cr_assert_fail(
            "WC_TEST_REDIS_URL is not set: run the suite with `make check` (tests/run.sh)");
    return u;
}

const char *
testenv_database_url(void) {
    const char *u = getenv("WC_TEST_DATABASE_URL");
    if (!u || !*u)
        cr_assert_fail(
            "WC_TEST_DATABASE_URL is not set: run the suite with `make check` (tests/run.sh)");
    return u;
}

static unsigned
rnd(void) {
    unsigned r = 0;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r) r = (unsigned)rand();
    return r;
}

void
testenv_prefix(char *out, size_t n) {
    static unsigned seq;
    snprintf(out, n, "t:%ld:%u:%08x:", (long)getpid(), ++seq, rnd());
}

void
testenv_name(char *out, size_t n) {
    static unsigned seq;
    snprintf(out, n, "t_%ld_%u_%08x", (long)getpid(), ++seq, rnd());
}

static void
on_deadline(uv_timer_t *t) {
    *(bool *)t->data = true;
}

bool
testenv_run_until_pred(uv_loop_t *loop, bool (*pred)(void *arg), void *arg, int timeout_ms) {
    bool expired = false;
    uv_timer_t t;
    uv_timer_init(loop, &t);
    t.data = &expired;
    uv_timer_start(&t, on_deadline, (uint64_t)timeout_ms, 0);
    /* One timer bounds the wait: UV_RUN_ONCE returns after each turn with
     * events, and the deadline guarantees a last turn. */
    while (!pred(arg) && !expired) uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return pred(arg);
}

static bool
flag_set(void *flag) {
    return *(const bool *)flag;
}

bool
testenv_run_until(uv_loop_t *loop, const bool *flag, int timeout_ms) {
    return testenv_run_until_pred(loop, flag_set, (void *)flag, timeout_ms);
}

void
testenv_run_ms(uv_loop_t *loop, int ms) {
    bool never = false;
    testenv_run_until(loop, &never, ms);
}

void
testenv_on_closed(void *arg) {
    *(bool *)arg = true;
}

int
testenv_loop_close(uv_loop_t *loop) {
    for (int i = 0; i < 1000 && uv_loop_alive(loop); i++) uv_run(loop, UV_RUN_NOWAIT);
    return uv_loop_close(loop);
}

const char *
testenv_bin(const char *name) {
    static char path[4096];
    const char *dir = getenv("BIN_DIR");
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : WC_SRCDIR "/bin", name);
    return path;
}

const char *
testenv_srcdir(void) {
    return WC_SRCDIR;
}

void
testenv_write_file(const char *path, const char *content) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(content, f);
    cr_assert_eq(fclose(f), 0, "cannot write %s", path);
}

int
testenv_free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

void
testenv_remove_dir(char *dir) {
    if (!dir[0]) return;
    const char *keep = getenv("KEEP_TMP");
    if (keep && !strcmp(keep, "1")) {
        cr_log_info("kept %s", dir);
    } else {
        char cmd[160];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) cr_log_warn("could not remove %s", dir);
    }
    dir[0] = '\0';
}
