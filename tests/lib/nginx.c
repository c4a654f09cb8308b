#include "tests/lib/nginx.h"

#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "tests/lib/http_client.h"
#include "tests/lib/proc.h"
#include "tests/lib/run.h"
#include "tests/lib/testenv.h"

#define DEBIAN_MAIN_CONF "/etc/nginx/nginx.conf"

static int
render_site(const char *dir, const char *listen, const char *upstream, const char *static_dir,
            char *err, size_t errlen) {
    char script[4096], tmpl[4096], site[4096];
    snprintf(script, sizeof script, "%s/deploy/nginx-render.sh", testenv_srcdir());
    snprintf(tmpl, sizeof tmpl, "%s/deploy/nginx.conf", testenv_srcdir());
    snprintf(site, sizeof site, "%s/wordcount.conf", dir);
    char *e1 = xasprintf("WC_LISTEN=%s", listen), *e2 = xasprintf("WC_UPSTREAM=%s", upstream),
         *e3 = xasprintf("WC_STATIC_DIR=%s", static_dir);
    const char *env[] = {e1, e2, e3, NULL};
    const char *argv[] = {script, tmpl, NULL};
    struct buf out, errb;
    buf_init(&out);
    buf_init(&errb);
    int rc = run_cmd(argv, env, NULL, 10000, &out, &errb);
    if (rc != 0) {
        snprintf(err, errlen, "nginx-render.sh exited %d: %s", rc, errb.data);
    } else {
        FILE *f = fopen(site, "w");
        if (!f || fwrite(out.data, 1, out.len, f) != out.len) {
            snprintf(err, errlen, "cannot write %s", site);
            rc = -1;
        }
        if (f && fclose(f) != 0) rc = -1;
    }
    buf_free(&out);
    buf_free(&errb);
    free(e1);
    free(e2);
    free(e3);
    return rc == 0 ? 0 : -1;
}

static bool
starts(const char *line, const char *word) {
    while (*line == ' ' || *line == '\t') line++;
    return strncmp(line, word, strlen(word)) == 0;
}

int
nginx_prepare(const char *dir, const char *listen, const char *upstream, const char *static_dir,
              char *err, size_t errlen) {
    if (render_site(dir, listen, upstream, static_dir, err, errlen) < 0) return -1;
    FILE *in = fopen(DEBIAN_MAIN_CONF, "r");
    if (!in) {
        snprintf(err, errlen, "cannot read %s: is Debian's nginx installed? (make deps)",
                 DEBIAN_MAIN_CONF);
        return -1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/nginx.conf", dir);
    FILE *out = fopen(path, "w");
    if (!out) {
        fclose(in);
        snprintf(err, errlen, "cannot write %s", path);
        return -1;
    }
    bool saw_pid = false, saw_confd = false;
    char line[1024];
    while (fgets(line, sizeof line, in)) {
        if (starts(line, "pid ")) {
            fprintf(out, "pid %s/nginx.pid;\n", dir);
            saw_pid = true;
        } else if (starts(line, "worker_processes ")) {
            fprintf(out, "worker_processes 1;\n");
        } else if (starts(line, "user ") && geteuid() != 0) {
            /* Only root can switch users; keep the line when root. */
        } else if (starts(line, "error_log ")) {
            fprintf(out, "error_log %s/error.log;\n", dir);
        } else if (starts(line, "access_log ")) {
            fprintf(out, "access_log %s/access.log;\n", dir);
        } else if (starts(line, "include /etc/nginx/conf.d/")) {
            static const char *const temps[] = {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"};
            for (size_t i = 0; i < sizeof temps / sizeof temps[0]; i++)
                fprintf(out, "\t%s_temp_path %s/tmp-%s;\n", temps[i], dir, temps[i]);
            fprintf(out, "\tinclude %s/wordcount.conf;\n", dir);
            saw_confd = true;
        } else if (starts(line, "include /etc/nginx/sites-enabled/")) {
            /* Debian's default site would listen on port 80. */
        } else {
            fputs(line, out);
        }
    }
    fclose(in);
    if (fclose(out) != 0 || !saw_pid || !saw_confd) {
        snprintf(err, errlen, "%s has no pid line or no conf.d include: cannot adapt it",
                 DEBIAN_MAIN_CONF);
        return -1;
    }
    return 0;
}

int
nginx_check(const char *dir, struct buf *out) {
    char conf[4096], elog[4096];
    snprintf(conf, sizeof conf, "%s/nginx.conf", dir);
    snprintf(elog, sizeof elog, "%s/error.log", dir);
    const char *argv[] = {"nginx", "-t", "-e", elog, "-c", conf, NULL};
    struct buf err;
    buf_init(&err);
    int rc = run_cmd(argv, NULL, NULL, 20000, out, &err);
    buf_append(out, err.data, err.len);
    buf_free(&err);
    return rc;
}

pid_t
nginx_start(const char *dir) {
    char conf[4096], elog[4096], log[4096];
    snprintf(conf, sizeof conf, "%s/nginx.conf", dir);
    snprintf(elog, sizeof elog, "%s/error.log", dir);
    snprintf(log, sizeof log, "%s/nginx.out", dir);
    const char *argv[] = {"/usr/sbin/nginx", "-e", elog, "-c", conf, "-g", "daemon off;", NULL};
    return proc_start(argv, NULL, log);
}

int
nginx_free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

pid_t
nginx_launch(const char *dir, const char *upstream, const char *static_dir, char *base,
             size_t baselen, char *err, size_t errlen) {
    for (int attempt = 0; attempt < 5; attempt++) {
        int port = nginx_free_port();
        if (port <= 0) break;
        char listen[64];
        snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
        if (nginx_prepare(dir, listen, upstream, static_dir, err, errlen) < 0) return -1;
        pid_t pid = nginx_start(dir);
        if (pid <= 0) break;
        snprintf(base, baselen, "http://%s", listen);
        char url[256];
        snprintf(url, sizeof url, "%s/nginx-healthz", base);
        for (int i = 0; i < 100; i++) {
            struct http_response r;
            if (http_request("GET", url, NULL, NULL, NULL, &r) == 0) {
                long status = r.status;
                http_response_free(&r);
                if (status == 200) return pid;
            }
            if (!proc_alive(pid)) break;
            usleep(50 * 1000);
        }
        proc_stop(pid, SIGTERM, 3000);
    }
    snprintf(err, errlen, "nginx did not start; see %s/error.log", dir);
    return -1;
}
