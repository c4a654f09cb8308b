/* deploy/nginx.conf with Debian's real nginx: `nginx -t` in the context of
 * Debian's main configuration, and the whole system (migrate, web, worker,
 * a loopback page server) run behind nginx on loopback, submitted to and
 * polled through it. Only the template's placeholders (listen address,
 * upstream, static folder) and the main file's paths are adapted
 * (tests/lib/nginx.h). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "tests/lib/http_client.h"
#include "tests/lib/nginx.h"
#include "tests/lib/page_server.h"
#include "tests/lib/proc.h"
#include "tests/lib/run.h"
#include "tests/lib/testdb.h"
#include "tests/lib/testenv.h"

/* One suite (see test_deploy_files.c: Criterion's cross-suite leak). */
TestSuite(nginx, .timeout = 120);

static char workdir[128];

static void
make_workdir(void) {
    snprintf(workdir, sizeof workdir, "/tmp/wc-nginx-XXXXXX");
    cr_assert_not_null(mkdtemp(workdir));
    /* nginx's workers (www-data when the master is root) read and write here. */
    cr_assert_eq(chmod(workdir, 0755), 0);
}

static void
remove_workdir(void) {
    if (!workdir[0]) return;
    if (getenv("KEEP_TMP") && !strcmp(getenv("KEEP_TMP"), "1")) {
        cr_log_info("kept %s", workdir);
        return;
    }
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", workdir);
    if (system(cmd) != 0) cr_log_warn("could not remove %s", workdir);
}

/* --- the configuration --- */

Test(nginx, conf_passes_nginx_t, .init = make_workdir, .fini = remove_workdir) {
    char err[512];
    cr_assert_eq(
        nginx_prepare(workdir, "127.0.0.1:8080", "127.0.0.1:5000", workdir, err, sizeof err), 0,
        "%s", err);
    struct buf out;
    buf_init(&out);
    int rc = nginx_check(workdir, &out);
    cr_assert_eq(rc, 0, "nginx -t exited %d: %s", rc, out.data);
    cr_assert(strstr(out.data, "syntax is ok") && strstr(out.data, "test is successful"), "%s",
              out.data);
    cr_log_info("nginx -t: %s", out.data);
    buf_free(&out);
}

Test(nginx, conf_plain_host_values_pass_nginx_t, .init = make_workdir, .fini = remove_workdir) {
    /* What deploy/nginx-render.sh writes with its defaults (a plain host). */
    char err[512];
    cr_assert_eq(nginx_prepare(workdir, "80", "127.0.0.1:5000", "/usr/local/share/wordcount/static",
                               err, sizeof err),
                 0, "%s", err);
    struct buf out;
    buf_init(&out);
    cr_assert_eq(nginx_check(workdir, &out), 0, "%s", out.data);
    buf_free(&out);
}

Test(nginx, conf_a_broken_site_fails_nginx_t, .init = make_workdir, .fini = remove_workdir) {
    char err[512], site[256];
    cr_assert_eq(
        nginx_prepare(workdir, "127.0.0.1:8080", "127.0.0.1:5000", workdir, err, sizeof err), 0,
        "%s", err);
    snprintf(site, sizeof site, "%s/wordcount.conf", workdir);
    FILE *f = fopen(site, "a");
    cr_assert_not_null(f);
    fputs("server { listen 127.0.0.1:8081; gzip on; gzip on; }\n", f);
    cr_assert_eq(fclose(f), 0);
    struct buf out;
    buf_init(&out);
    cr_assert_neq(nginx_check(workdir, &out), 0, "nginx -t accepted a duplicate directive");
    cr_assert(strstr(out.data, "duplicate"), "%s", out.data);
    buf_free(&out);
}

Test(nginx, conf_renderer_refuses_values_that_change_the_file) {
    char script[4096];
    snprintf(script, sizeof script, "%s/deploy/nginx-render.sh", testenv_srcdir());
    const char *bad[] = {"WC_UPSTREAM=127.0.0.1:5000; include /etc/passwd",
                         "WC_STATIC_DIR=/srv/a b", "WC_LISTEN=80 }", "WC_UPSTREAM=web:5000|x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *env[] = {bad[i], NULL};
        const char *argv[] = {script, NULL};
        struct buf out, err;
        buf_init(&out);
        buf_init(&err);
        cr_assert_eq(run_cmd(argv, env, NULL, 10000, &out, &err), 2, "%s accepted", bad[i]);
        cr_assert_eq(out.len, 0, "%s: wrote %s", bad[i], out.data);
        buf_free(&out);
        buf_free(&err);
    }
    /* A missing template is an error too, not an empty file. */
    const char *argv[] = {script, "/nonexistent/nginx.conf", NULL};
    cr_assert_eq(run_cmd(argv, NULL, NULL, 10000, NULL, NULL), 2);
}

/* read_all returns path's content (malloc'd) or NULL. */
static char *
read_all(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    struct buf b;
    buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) buf_append(&b, chunk, n);
    fclose(f);
    return buf_steal(&b);
}

/* get_as asks nginx at base for path as if the client were at addr: the
 * test's copy of the site trusts X-Test-Client from loopback (realip). */
static long
get_as(const char *base_url, const char *path, const char *addr) {
    char url[256], hdr[96];
    snprintf(url, sizeof url, "%s%s", base_url, path);
    snprintf(hdr, sizeof hdr, "X-Test-Client: %s", addr);
    struct http_response r;
    cr_assert_eq(http_request("GET", url, NULL, NULL, hdr, &r), 0, "GET %s", url);
    long status = r.status;
    http_response_free(&r);
    return status;
}

Test(nginx, metrics_only_from_private_networks, .init = make_workdir, .fini = remove_workdir) {
    /* No web server behind it (port 1): a request nginx lets through gets
     * its 503 page, one it refuses gets 403 before any proxying. */
    char err[512], site[256], listen[64], base_url[96];
    int port = nginx_free_port();
    cr_assert_gt(port, 0);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    cr_assert_eq(nginx_prepare(workdir, listen, "127.0.0.1:1", workdir, err, sizeof err), 0, "%s",
                 err);
    snprintf(site, sizeof site, "%s/wordcount.conf", workdir);
    char *conf = read_all(site);
    cr_assert_not_null(conf);
    char *at = strstr(conf, "server_tokens off;");
    cr_assert_not_null(at, "the site has no server_tokens line to anchor on");
    at += strlen("server_tokens off;");
    struct buf b;
    buf_init(&b);
    buf_append(&b, conf, (size_t)(at - conf));
    buf_append_str(&b, "\n    set_real_ip_from 127.0.0.0/8;\n    real_ip_header X-Test-Client;\n");
    buf_append_str(&b, at);
    free(conf);
    testenv_write_file(site, b.data);
    buf_free(&b);
    pid_t pid = nginx_start(workdir);
    cr_assert_gt(pid, 0);
    snprintf(base_url, sizeof base_url, "http://%s", listen);
    bool up = false;
    for (int i = 0; i < 200 && !up && proc_alive(pid); i++) {
        char url[160];
        snprintf(url, sizeof url, "%s/nginx-healthz", base_url);
        struct http_response r;
        if (http_request("GET", url, NULL, NULL, NULL, &r) == 0) {
            up = r.status == 200;
            http_response_free(&r);
        }
        if (!up) usleep(50 * 1000);
    }
    long public_metrics = up ? get_as(base_url, "/metrics", "203.0.113.7") : 0;
    long public_v6 = up ? get_as(base_url, "/metrics", "2001:db8::7") : 0;
    long public_health = up ? get_as(base_url, "/healthz", "203.0.113.7") : 0;
    long private_metrics[4] = {0};
    const char *privs[] = {"10.1.2.3", "172.20.0.5", "192.168.1.9", "127.0.0.1"};
    for (int i = 0; up && i < 4; i++) private_metrics[i] = get_as(base_url, "/metrics", privs[i]);
    proc_stop(pid, SIGQUIT, 5000);
    cr_assert(up, "nginx did not start");
    cr_assert_eq(public_metrics, 403, "a public client reached /metrics");
    cr_assert_eq(public_v6, 403, "a public IPv6 client reached /metrics");
    cr_assert_eq(public_health, 503, "/healthz is for everyone (503: no web server)");
    for (int i = 0; i < 4; i++)
        cr_assert_eq(private_metrics[i], 503, "%s was refused /metrics (%ld)", privs[i],
                     private_metrics[i]);
}

/* --- the system behind nginx --- */

static char db_url[512], db_name[128], prefix[96];
static char web_log[256], worker_log[256];
static char base[128], web_base[128];
static page_server_t *pages;
static pid_t web_pid, worker_pid, nginx_pid;

static const char *
kv(const char *k, const char *v) {
    return xasprintf("%s=%s", k, v);
}

static void
start_system(void) {
    make_workdir();
    char dir[256], path[320];
    snprintf(dir, sizeof dir, "%s/pages", workdir);
    cr_assert_eq(mkdir(dir, 0755), 0);
    /* 300 different words, so the result is large enough to compress. */
    struct buf b;
    buf_init(&b);
    buf_append_str(&b, "<html><body><p>");
    for (int i = 0; i < 300; i++)
        buf_printf(&b, "word%c%c%c ", 'a' + i % 26, 'a' + i / 26 % 26, 'a' + i % 7);
    buf_append_str(&b, "zebra zebra zebra</p></body></html>\n");
    snprintf(path, sizeof path, "%s/many.html", dir);
    testenv_write_file(path, b.data);
    buf_free(&b);
    pages = page_server_start(dir);
    cr_assert_not_null(pages);

    /* The static folder nginx serves from disk. */
    snprintf(dir, sizeof dir, "%s/static", workdir);
    cr_assert_eq(mkdir(dir, 0755), 0);
    buf_init(&b);
    for (int i = 0; i < 200; i++) buf_printf(&b, ".rule-%d { color: #%06x; }\n", i, i * 4099);
    snprintf(path, sizeof path, "%s/probe.css", dir);
    testenv_write_file(path, b.data);
    buf_free(&b);

    testdb_create(db_url, sizeof db_url, db_name, sizeof db_name);
    testenv_prefix(prefix, sizeof prefix);
    snprintf(web_log, sizeof web_log, "%s/web.log", workdir);
    snprintf(worker_log, sizeof worker_log, "%s/worker.log", workdir);
    const char *env[] = {kv("APP_ENV", "testing"),
                         kv("DATABASE_URL", db_url),
                         kv("REDIS_URL", testenv_redis_url()),
                         kv("REDIS_KEY_PREFIX", prefix),
                         kv("FETCH_ALLOW_PRIVATE", "true"),
                         kv("PORT", "0"),
                         kv("WORKER_PROCESSES", "1"),
                         kv("WORKER_CONCURRENCY", "4"),
                         kv("WORKER_GRACE", "3s"),
                         kv("WEB_GRACE", "2s"),
                         kv("STATIC_DIR", dir),
                         NULL};
    char migrate[4096], web[4096], worker[4096], mlog[256];
    snprintf(migrate, sizeof migrate, "%s", testenv_bin("wordcount-migrate"));
    snprintf(web, sizeof web, "%s", testenv_bin("wordcount-web"));
    snprintf(worker, sizeof worker, "%s", testenv_bin("wordcount-worker"));
    snprintf(mlog, sizeof mlog, "%s/migrate.log", workdir);
    const char *margv[] = {migrate, "upgrade", NULL};
    pid_t m = proc_start(margv, env, mlog);
    int st = proc_wait_exit(m, 30000);
    cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "migrate failed, see %s", mlog);
    const char *wargv[] = {web, NULL}, *kargv[] = {worker, NULL};
    web_pid = proc_start(wargv, env, web_log);
    worker_pid = proc_start(kargv, env, worker_log);
    for (const char **e = env; *e; e++) free((void *)*e);
    char line[8192];
    cr_assert(proc_wait_log(web_log, "msg=listening", 10000, line, sizeof line), "see %s", web_log);
    int web_port = atoi(strstr(line, "port=") + 5);
    snprintf(web_base, sizeof web_base, "http://127.0.0.1:%d", web_port);
    cr_assert(proc_wait_log(worker_log, "msg=\"worker ready\"", 10000, NULL, 0), "see %s",
              worker_log);

    /* nginx on a free loopback port (retried if another program takes it). */
    char upstream[64], err[512];
    snprintf(upstream, sizeof upstream, "127.0.0.1:%d", web_port);
    nginx_pid = nginx_launch(workdir, upstream, dir, base, sizeof base, err, sizeof err);
    cr_assert_gt(nginx_pid, 0, "%s", err);
}

static void
stop_system(void) {
    if (nginx_pid > 0) proc_stop(nginx_pid, SIGQUIT, 5000);
    if (web_pid > 0) proc_stop(web_pid, SIGTERM, 5000);
    if (worker_pid > 0) proc_stop(worker_pid, SIGTERM, 10000);
    nginx_pid = web_pid = worker_pid = 0;
    if (pages) page_server_stop(pages);
    pages = NULL;
    if (db_name[0]) testdb_drop(db_name);
    remove_workdir();
}

static json_t *
request_json(const char *method, const char *path, const char *body, long *status,
             struct http_response *keep) {
    char url[512];
    snprintf(url, sizeof url, "%s%s", base, path);
    struct http_response r;
    cr_assert_eq(http_request(method, url, body ? "application/json" : NULL, body, NULL, &r), 0,
                 "%s %s", method, url);
    *status = r.status;
    json_t *v = json_loads(r.body.data, 0, NULL);
    cr_assert_not_null(v, "%s %s: not JSON (%ld): %s", method, path, r.status, r.body.data);
    if (keep) *keep = r;
    else http_response_free(&r);
    return v;
}

Test(nginx, e2e_submit_and_poll_through_nginx, .init = start_system, .fini = stop_system) {
    char page[256], body[512];
    snprintf(page, sizeof page, "http://127.0.0.1:%d/many.html", page_server_port(pages));
    snprintf(body, sizeof body, "{\"url\": \"%s\"}", page);
    long status;
    struct http_response r;
    json_t *job = request_json("POST", "/api/v1/jobs", body, &status, &r);
    cr_assert_eq(status, 202, "%s", r.body.data);
    char loc[256];
    cr_assert_eq(http_header(&r, "Location", loc, sizeof loc), 0);
    http_response_free(&r);
    const char *id = json_string_value(json_object_get(job, "id"));
    cr_assert_not_null(id);

    /* Poll through nginx, as a client would. */
    const char *st = NULL;
    json_t *cur = NULL;
    for (int i = 0; i < 200; i++) {
        json_decref(cur);
        cur = request_json("GET", loc, NULL, &status, NULL);
        cr_assert_eq(status, 200);
        st = json_string_value(json_object_get(cur, "status"));
        if (!strcmp(st, "finished") || !strcmp(st, "failed")) break;
        usleep(100 * 1000);
    }
    cr_assert_str_eq(st, "finished", "%s", json_dumps(cur, 0));
    json_decref(cur);

    char path[256];
    snprintf(path, sizeof path, "/api/v1/jobs/%s/result?top=3", id);
    json_t *res = request_json("GET", path, NULL, &status, NULL);
    cr_assert_eq(status, 200);
    cr_assert_eq(json_integer_value(json_object_get(res, "total_words")), 303);
    cr_assert_str_eq(
        json_string_value(json_object_get(json_array_get(json_object_get(res, "top"), 0), "word")),
        "zebra");
    json_decref(res);

    /* The same answer, compressed by nginx when the client accepts gzip. */
    char url[512], enc[64], vary[128];
    snprintf(url, sizeof url, "%s%s", base, path);
    cr_assert_eq(http_request("GET", url, NULL, NULL, "Accept-Encoding: gzip", &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(http_header(&r, "Content-Encoding", enc, sizeof enc), 0, "not compressed: %s",
                 r.headers.data);
    cr_assert_str_eq(enc, "gzip");
    cr_assert_eq(http_header(&r, "Vary", vary, sizeof vary), 0);
    cr_assert_eq((unsigned char)r.body.data[0], 0x1f, "not a gzip stream");
    http_response_free(&r);

    /* The original app's routes pass through too. */
    snprintf(url, sizeof url, "%s/start", base);
    cr_assert_eq(http_request("POST", url, "application/json", body, NULL, &r), 0);
    cr_assert_eq(r.status, 200, "POST /start through nginx: %ld %s", r.status, r.body.data);
    http_response_free(&r);
    json_decref(job);

    /* A failed job's 502 is the web server's problem, passed through as it
     * is (nginx's own error pages are for a web server that is down). */
    snprintf(body, sizeof body, "{\"url\": \"http://127.0.0.1:%d/status/404\"}",
             page_server_port(pages));
    cr_assert_eq(http_request("POST", url, "application/json", body, NULL, &r), 0);
    cr_assert_eq(r.status, 200, "POST /start through nginx: %ld %s", r.status, r.body.data);
    char failed_id[40];
    snprintf(failed_id, sizeof failed_id, "%s", r.body.data);
    http_response_free(&r);
    snprintf(url, sizeof url, "%s/results/%s", base, failed_id);
    long fstatus = 202;
    json_t *p = NULL;
    for (int i = 0; i < 300 && fstatus == 202; i++) {
        if (i) usleep(100 * 1000);
        cr_assert_eq(http_request("GET", url, NULL, NULL, NULL, &r), 0);
        fstatus = r.status;
        if (fstatus != 202) p = json_loads(r.body.data, 0, NULL);
        http_response_free(&r);
    }
    const char *code = json_string_value(json_object_get(json_object_get(p, "error"), "code"));
    bool ours = code && !strcmp(code, "http_404");
    json_decref(p);
    cr_assert_eq(fstatus, 502);
    cr_assert(ours, "the web server's problem body, with the job's error");
}

Test(nginx, e2e_limits_static_files_and_errors, .init = start_system, .fini = stop_system) {
    /* A body over the limit is refused by nginx, as problem+json. */
    size_t n = 70 * 1024;
    char *big = xmalloc(n + 32);
    snprintf(big, n + 32, "{\"url\": \"http://example.com/%0*d\"}", (int)n, 0);
    char url[512], ct[128], hdr[128];
    snprintf(url, sizeof url, "%s/api/v1/jobs", base);
    struct http_response r;
    cr_assert_eq(http_request("POST", url, "application/json", big, NULL, &r), 0);
    free(big);
    cr_assert_eq(r.status, 413, "%ld %s", r.status, r.body.data);
    cr_assert_eq(http_header(&r, "Content-Type", ct, sizeof ct), 0);
    cr_assert(strstr(ct, "application/problem+json"), "%s", ct);
    json_t *p = json_loads(r.body.data, 0, NULL);
    cr_assert_not_null(p, "%s", r.body.data);
    cr_assert_eq(json_integer_value(json_object_get(p, "status")), 413);
    json_decref(p);
    http_response_free(&r);

    /* A file of the static folder comes from nginx (the web server does
     * not know this path), compressed and cacheable. */
    snprintf(url, sizeof url, "%s/probe.css", web_base);
    cr_assert_eq(http_request("GET", url, NULL, NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 404, "the web server serves /probe.css itself: pick another probe");
    http_response_free(&r);
    snprintf(url, sizeof url, "%s/probe.css", base);
    cr_assert_eq(http_request("GET", url, NULL, NULL, "Accept-Encoding: gzip", &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(http_header(&r, "Content-Encoding", hdr, sizeof hdr), 0, "%s", r.headers.data);
    cr_assert_str_eq(hdr, "gzip");
    cr_assert_eq(http_header(&r, "Cache-Control", hdr, sizeof hdr), 0, "%s", r.headers.data);
    cr_assert(strstr(hdr, "max-age=3600"), "%s", hdr);
    cr_assert_eq(http_header(&r, "X-Content-Type-Options", hdr, sizeof hdr), 0);
    http_response_free(&r);

    /* A path that is neither a file nor a route is the web server's 404. */
    long status;
    json_t *v = request_json("GET", "/api/v1/jobs/0192f3a1-7c2e-7abc-8def-0123456789ab", NULL,
                             &status, NULL);
    cr_assert_eq(status, 404);
    json_decref(v);
    v = request_json("GET", "/healthz", NULL, &status, NULL);
    cr_assert_eq(status, 200);
    json_decref(v);

    /* With the web server gone, nginx answers 503 problem+json. */
    int st = proc_stop(web_pid, SIGTERM, 5000);
    web_pid = 0;
    cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    snprintf(url, sizeof url, "%s/healthz", base);
    cr_assert_eq(http_request("GET", url, NULL, NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 503, "%ld %s", r.status, r.body.data);
    cr_assert_eq(http_header(&r, "Content-Type", ct, sizeof ct), 0);
    cr_assert(strstr(ct, "application/problem+json"), "%s", ct);
    cr_assert_eq(http_header(&r, "Retry-After", hdr, sizeof hdr), 0);
    p = json_loads(r.body.data, 0, NULL);
    cr_assert_eq(json_integer_value(json_object_get(p, "status")), 503, "%s", r.body.data);
    json_decref(p);
    http_response_free(&r);
}
