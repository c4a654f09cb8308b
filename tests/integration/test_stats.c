/* GET /api/v1/stats, GET /metrics and the static pages, from the real
 * wordcount-web against real Redis. The queue's state is built with the
 * queue's own operations (the same Lua scripts the workers run), so every
 * figure is known by construction; the worker registry is written by
 * hand, with one fresh, one stale and one long-dead entry. promtool (from
 * Debian's prometheus package) checks the live /metrics. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/queue.h"
#include "common/redis_uv.h"
#include "common/xalloc.h"
#include "tests/lib/http_client.h"
#include "tests/lib/proc.h"
#include "tests/lib/testenv.h"

static char workdir[128], prefix[96], web_log[256], base[64];
static int port;
static pid_t web_pid;
static uv_loop_t loop;
static redis_uv_t *redis;
static struct queue q;
static struct keys keys;
static redisContext *oracle;

static void
start_web(void) {
    snprintf(workdir, sizeof workdir, "/tmp/wc-stats-XXXXXX");
    cr_assert_not_null(mkdtemp(workdir));
    testenv_prefix(prefix, sizeof prefix);
    snprintf(web_log, sizeof web_log, "%s/web.log", workdir);
    char *env[] = {xasprintf("APP_ENV=testing"),
                   xasprintf("DATABASE_URL=%s", testenv_database_url()),
                   xasprintf("REDIS_URL=%s", testenv_redis_url()),
                   xasprintf("REDIS_KEY_PREFIX=%s", prefix), xasprintf("PORT=0"),
                   /* A worker is stale after three heartbeats: 90 s, so the
                    * fresh one of build() stays fresh however slow the test. */
                   xasprintf("HEARTBEAT_INTERVAL=30s"), xasprintf("JOB_RESCUE_AFTER=60s"),
                   xasprintf("STATIC_DIR=%s/web/static", testenv_srcdir()), NULL};
    char bin[4096];
    snprintf(bin, sizeof bin, "%s", testenv_bin("wordcount-web"));
    const char *argv[] = {bin, NULL};
    web_pid = proc_start(argv, (const char *const *)env, web_log);
    for (char **e = env; *e; e++) free(*e);
    cr_assert_gt(web_pid, 0);
    char line[8192];
    cr_assert(proc_wait_log(web_log, "msg=listening", 10000, line, sizeof line), "see %s", web_log);
    port = atoi(strstr(line, "port=") + 5);
    snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
}

static void
setup(void) {
    start_web();
    cr_assert_eq(uv_loop_init(&loop), 0);
    char err[256];
    keys_init(&keys, prefix);
    redis = redis_uv_new(&loop, testenv_redis_url(), NULL, "test", 5000, err, sizeof err);
    cr_assert_not_null(redis, "%s", err);
    for (int i = 0; i < 200 && !redis_uv_connected(redis); i++) uv_run(&loop, UV_RUN_ONCE);
    cr_assert(redis_uv_connected(redis));
    queue_init(&q, redis, &keys, 3600);
    const char *hp = strstr(testenv_redis_url(), "://") + 3;
    char host[64];
    int rport = 6379;
    sscanf(hp, "%63[^:]:%d", host, &rport);
    oracle = redisConnect(host, rport);
    cr_assert(oracle && !oracle->err);
}

static bool closed;

static void
teardown(void) {
    if (web_pid > 0) {
        int st = proc_stop(web_pid, SIGTERM, 5000);
        cr_expect(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "web exit %d; see %s", st,
                  web_log);
    }
    web_pid = 0;
    closed = false;
    redis_uv_close(redis, testenv_on_closed, &closed);
    testenv_run_until(&loop, &closed, 5000);
    cr_assert_eq(testenv_loop_close(&loop), 0);
    redisFree(oracle);
    if (getenv("KEEP_TMP") && !strcmp(getenv("KEEP_TMP"), "1")) return;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", workdir);
    if (system(cmd) != 0) cr_log_warn("could not remove %s", workdir);
}

TestSuite(stats, .init = setup, .fini = teardown, .timeout = 60);

/* --- the queue, driven synchronously --- */

static bool done;
static char ids[8][JOB_ID_LEN + 1];
static struct queue_entry entries[8];
static size_t nentries;
static long long value;

static void
wait_done(void) {
    cr_assert(testenv_run_until(&loop, &done, 5000), "no answer from redis");
    done = false;
}

static void
on_job(int status, const struct job *job, const char *errstr, void *arg) {
    cr_assert_eq(status, 0, "%s", errstr);
    cr_assert_not_null(job);
    memcpy(arg, job->id, JOB_ID_LEN + 1);
    done = true;
}

static void
on_done(int status, long long v, const char *errstr, void *arg) {
    (void)arg;
    cr_assert_eq(status, 0, "%s", errstr);
    value = v;
    done = true;
}

static void
on_take(int status, const struct queue_entry *e, size_t n, const char *errstr, void *arg) {
    (void)arg;
    cr_assert_eq(status, 0, "%s", errstr);
    cr_assert_leq(n, 8);
    memcpy(entries, e, n * sizeof *e);
    nentries = n;
    done = true;
}

static void
oracle_cmd(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(oracle, fmt, ap);
    va_end(ap);
    cr_assert(r && r->type != REDIS_REPLY_ERROR, "redis: %s", r ? r->str : oracle->errstr);
    freeReplyObject(r);
}

/* build makes: 6 submitted; 5 taken and started; 2 finished (latencies
 * 3 s and 40 s, by back-dating created_at, plus the moments the finishes
 * took: build_extra_ms at most, each), 1 failed (http_404), 1 retrying,
 * 1 still running; 1 queued. */
static long long build_extra_ms;

static void
build(void) {
    for (int i = 0; i < 6; i++) {
        char url[64];
        snprintf(url, sizeof url, "http://127.0.0.1:9/page-%d.html", i);
        cr_assert_eq(queue_submit(&q, url, NULL, on_job, ids[i]), 0);
        wait_done();
    }
    cr_assert_eq(queue_ensure_group(&q, on_done, NULL), 0);
    wait_done();
    cr_assert_eq(queue_take(&q, redis, "c1", 5, 100, on_take, NULL), 0);
    wait_done();
    cr_assert_eq(nentries, 5);
    static char started[5][JOB_ID_LEN + 1];
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(queue_start(&q, &entries[i], "c1", 5, on_job, started[i]), 0);
        wait_done();
    }
    int64_t now = clock_now_ms();
    oracle_cmd("HSET %sjob:%s created_at %lld", prefix, entries[0].job_id, (long long)(now - 3000));
    oracle_cmd("HSET %sjob:%s created_at %lld", prefix, entries[1].job_id,
               (long long)(now - 40000));
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(queue_finish(&q, &entries[i], "c1", on_done, NULL), 0);
        wait_done();
        cr_assert_eq(value, 1);
    }
    build_extra_ms = clock_now_ms() - now;
    cr_assert_eq(
        queue_fail(&q, &entries[2], "c1", "http_404", "the page answered 404", on_done, NULL), 0);
    wait_done();
    cr_assert_eq(
        queue_retry(&q, &entries[3], "c1", now + 3600000, "timeout", "too slow", on_done, NULL), 0);
    wait_done();

    /* Workers: fresh, stale (5 min silent), long dead (11 min: pruned). */
    oracle_cmd("HSET %sworkers fresh {\"host\":\"h1\",\"pid\":11,\"inflight\":3,\"processed\":7,"
               "\"failed\":2,\"retried\":1,\"rescued\":0,\"at\":%lld}",
               prefix, (long long)now);
    oracle_cmd("HSET %sworkers stale {\"host\":\"h2\",\"pid\":22,\"inflight\":1,\"processed\":4,"
               "\"failed\":0,\"retried\":0,\"rescued\":0,\"at\":%lld}",
               prefix, (long long)(now - 5 * 60000));
    oracle_cmd("HSET %sworkers dead {\"host\":\"h3\",\"pid\":33,\"inflight\":0,\"processed\":1,"
               "\"failed\":0,\"retried\":0,\"rescued\":0,\"at\":%lld}",
               prefix, (long long)(now - 11 * 60000));
}

static json_t *
get_json(const char *path) {
    char url[512];
    snprintf(url, sizeof url, "%s%s", base, path);
    struct http_response r;
    cr_assert_eq(http_request("GET", url, NULL, NULL, NULL, &r), 0, "GET %s", url);
    cr_assert_eq(r.status, 200, "GET %s: %ld %s", path, r.status, r.body.data);
    json_t *v = json_loads(r.body.data, 0, NULL);
    cr_assert_not_null(v, "not JSON: %s", r.body.data);
    http_response_free(&r);
    return v;
}

static long long
jint(json_t *o, const char *a, const char *b) {
    json_t *v = json_object_get(json_object_get(o, a), b);
    cr_assert(json_is_integer(v), "%s.%s is not an integer", a, b);
    return json_integer_value(v);
}

static double
jnum(json_t *o, const char *a, const char *b) {
    json_t *v = json_object_get(json_object_get(o, a), b);
    cr_assert(json_is_number(v), "%s.%s is not a number", a, b);
    return json_number_value(v);
}

Test(stats, counts_rates_latency_and_workers) {
    build();
    json_t *s = get_json("/api/v1/stats");
    cr_assert_eq(jint(s, "counts", "submitted"), 6);
    cr_assert_eq(jint(s, "counts", "started"), 5);
    cr_assert_eq(jint(s, "counts", "queued"), 1);
    cr_assert_eq(jint(s, "counts", "running"), 1);
    cr_assert_eq(jint(s, "counts", "retrying"), 1);
    cr_assert_eq(jint(s, "counts", "finished"), 2);
    cr_assert_eq(jint(s, "counts", "failed"), 1);
    cr_assert_eq(jint(s, "counts", "failed_set"), 1);
    cr_assert_eq(jint(s, "counts", "retried"), 1);
    cr_assert_eq(jint(s, "failed_by_reason", "http_404") + 0, 1);
    cr_assert_eq(json_object_size(json_object_get(s, "failed_by_reason")), 1);

    cr_assert_eq(jint(s, "rates", "finished"), 2);
    cr_assert_eq(jint(s, "rates", "failed"), 1);
    cr_assert_float_eq(jnum(s, "rates", "finished_per_s"), 2.0 / 60, 1e-9);

    /* 3 s lands in (2.5 s, 5 s], 40 s in (30 s, 60 s]: interpolated. */
    cr_assert_eq(jint(s, "latency_ms", "count"), 2);
    cr_assert_float_eq(jnum(s, "latency_ms", "p50"), 5000, 1e-6);
    cr_assert_float_eq(jnum(s, "latency_ms", "p95"), 57000, 1e-6);

    /* The series: 60 steps of 10 s over the default 10 minutes, with the
     * two finishes and the failure in it. */
    json_t *series = json_object_get(s, "series");
    cr_assert_eq(json_integer_value(json_object_get(series, "step_s")), 10);
    json_t *points = json_object_get(series, "points");
    cr_assert(json_array_size(points) >= 60 && json_array_size(points) <= 61, "%zu points",
              json_array_size(points));
    long long fin = 0, fail = 0;
    size_t i;
    json_t *p;
    json_array_foreach(points, i, p) {
        fin += json_integer_value(json_object_get(p, "finished"));
        fail += json_integer_value(json_object_get(p, "failed"));
    }
    cr_assert_eq(fin, 2);
    cr_assert_eq(fail, 1);

    json_t *w = json_object_get(s, "workers");
    cr_assert_eq(json_integer_value(json_object_get(w, "alive")), 1);
    cr_assert_eq(json_integer_value(json_object_get(w, "stale_after_ms")), 90000);
    json_t *list = json_object_get(w, "list");
    cr_assert_eq(json_array_size(list), 2, "the long-dead worker is pruned");
    int seen = 0;
    json_array_foreach(list, i, p) {
        const char *id = json_string_value(json_object_get(p, "id"));
        bool stale = json_is_true(json_object_get(p, "stale"));
        if (!strcmp(id, "fresh")) {
            seen |= 1;
            cr_assert_not(stale);
            cr_assert_str_eq(json_string_value(json_object_get(p, "host")), "h1");
            cr_assert_eq(json_integer_value(json_object_get(p, "pid")), 11);
            cr_assert_eq(json_integer_value(json_object_get(p, "inflight")), 3);
            cr_assert_eq(json_integer_value(json_object_get(p, "processed")), 7);
            cr_assert_eq(json_integer_value(json_object_get(p, "failed")), 2);
        } else if (!strcmp(id, "stale")) {
            seen |= 2;
            cr_assert(stale);
            cr_assert_geq(json_integer_value(json_object_get(p, "heartbeat_age_ms")), 5 * 60000);
        }
    }
    cr_assert_eq(seen, 3);
    json_decref(s);
    redisReply *r = redisCommand(oracle, "HEXISTS %sworkers dead", prefix);
    cr_assert(r && r->type == REDIS_REPLY_INTEGER && r->integer == 0, "dead worker not pruned");
    freeReplyObject(r);

    /* A bad window is refused. */
    char url[256];
    snprintf(url, sizeof url, "%s/api/v1/stats?window=5", base);
    struct http_response bad;
    cr_assert_eq(http_request("GET", url, NULL, NULL, NULL, &bad), 0);
    cr_assert_eq(bad.status, 400);
    http_response_free(&bad);
}

/* --- /metrics --- */

static char *
get_metrics(void) {
    char url[256];
    snprintf(url, sizeof url, "%s/metrics", base);
    struct http_response r;
    cr_assert_eq(http_request("GET", url, NULL, NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    char ct[128];
    cr_assert_eq(http_header(&r, "Content-Type", ct, sizeof ct), 0);
    cr_assert(strstr(ct, "text/plain") && strstr(ct, "version=0.0.4"), "%s", ct);
    char *body = xstrdup(r.body.data);
    http_response_free(&r);
    return body;
}

/* has_line: the exposition holds exactly this sample line. */
static bool
has_line(const char *text, const char *line) {
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p += n)
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0')) return true;
    return false;
}

Test(stats, metrics_are_valid_prometheus_with_the_same_figures) {
    build();
    /* Three probes, then wait (bounded) for the web's flush to show them. */
    char url[256];
    snprintf(url, sizeof url, "%s/healthz", base);
    for (int i = 0; i < 3; i++) {
        struct http_response r;
        cr_assert_eq(http_request("GET", url, NULL, NULL, NULL, &r), 0);
        http_response_free(&r);
    }
    char *m = NULL;
    const char *want =
        "wordcount_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 3";
    for (int i = 0; i < 100; i++) {
        free(m);
        m = get_metrics();
        if (has_line(m, want)) break;
        usleep(100 * 1000);
    }
    cr_assert(has_line(m, want), "no request counts in:\n%s", m);

    const char *lines[] = {
        "wordcount_jobs_submitted_total 6",
        "wordcount_jobs_started_total 5",
        "wordcount_jobs_finished_total 2",
        "wordcount_jobs_retried_total 1",
        "wordcount_jobs_failed_total{reason=\"http_404\"} 1",
        "wordcount_queue_depth 1",
        "wordcount_jobs_running 1",
        "wordcount_jobs_retrying 1",
        "wordcount_failed_set_size 1",
        "wordcount_workers_alive 1",
        "wordcount_workers_registered 2",
        "wordcount_worker_jobs_inflight 3",
        "wordcount_job_latency_seconds_bucket{le=\"2.5\"} 0",
        "wordcount_job_latency_seconds_bucket{le=\"5\"} 1",
        "wordcount_job_latency_seconds_bucket{le=\"30\"} 1",
        "wordcount_job_latency_seconds_bucket{le=\"60\"} 2",
        "wordcount_job_latency_seconds_bucket{le=\"+Inf\"} 2",
        "wordcount_job_latency_seconds_count 2",
        "# TYPE wordcount_job_latency_seconds histogram",
        "# TYPE wordcount_http_request_duration_seconds histogram",
        "wordcount_http_request_duration_seconds_count{method=\"GET\",route=\"/healthz\"} 3",
    };
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++)
        cr_expect(has_line(m, lines[i]), "missing line: %s", lines[i]);
    /* The latency sum is 43 s plus the moments the two finishes took. */
    const char *sum = strstr(m, "\nwordcount_job_latency_seconds_sum ");
    cr_assert_not_null(sum);
    double v = strtod(sum + strlen("\nwordcount_job_latency_seconds_sum "), NULL);
    cr_assert(v >= 43.0 && v <= 43.0 + 2 * (build_extra_ms + 1) / 1000.0, "latency sum %f", v);

    /* promtool, the Prometheus project's own checker, on the live output. */
    char path[256], cmd[1024];
    snprintf(path, sizeof path, "%s/metrics.txt", workdir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(m, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "promtool check metrics < '%s' > '%s.out' 2>&1", path, path);
    int rc = system(cmd);
    char out[4096] = "";
    snprintf(cmd, sizeof cmd, "%s.out", path);
    FILE *o = fopen(cmd, "r");
    if (o) {
        size_t n = fread(out, 1, sizeof out - 1, o);
        out[n] = '\0';
        fclose(o);
    }
    cr_assert(
        rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0,
        "promtool check metrics failed (exit %d; is Debian's prometheus package installed?):\n%s",
        WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, out);
    free(m);
}

/* --- static files over the wire --- */

/* raw sends request bytes as they are (no client-side path clean-up) and
 * returns the status code; the head is copied into head. */
static int
raw(const char *request, char *head, size_t n) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    size_t len = strlen(request);
    cr_assert_eq(write(fd, request, len), (ssize_t)len);
    char buf[65536];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof buf - 1 && (r = read(fd, buf + got, sizeof buf - 1 - got)) > 0)
        got += (size_t)r;
    close(fd);
    buf[got] = '\0';
    char *end = strstr(buf, "\r\n\r\n");
    snprintf(head, n, "%.*s", end ? (int)(end - buf) : (int)got, buf);
    int status = 0;
    sscanf(buf, "HTTP/1.%*d %d", &status);
    return status;
}

Test(stats, pages_are_served_with_validators_and_no_traversal) {
    char url[256], etag[128], lm[128], ct[128], hdr[256];
    snprintf(url, sizeof url, "%s/", base);
    struct http_response r;
    cr_assert_eq(http_request("GET", url, NULL, NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(http_header(&r, "Content-Type", ct, sizeof ct), 0);
    cr_assert_str_eq(ct, "text/html; charset=utf-8");
    cr_assert_eq(http_header(&r, "ETag", etag, sizeof etag), 0);
    cr_assert_eq(http_header(&r, "Last-Modified", lm, sizeof lm), 0);
    cr_assert_eq(http_header(&r, "Cache-Control", hdr, sizeof hdr), 0);
    cr_assert_str_eq(hdr, "no-cache");
    cr_assert_eq(http_header(&r, "Content-Security-Policy", hdr, sizeof hdr), 0);
    cr_assert(strstr(r.body.data, "<form id=\"submit-form\""), "the submit page");
    size_t len = r.body.len;
    http_response_free(&r);

    /* Revalidation: by ETag, by date, and a changed tag gets the body. */
    snprintf(hdr, sizeof hdr, "If-None-Match: %s", etag);
    cr_assert_eq(http_request("GET", url, NULL, NULL, hdr, &r), 0);
    cr_assert_eq(r.status, 304);
    cr_assert_eq(r.body.len, 0);
    http_response_free(&r);
    snprintf(hdr, sizeof hdr, "If-Modified-Since: %s", lm);
    cr_assert_eq(http_request("GET", url, NULL, NULL, hdr, &r), 0);
    cr_assert_eq(r.status, 304);
    http_response_free(&r);
    cr_assert_eq(http_request("GET", url, NULL, NULL, "If-None-Match: \"other\"", &r), 0);
    cr_assert_eq(r.status, 200);
    http_response_free(&r);

    /* HEAD: the GET's headers, no body. */
    cr_assert_eq(http_request("HEAD", url, NULL, NULL, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(http_header(&r, "Content-Length", hdr, sizeof hdr), 0);
    cr_assert_eq((size_t)atol(hdr), len);
    cr_assert_eq(r.body.len, 0);
    http_response_free(&r);

    static const struct {
        const char *path, *type;
    } files[] = {
        {"/dashboard", "text/html; charset=utf-8"},
        {"/static/app.css", "text/css; charset=utf-8"},
        {"/static/submit.js", "text/javascript; charset=utf-8"},
        {"/static/favicon.svg", "image/svg+xml"},
    };
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(url, sizeof url, "%s%s", base, files[i].path);
        cr_assert_eq(http_request("GET", url, NULL, NULL, NULL, &r), 0);
        cr_assert_eq(r.status, 200, "%s", files[i].path);
        cr_assert_eq(http_header(&r, "Content-Type", ct, sizeof ct), 0);
        cr_assert_str_eq(ct, files[i].type, "%s", files[i].path);
        http_response_free(&r);
    }

    /* Sent raw, so no client cleans the path up first. */
    static const char *evil[] = {
        "/static/../README.md",
        "/static/..%2fREADME.md",
        "/static/%2e%2e%2fREADME.md",
        "/static/..",
        "/static/.hidden",
        "/static/%2e%2e",
        "/static/..%5c..%5cREADME.md",
        "/static/app.css%00.txt",
        "/static/nothere.css",
        "/static//etc/passwd",
    };
    char head[8192], req[512];
    for (size_t i = 0; i < sizeof evil / sizeof *evil; i++) {
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                 evil[i]);
        int st = raw(req, head, sizeof head);
        cr_expect(st == 404, "%s -> %d\n%s", evil[i], st, head);
    }
    snprintf(req, sizeof req,
             "POST /static/app.css HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: "
             "close\r\n\r\n");
    cr_assert_eq(raw(req, head, sizeof head), 405, "%s", head);
}
