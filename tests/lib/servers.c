#include "tests/lib/servers.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <glob.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/lib/proc.h"

int
servers_free_port(const char *addr) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, addr, &a.sin_addr);
    socklen_t len = sizeof a;
    cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0, "no free port on %s",
              addr);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* connect_addr is where a client on this host reaches a server bound to bind. */
static const char *
connect_addr(const char *bind) {
    return strcmp(bind, "0.0.0.0") ? bind : "127.0.0.1";
}

static void
make_dir(char *dir, size_t n, const char *tag) {
    snprintf(dir, n, "/tmp/wc-%s.XXXXXX", tag);
    cr_assert_not_null(mkdtemp(dir), "cannot make a folder for %s", tag);
    chmod(dir, 0755);
}

static void
remove_dir(char *dir) {
    if (!dir[0]) return;
    const char *keep = getenv("KEEP_TMP");
    if (keep && !strcmp(keep, "1")) {
        cr_log_info("kept %s", dir);
    } else {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) cr_log_warn("could not remove %s", dir);
    }
    dir[0] = '\0';
}

/* --- redis --- */

static bool
redis_pings(const struct redis_srv *r) {
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout(connect_addr(r->bind), r->port, tv);
    bool ok = false;
    if (c && !c->err) {
        redisReply *rep = redisCommand(c, "PING");
        /* While loading its data Redis answers -LOADING. */
        ok = rep && rep->type == REDIS_REPLY_STATUS && !strcmp(rep->str, "PONG");
        if (rep) freeReplyObject(rep);
    }
    if (c) redisFree(c);
    return ok;
}

void
redis_srv_start(struct redis_srv *r, const char *bind) {
    if (!r->dir[0]) {
        make_dir(r->dir, sizeof r->dir, "redis");
        snprintf(r->bind, sizeof r->bind, "%s", bind);
        r->port = servers_free_port(bind);
        snprintf(r->url, sizeof r->url, "redis://%s:%d/0", connect_addr(bind), r->port);
    }
    char port[16], logf[96];
    snprintf(port, sizeof port, "%d", r->port);
    snprintf(logf, sizeof logf, "%s/redis.log", r->dir);
    const char *argv[] = {"/usr/bin/redis-server",
                          "--bind",
                          r->bind,
                          "--port",
                          port,
                          "--protected-mode",
                          "no",
                          "--dir",
                          r->dir,
                          "--appendonly",
                          "yes",
                          "--save",
                          "",
                          "--daemonize",
                          "no",
                          NULL};
    r->pid = proc_start(argv, NULL, logf);
    cr_assert_gt(r->pid, 0);
    for (int i = 0; i < 400 && !redis_pings(r); i++) usleep(25000);
    cr_assert(redis_pings(r), "private redis did not start (see %s)", logf);
}

void
redis_srv_stop(struct redis_srv *r, int sig) {
    if (r->pid <= 0) return;
    int st = proc_stop(r->pid, sig, 20000);
    if (st == -1) cr_log_warn("redis %d had to be killed", (int)r->pid);
    r->pid = 0;
}

void
redis_srv_free(struct redis_srv *r) {
    redis_srv_stop(r, SIGTERM);
    remove_dir(r->dir);
}

/* --- postgres --- */

/* pg_bindir finds the newest installed server (Debian's layout). */
static const char *
pg_bindir(void) {
    static char dir[256];
    if (dir[0]) return dir;
    glob_t g;
    if (glob("/usr/lib/postgresql/*/bin/postgres", 0, NULL, &g) == 0 && g.gl_pathc > 0) {
        /* The list is sorted; take the last (versions of equal width). */
        snprintf(dir, sizeof dir, "%s", g.gl_pathv[g.gl_pathc - 1]);
        *strrchr(dir, '/') = '\0';
    }
    globfree(&g);
    cr_assert(dir[0], "no Postgres server under /usr/lib/postgresql");
    return dir;
}

static bool
pg_ready(const struct pg_srv *p) {
    return PQping(p->url) == PQPING_OK;
}

void
pg_srv_start(struct pg_srv *p, const char *bind) {
    bool root = geteuid() == 0;
    struct proc_opts as = {.user = root ? "postgres" : NULL};
    char data[96], logf[96];
    if (!p->dir[0]) {
        make_dir(p->dir, sizeof p->dir, "pg");
        snprintf(p->bind, sizeof p->bind, "%s", bind);
        p->port = servers_free_port(bind);
        snprintf(p->url, sizeof p->url, "postgresql://postgres@%s:%d/postgres", connect_addr(bind),
                 p->port);
        if (root) {
            char cmd[128];
            snprintf(cmd, sizeof cmd, "chown postgres: '%s'", p->dir);
            cr_assert_eq(system(cmd), 0);
        }
        char initdb[320], ilog[96];
        snprintf(initdb, sizeof initdb, "%s/initdb", pg_bindir());
        snprintf(data, sizeof data, "%s/data", p->dir);
        snprintf(ilog, sizeof ilog, "%s/initdb.log", p->dir);
        const char *argv[] = {initdb, "-D",   data,          "-U",           "postgres",
                              "-E",   "UTF8", "--no-locale", "--auth=trust", NULL};
        pid_t pid = proc_spawn(argv, NULL, ilog, &as);
        cr_assert_gt(pid, 0);
        int st = proc_wait_exit(pid, 60000);
        cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "initdb failed (see %s)",
                  ilog);
        /* Clients on the server's own subnets too (workers in other
         * network namespaces reach it over a test bridge). */
        char hba[128];
        snprintf(hba, sizeof hba, "%s/pg_hba.conf", data);
        FILE *f = fopen(hba, "a");
        cr_assert_not_null(f, "cannot open %s", hba);
        fputs("host all all samenet trust\n", f);
        cr_assert_eq(fclose(f), 0);
    }
    char server[320], port[16], listen[96], sock[96];
    snprintf(server, sizeof server, "%s/postgres", pg_bindir());
    snprintf(data, sizeof data, "%s/data", p->dir);
    snprintf(logf, sizeof logf, "%s/postgres.log", p->dir);
    snprintf(port, sizeof port, "%d", p->port);
    snprintf(listen, sizeof listen, "listen_addresses=%s", p->bind);
    snprintf(sock, sizeof sock, "unix_socket_directories=%s", p->dir);
    const char *argv[] = {server,
                          "-D",
                          data,
                          "-p",
                          port,
                          "-c",
                          listen,
                          "-c",
                          sock,
                          "-c",
                          "fsync=off",
                          "-c",
                          "max_connections=200",
                          NULL};
    p->pid = proc_spawn(argv, NULL, logf, &as);
    cr_assert_gt(p->pid, 0);
    for (int i = 0; i < 600 && !pg_ready(p); i++) usleep(50000);
    cr_assert(pg_ready(p), "private postgres did not start (see %s)", logf);
}

void
pg_srv_stop(struct pg_srv *p, int sig) {
    if (p->pid <= 0) return;
    int st = proc_stop(p->pid, sig, 30000);
    if (st == -1) cr_log_warn("postgres %d had to be killed", (int)p->pid);
    p->pid = 0;
}

void
pg_srv_free(struct pg_srv *p) {
    pg_srv_stop(p, SIGQUIT);
    remove_dir(p->dir);
}
