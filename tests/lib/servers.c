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

#include "common/buf.h"
#include "tests/lib/proc.h"
#include "tests/lib/run.h"
#include "tests/lib/testenv.h"

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

/* --- redis --- */

/* answers_ping: PONG, or NOAUTH from a server that wants a password (it
 * is up; the test authenticates itself). */
static bool
answers_ping(const char *answer) {
    return !strncmp(answer, "PONG", 4) || !strncmp(answer, "NOAUTH", 6);
}

/* redis_pings asks with blocking hiredis, or for TLS (which hiredis 0.14
 * lacks) with redis-cli, so the check never depends on redis_uv. While
 * loading its data Redis answers -LOADING. */
static bool
redis_pings(const struct redis_srv *r) {
    char port[16];
    snprintf(port, sizeof port, "%d", r->port);
    if (r->tls_cert) {
        const char *argv[] = {"redis-cli", "--tls", "--insecure", "-h", connect_addr(r->bind),
                              "-p",        port,    "PING",       NULL};
        struct buf out;
        buf_init(&out);
        bool ok = run_cmd(argv, NULL, NULL, 5000, &out, NULL) == 0 && answers_ping(out.data);
        buf_free(&out);
        return ok;
    }
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout(connect_addr(r->bind), r->port, tv);
    bool ok = false;
    if (c && !c->err) {
        redisReply *rep = redisCommand(c, "PING");
        ok = rep && (rep->type == REDIS_REPLY_STATUS || rep->type == REDIS_REPLY_ERROR) &&
             answers_ping(rep->str);
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
        snprintf(r->url, sizeof r->url, "%s://%s:%d/0", r->tls_cert ? "rediss" : "redis",
                 connect_addr(bind), r->port);
    }
    char port[16], logf[96];
    snprintf(port, sizeof port, "%d", r->port);
    snprintf(logf, sizeof logf, "%s/redis.log", r->dir);
    const char *argv[48] = {"/usr/bin/redis-server",
                            "--bind",
                            r->bind,
                            "--protected-mode",
                            "no",
                            "--dir",
                            r->dir,
                            "--appendonly",
                            "yes",
                            "--save",
                            "",
                            "--daemonize",
                            "no"};
    int n = 13;
    if (r->tls_cert) {
        const char *tls[] = {"--port",
                             "0",
                             "--tls-port",
                             port,
                             "--tls-cert-file",
                             r->tls_cert,
                             "--tls-key-file",
                             r->tls_key,
                             "--tls-auth-clients",
                             "no"};
        for (size_t i = 0; i < sizeof tls / sizeof *tls; i++) argv[n++] = tls[i];
    } else {
        argv[n++] = "--port";
        argv[n++] = port;
    }
    for (int i = 0; r->extra[i] && n < 47; i++) argv[n++] = r->extra[i];
    argv[n] = NULL;
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
    testenv_remove_dir(r->dir);
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

/* copy_file copies src to dst with mode, owned by the server's user. */
static void
copy_file(const char *src, const char *dst, mode_t mode, bool root) {
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    cr_assert(in && out, "cannot copy %s to %s", src, dst);
    char b[4096];
    size_t n;
    while ((n = fread(b, 1, sizeof b, in)) > 0) cr_assert_eq(fwrite(b, 1, n, out), n);
    fclose(in);
    cr_assert_eq(fclose(out), 0);
    cr_assert_eq(chmod(dst, mode), 0);
    if (root) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "chown postgres: '%s'", dst);
        cr_assert_eq(system(cmd), 0);
    }
}

/* pg_install_tls puts the certificate and key in the cluster's folder:
 * Postgres wants a key that its own user owns, readable by nobody else. */
static void
pg_install_tls(struct pg_srv *p, bool root) {
    char dst[128];
    snprintf(dst, sizeof dst, "%s/server.crt", p->dir);
    copy_file(p->tls_cert, dst, 0644, root);
    snprintf(dst, sizeof dst, "%s/server.key", p->dir);
    copy_file(p->tls_key, dst, 0600, root);
}

/* pg_make_replica copies p->replica_of's cluster into data with
 * pg_basebackup -R (initdb's default pg_hba.conf lets loopback clients
 * replicate): started, it is a hot standby streaming from the primary. */
static void
pg_make_replica(struct pg_srv *p, const char *data, const struct proc_opts *as) {
    const struct pg_srv *primary = p->replica_of;
    char bin[320], port[16], log[96];
    snprintf(bin, sizeof bin, "%s/pg_basebackup", pg_bindir());
    snprintf(port, sizeof port, "%d", primary->port);
    snprintf(log, sizeof log, "%s/basebackup.log", p->dir);
    const char *argv[] = {bin,         "-h", connect_addr(primary->bind),
                          "-p",        port, "-U",
                          "postgres",  "-D", data,
                          "-R",        "-X", "stream",
                          "--no-sync", NULL};
    pid_t pid = proc_spawn(argv, NULL, log, as);
    cr_assert_gt(pid, 0);
    int st = proc_wait_exit(pid, 120000);
    cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "pg_basebackup failed (see %s)",
              log);
}

/* pg_init_cluster makes a new cluster in data (initdb) with the clients
 * the tests need in pg_hba.conf, and TLS when asked for. */
static void
pg_init_cluster(struct pg_srv *p, const char *data, const struct proc_opts *as, bool root) {
    char initdb[320], ilog[96];
    snprintf(initdb, sizeof initdb, "%s/initdb", pg_bindir());
    snprintf(ilog, sizeof ilog, "%s/initdb.log", p->dir);
    const char *argv[] = {initdb, "-D",   data,          "-U",           "postgres",
                          "-E",   "UTF8", "--no-locale", "--auth=trust", NULL};
    pid_t pid = proc_spawn(argv, NULL, ilog, as);
    cr_assert_gt(pid, 0);
    int st = proc_wait_exit(pid, 60000);
    cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "initdb failed (see %s)", ilog);
    /* Clients on the server's own subnets too (workers in other
     * network namespaces reach it over a test bridge). With TLS, TCP
     * clients without it are refused (the first matching line wins). */
    char hba[128];
    snprintf(hba, sizeof hba, "%s/pg_hba.conf", data);
    FILE *f = fopen(hba, p->tls_cert ? "w" : "a");
    cr_assert_not_null(f, "cannot open %s", hba);
    if (p->tls_cert) fputs("local all all trust\nhostnossl all all all reject\n", f);
    fputs(p->tls_cert ? "hostssl all all all trust\n" : "host all all samenet trust\n", f);
    cr_assert_eq(fclose(f), 0);
    if (p->tls_cert) pg_install_tls(p, root);
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
        if (p->tls_cert)
            snprintf(p->url + strlen(p->url), sizeof p->url - strlen(p->url),
                     "?sslmode=verify-full&sslrootcert=%s", p->tls_ca);
        if (root) {
            char cmd[128];
            snprintf(cmd, sizeof cmd, "chown postgres: '%s'", p->dir);
            cr_assert_eq(system(cmd), 0);
        }
        snprintf(data, sizeof data, "%s/data", p->dir);
        if (p->replica_of) pg_make_replica(p, data, &as);
        else pg_init_cluster(p, data, &as, root);
    }
    char server[320], port[16], listen[96], sock[96];
    snprintf(server, sizeof server, "%s/postgres", pg_bindir());
    snprintf(data, sizeof data, "%s/data", p->dir);
    snprintf(logf, sizeof logf, "%s/postgres.log", p->dir);
    snprintf(port, sizeof port, "%d", p->port);
    snprintf(listen, sizeof listen, "listen_addresses=%s", p->bind);
    snprintf(sock, sizeof sock, "unix_socket_directories=%s", p->dir);
    const char *argv[24] = {server,
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
                            "max_connections=200"};
    int n = 13;
    char cert[128], key[128];
    if (p->tls_cert) {
        snprintf(cert, sizeof cert, "ssl_cert_file=%s/server.crt", p->dir);
        snprintf(key, sizeof key, "ssl_key_file=%s/server.key", p->dir);
        const char *tls[] = {"-c", "ssl=on", "-c", cert, "-c", key};
        for (size_t i = 0; i < sizeof tls / sizeof *tls; i++) argv[n++] = tls[i];
    }
    argv[n] = NULL;
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
    testenv_remove_dir(p->dir);
}
