/* The admin CLI `wordcount` against real Redis and Postgres (tests/run.sh),
 * with the real worker and a loopback page server where jobs must run:
 * every command, its exit codes, its --json output and its bad input. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/xalloc.h"
#include "tests/lib/nginx.h"
#include "tests/lib/page_server.h"
#include "tests/lib/proc.h"
#include "tests/lib/run.h"
#include "tests/lib/testdb.h"
#include "tests/lib/testenv.h"

TestSuite(cli, .timeout = 120);

static char workdir[128], db_url[512], db_name[128], prefix[96], worker_log[256];
static char *env[16];
static page_server_t *pages;
static pid_t worker_pid;

struct out {
    int rc;
    struct buf out, err;
};

static void
out_free(struct out *o) {
    buf_free(&o->out);
    buf_free(&o->err);
}

/* cli runs bin/wordcount with args (NULL-terminated) in the test's environment. */
static struct out
cli_in(const char *stdin_path, const char *const *extra_env, ...) {
    const char *all[32];
    int k = 0;
    for (int i = 0; env[i]; i++) all[k++] = env[i];
    for (int i = 0; extra_env && extra_env[i] && k < 31; i++) all[k++] = extra_env[i];
    all[k] = NULL;
    struct out o;
    buf_init(&o.out);
    buf_init(&o.err);
    va_list ap;
    va_start(ap, extra_env);
    o.rc = run_program("wordcount", ap, all, stdin_path, 60000, &o.out, &o.err);
    va_end(ap);
    return o;
}
#define cli(...) cli_in(NULL, NULL, __VA_ARGS__, NULL)

static json_t *
json_of(struct out *o) {
    json_t *v = json_loads(o->out.data, 0, NULL);
    cr_assert_not_null(v, "not one JSON document: %s (stderr %s)", o->out.data, o->err.data);
    return v;
}

static long long
jint(json_t *v, const char *key) {
    json_t *x = json_object_get(v, key);
    cr_assert(json_is_integer(x), "%s missing in %s", key, json_dumps(v, 0));
    return json_integer_value(x);
}

static void
setup(void) {
    snprintf(workdir, sizeof workdir, "/tmp/wc-cli-XXXXXX");
    cr_assert_not_null(mkdtemp(workdir));
    char dir[256], path[320];
    snprintf(dir, sizeof dir, "%s/pages", workdir);
    cr_assert_eq(mkdir(dir, 0755), 0);
    snprintf(path, sizeof path, "%s/fox.html", dir);
    testenv_write_file(path, "<html><body><p>The quick brown fox jumps over the lazy dog. "
                             "The fox, the fox! Brown dog.</p></body></html>\n");
    pages = page_server_start(dir);
    cr_assert_not_null(pages);
    testdb_create(db_url, sizeof db_url, db_name, sizeof db_name);
    testenv_prefix(prefix, sizeof prefix);
    snprintf(worker_log, sizeof worker_log, "%s/worker.log", workdir);
    int n = 0;
    env[n++] = xasprintf("APP_ENV=testing");
    env[n++] = xasprintf("DATABASE_URL=%s", db_url);
    env[n++] = xasprintf("REDIS_URL=%s", testenv_redis_url());
    env[n++] = xasprintf("REDIS_KEY_PREFIX=%s", prefix);
    env[n++] = xasprintf("FETCH_ALLOW_PRIVATE=true");
    env[n++] = xasprintf("WORKER_PROCESSES=1");
    env[n++] = xasprintf("WORKER_CONCURRENCY=4");
    env[n++] = xasprintf("WORKER_GRACE=3s");
    env[n++] = xasprintf("HEARTBEAT_INTERVAL=500ms");
    env[n++] = xasprintf("JOB_RESCUE_AFTER=2s");
    env[n++] = xasprintf("ENV_FILE=/dev/null");
    env[n] = NULL;
    char migrate[4096], mlog[256];
    snprintf(migrate, sizeof migrate, "%s", testenv_bin("wordcount-migrate"));
    snprintf(mlog, sizeof mlog, "%s/migrate.log", workdir);
    const char *margv[] = {migrate, "upgrade", NULL};
    int st = proc_wait_exit(proc_start(margv, (const char *const *)env, mlog), 30000);
    cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "migrate failed, see %s", mlog);
}

static void
start_worker(void) {
    char worker[4096];
    snprintf(worker, sizeof worker, "%s", testenv_bin("wordcount-worker"));
    const char *argv[] = {worker, NULL};
    worker_pid = proc_start(argv, (const char *const *)env, worker_log);
    cr_assert(proc_wait_log(worker_log, "msg=\"worker ready\"", 10000, NULL, 0), "see %s",
              worker_log);
}

static void
teardown(void) {
    if (worker_pid > 0) proc_stop(worker_pid, SIGTERM, 10000);
    worker_pid = 0;
    if (pages) page_server_stop(pages);
    pages = NULL;
    if (db_name[0]) testdb_drop(db_name);
    for (int i = 0; env[i]; i++) free(env[i]);
    env[0] = NULL;
    if (!(getenv("KEEP_TMP") && !strcmp(getenv("KEEP_TMP"), "1"))) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", workdir);
        if (system(cmd) != 0) cr_log_warn("could not remove %s", workdir);
    }
}

/* info returns `wordcount info --json`. */
static json_t *
info(void) {
    struct out o = cli("info", "--json");
    cr_assert_eq(o.rc, 0, "info: %d %s", o.rc, o.err.data);
    json_t *v = json_of(&o);
    out_free(&o);
    return v;
}

Test(cli, help_and_usage_errors, .init = setup, .fini = teardown) {
    struct out o = cli("--help");
    cr_assert_eq(o.rc, 0);
    const char *cmds[] = {"info", "requeue", "cancel", "purge", "enqueue", "result"};
    for (int i = 0; i < 6; i++) {
        cr_assert(strstr(o.out.data, cmds[i]), "--help lacks %s", cmds[i]);
        struct out h = cli(cmds[i], "--help");
        char want[64];
        snprintf(want, sizeof want, "usage: wordcount %s", cmds[i]);
        cr_assert_eq(h.rc, 0, "%s --help: %d", cmds[i], h.rc);
        cr_assert(strstr(h.out.data, want) && strstr(h.out.data, "exit codes"), "%s", h.out.data);
        out_free(&h);
    }
    out_free(&o);
    /* Help needs no valid configuration. */
    const char *bad_env[] = {"LOG_LEVEL=loud", NULL};
    o = cli_in(NULL, bad_env, "info", "--help", NULL);
    cr_assert_eq(o.rc, 0);
    out_free(&o);

    struct {
        const char *args[4];
        const char *msg;
    } cases[] = {
        {{NULL}, "no command"},
        {{"frobnicate"}, "unknown command"},
        {{"--timeout", "0", "info"}, "--timeout"},
        {{"--bogus"}, "unknown option"},
        {{"info", "extra"}, "unexpected argument"},
        {{"info", "--verbose"}, "unknown option"},
        {{"requeue"}, "either an ID or --all-failed"},
        {{"requeue", "--all-failed", "0192f3a1-7c2e-7abc-8def-0123456789ab"}, "either"},
        {{"requeue", "42"}, "not a job id"},
        {{"cancel"}, "job's ID"},
        {{"cancel", "0192f3a1-7c2e-7abc-8def-0123456789ab'"}, "not a job id"},
        {{"purge"}, "--failed or --finished"},
        {{"purge", "--all"}, "unknown option"},
        {{"enqueue"}, "FILE"},
        {{"result"}, "job ID or a URL"},
        {{"result", "ftp://a.example/"}, "neither a job ID nor a URL"},
        {{"result", "--top", "0", "http://a.example/"}, "--top"},
        {{"result", "--top", "101", "http://a.example/"}, "--top"},
        {{"result", "--top"}, "needs a value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char **a = cases[i].args;
        o = cli_in(NULL, NULL, a[0], a[1], a[2], a[3], NULL);
        cr_assert_eq(o.rc, 2, "%s %s: exit %d", a[0] ? a[0] : "", a[1] ? a[1] : "", o.rc);
        cr_assert(strstr(o.err.data, cases[i].msg), "%s: %s", a[0] ? a[0] : "", o.err.data);
        cr_assert_eq(o.out.len, 0, "usage errors print nothing on stdout: %s", o.out.data);
        out_free(&o);
    }
}

Test(cli, configuration_and_unreachable_servers, .init = setup, .fini = teardown) {
    const char *bad_level[] = {"LOG_LEVEL=loud", NULL};
    struct out o = cli_in(NULL, bad_level, "info", NULL);
    cr_assert_eq(o.rc, 78);
    cr_assert(strstr(o.err.data, "LOG_LEVEL"), "%s", o.err.data);
    out_free(&o);

    char redis[64], pg[128];
    int port = nginx_free_port(); /* nothing listens there */
    snprintf(redis, sizeof redis, "REDIS_URL=redis://127.0.0.1:%d/0", port);
    snprintf(pg, sizeof pg, "DATABASE_URL=postgresql://nobody@127.0.0.1:%d/none", port);
    const char *down[] = {redis, pg, NULL};
    o = cli_in(NULL, down, "--timeout", "1", "info", NULL);
    cr_assert_eq(o.rc, 69, "%s", o.err.data);
    cr_assert(strstr(o.err.data, "cannot reach Redis"), "%s", o.err.data);
    out_free(&o);
    o = cli_in(NULL, down, "--timeout", "1", "result", "http://a.example/", NULL);
    cr_assert_eq(o.rc, 69, "%s", o.err.data);
    cr_assert(strstr(o.err.data, "cannot reach Postgres"), "%s", o.err.data);
    out_free(&o);

    o = cli("enqueue", "/nonexistent/urls.txt");
    cr_assert_eq(o.rc, 66);
    cr_assert(strstr(o.err.data, "cannot open"), "%s", o.err.data);
    out_free(&o);
}

Test(cli, enqueue_info_cancel_without_workers, .init = setup, .fini = teardown) {
    char list[256];
    snprintf(list, sizeof list, "%s/urls.txt", workdir);
    testenv_write_file(
        list, "# three good, two bad\nhttp://a.example/1\n\nnot a url\nhttps://b.example/2\r\n"
              "ftp://c.example/\nhttp://c.example/3\n");
    struct out o = cli_in(NULL, NULL, "enqueue", "--no-wait", list, NULL);
    cr_assert_eq(o.rc, 1, "some lines were rejected: %d %s", o.rc, o.err.data);
    cr_assert(strstr(o.err.data, "line 4 rejected") && strstr(o.err.data, "line 6 rejected"), "%s",
              o.err.data);
    cr_assert(strstr(o.err.data, "3 submitted, 2 rejected"), "%s", o.err.data);
    /* stdout: "ID URL" per job, in file order. */
    char id1[40];
    cr_assert_eq(sscanf(o.out.data, "%36s http://a.example/1\n", id1), 1, "%s", o.out.data);
    cr_assert(strstr(o.out.data, " https://b.example/2\n") >
              strstr(o.out.data, " http://a.example/1\n"));
    out_free(&o);

    /* --json: one object per line, then the summary; standard input works. */
    o = cli_in(list, NULL, "enqueue", "--json", "--no-wait", "-", NULL);
    cr_assert_eq(o.rc, 1);
    int lines = 0, jobs = 0, errors = 0;
    json_t *last = NULL;
    for (char *l = strtok(o.out.data, "\n"); l; l = strtok(NULL, "\n")) {
        json_decref(last);
        last = json_loads(l, 0, NULL);
        cr_assert_not_null(last, "not JSON: %s", l);
        lines++;
        jobs += json_object_get(last, "id") != NULL;
        errors += json_object_get(last, "error") != NULL;
    }
    cr_assert_eq(lines, 6);
    cr_assert_eq(jobs, 3);
    cr_assert_eq(errors, 2);
    cr_assert_eq(jint(last, "submitted"), 3);
    cr_assert_eq(jint(last, "rejected"), 2);
    json_decref(last);
    out_free(&o);

    /* A file of only good lines exits 0. */
    testenv_write_file(list, "http://d.example/4\n");
    o = cli_in(NULL, NULL, "enqueue", "--no-wait", list, NULL);
    cr_assert_eq(o.rc, 0, "%s", o.err.data);
    out_free(&o);

    json_t *v = info();
    cr_assert_eq(jint(v, "queued"), 7);
    cr_assert_eq(jint(v, "running"), 0);
    cr_assert_eq(jint(v, "failed"), 0);
    cr_assert_eq(json_array_size(json_object_get(v, "workers")), 0);
    cr_assert_eq(jint(json_object_get(v, "counters"), "submitted"), 7);
    json_decref(v);

    /* Cancel a queued job; then it is canceled, and cannot be again. */
    o = cli("cancel", id1);
    cr_assert_eq(o.rc, 0, "%s", o.err.data);
    cr_assert(strstr(o.out.data, "canceled"), "%s", o.out.data);
    out_free(&o);
    o = cli("cancel", "--json", id1);
    cr_assert_eq(o.rc, 1);
    v = json_of(&o);
    cr_assert(json_is_false(json_object_get(v, "canceled")));
    cr_assert_str_eq(json_string_value(json_object_get(v, "status")), "canceled");
    json_decref(v);
    out_free(&o);
    o = cli("cancel", "--json", "0192f3a1-7c2e-7abc-8def-0123456789ab");
    cr_assert_eq(o.rc, 3);
    v = json_of(&o);
    cr_assert(json_is_null(json_object_get(v, "status")));
    json_decref(v);
    out_free(&o);
    v = info();
    cr_assert_eq(jint(v, "queued"), 6);
    json_decref(v);

    /* requeue applies to failed jobs only. */
    o = cli("requeue", id1);
    cr_assert_eq(o.rc, 1);
    cr_assert(strstr(o.err.data, "is canceled, not failed"), "%s", o.err.data);
    out_free(&o);
    o = cli("requeue", "--json", "0192f3a1-7c2e-7abc-8def-0123456789ab");
    cr_assert_eq(o.rc, 3);
    out_free(&o);

    /* A worker that stopped sending heartbeats a minute ago shows as stale
     * (after ten minutes of silence it would be dropped from the registry). */
    char cmd[512];
    snprintf(
        cmd, sizeof cmd,
        "redis-cli -u '%s' HSET '%sworkers' gone-1 '{\"host\":\"gone\",\"pid\":1,\"inflight\":0,"
        "\"processed\":9,\"failed\":0,\"at\":%lld}' >/dev/null",
        testenv_redis_url(), prefix, (long long)clock_now_ms() - 60000);
    cr_assert_eq(system(cmd), 0);
    v = info();
    json_t *w = json_array_get(json_object_get(v, "workers"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(w, "name")), "gone-1");
    cr_assert(json_is_true(json_object_get(w, "stale")));
    cr_assert_eq(jint(w, "processed"), 9);
    json_decref(v);
    o = cli("info");
    cr_assert_eq(o.rc, 0);
    cr_assert(strstr(o.out.data, "(stale)") && strstr(o.out.data, "queued     6"), "%s",
              o.out.data);
    out_free(&o);
}

/* wait_counts polls info until finished and failed counters reach the given values. */
static void
wait_counts(long long finished, long long failed) {
    for (int i = 0; i < 200; i++) {
        json_t *v = info();
        json_t *c = json_object_get(v, "counters");
        long long fi = json_integer_value(json_object_get(c, "finished"));
        long long fa = json_integer_value(json_object_get(c, "failed"));
        json_decref(v);
        if (fi >= finished && fa >= failed) return;
        usleep(100 * 1000);
    }
    cr_assert_fail("jobs did not end; see %s", worker_log);
}

/* expect_lines finds a line matching each extended regex of patterns, in
 * order (other lines may come between). */
static void
expect_lines(const char *text, const char *const *patterns, size_t n) {
    const char *p = text;
    for (size_t i = 0; i < n; i++) {
        regex_t re;
        cr_assert_eq(regcomp(&re, patterns[i], REG_EXTENDED | REG_NOSUB), 0, "%s", patterns[i]);
        bool found = false;
        while (*p && !found) {
            size_t len = strcspn(p, "\n");
            char line[512];
            snprintf(line, sizeof line, "%.*s", (int)len, p);
            found = regexec(&re, line, 0, NULL, 0) == 0;
            p += len + (p[len] == '\n');
        }
        regfree(&re);
        cr_assert(found, "no line /%s/ (in this order) in:\n%s", patterns[i], text);
    }
}

Test(cli, result_requeue_and_purge_with_a_worker, .init = setup, .fini = teardown) {
    start_worker();
    char list[256], content[512];
    int port = page_server_port(pages);
    snprintf(list, sizeof list, "%s/urls.txt", workdir);
    snprintf(content, sizeof content,
             "http://127.0.0.1:%d/fox.html\nhttp://127.0.0.1:%d/status/404\n", port, port);
    testenv_write_file(list, content);
    struct out o = cli("enqueue", list);
    cr_assert_eq(o.rc, 0, "%s", o.err.data);
    /* One batch, followed until both jobs ended. */
    cr_assert(strstr(o.err.data, ": 2/2 done (1 finished, 1 failed, 0 canceled)\n"), "%s",
              o.err.data);
    char ok_id[40], bad_id[40];
    cr_assert_eq(sscanf(o.out.data, "%36s %*s\n%36s", ok_id, bad_id), 2, "%s", o.out.data);
    out_free(&o);
    wait_counts(1, 1);

    /* The worker's first heartbeat comes HEARTBEAT_INTERVAL after it starts. */
    json_t *v = NULL;
    for (int i = 0; i < 50; i++) {
        json_decref(v);
        v = info();
        if (json_array_size(json_object_get(v, "workers")) > 0) break;
        usleep(100 * 1000);
    }
    cr_assert_eq(jint(v, "failed"), 1);
    cr_assert_eq(jint(v, "queued"), 0);
    cr_assert_eq(jint(json_object_get(v, "failed_by_reason"), "http_404"), 1);
    json_t *w = json_array_get(json_object_get(v, "workers"), 0);
    cr_assert_not_null(w, "no worker listed");
    cr_assert(json_is_false(json_object_get(w, "stale")));
    cr_assert_lt(jint(w, "heartbeat_age_ms"), 3000);
    /* --json keeps the raw counters and adds the figures. */
    cr_assert(json_is_integer(json_object_get(json_object_get(v, "counters"), "lat_sum")));
    cr_assert_eq(jint(json_object_get(v, "jobs"), "finished"), 1);
    cr_assert_eq(jint(json_object_get(v, "latency_ms"), "count"), 1);
    cr_assert(json_is_number(json_object_get(json_object_get(v, "latency_ms"), "p95")));
    cr_assert(json_is_number(json_object_get(json_object_get(v, "rates"), "finished_per_s")));
    json_decref(v);

    /* What an operator reads: counts, rates, percentiles with units,
     * workers; never the histograms' storage. */
    o = cli("info");
    cr_assert_eq(o.rc, 0, "%s", o.err.data);
    static const char *const shape[] = {
        "^queue [^ ]+$",
        "^  queued +0$",
        "^  running +0$",
        "^  retrying +0$",
        "^  failed +1$",
        "^failed by reason$",
        "^  http_404 +1$",
        "^jobs since the start$",
        "^  submitted +2 +started +2 +finished +1 +failed +1$",
        "^  canceled +0 +retried +0 +rescued +0 +requeued +0$",
        "^rates over the last minute$",
        "^  finished [0-9]+ \\([0-9]+\\.[0-9]{2}/s\\) +failed [0-9]+ \\([0-9]+\\.[0-9]{2}/s\\)$",
        "^times since the start +p50 +p95 +jobs$",
        "^  latency \\(submit to finished\\) +[0-9.]+ m?s +[0-9.]+ m?s +1$",
        "^  duration \\(start to finished\\) +[0-9.]+ m?s +[0-9.]+ m?s +1$",
        "^  fetch +[0-9.]+ m?s +[0-9.]+ m?s +[12]$",
        "^  page size +[0-9.]+ (B|KiB) +[0-9.]+ (B|KiB) +[12]$",
        "^workers: [0-9]+ \\([0-9]+ stale\\)$",
        "^  name +pid +in flight +processed +failed +heartbeat$",
        "^  [^ ]+ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +[0-9a-z]+ ago( \\(stale\\))?$",
    };
    expect_lines(o.out.data, shape, sizeof shape / sizeof *shape);
    static const char *const raw[] = {"lat:", "lat_sum", "dur:", "fetch:", "bytes:", "_sum"};
    for (size_t i = 0; i < sizeof raw / sizeof *raw; i++)
        cr_assert_null(strstr(o.out.data, raw[i]), "raw field %s shown:\n%s", raw[i], o.out.data);
    out_free(&o);

    /* result, by URL and by id, human and JSON. */
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/fox.html", port);
    o = cli("result", "--json", "--top", "2", url);
    cr_assert_eq(o.rc, 0, "%s", o.err.data);
    v = json_of(&o);
    cr_assert_str_eq(json_string_value(json_object_get(v, "id")), ok_id);
    cr_assert_eq(jint(v, "total_words"), 15);
    json_t *top = json_object_get(v, "top");
    cr_assert_eq(json_array_size(top), 2);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(top, 0), "word")), "fox");
    cr_assert_eq(jint(json_array_get(top, 0), "count"), 3);
    json_decref(v);
    out_free(&o);
    /* The page in another spelling is the same page (normalised). */
    snprintf(url, sizeof url, "HTTP://127.0.0.1:%d/a/../fox.html#top", port);
    o = cli("result", "--json", url);
    cr_assert_eq(o.rc, 0, "%s", o.err.data);
    v = json_of(&o);
    cr_assert_str_eq(json_string_value(json_object_get(v, "id")), ok_id);
    json_decref(v);
    out_free(&o);
    o = cli("result", ok_id);
    cr_assert_eq(o.rc, 0);
    cr_assert(strstr(o.out.data, "fox") && strstr(o.out.data, "15 words"), "%s", o.out.data);
    out_free(&o);
    o = cli("result", bad_id);
    cr_assert_eq(o.rc, 1);
    cr_assert(strstr(o.err.data, "failed"), "%s", o.err.data);
    out_free(&o);
    o = cli("result", "--json", "http://127.0.0.1:1/never-submitted");
    cr_assert_eq(o.rc, 3);
    v = json_of(&o);
    cr_assert(json_is_null(json_object_get(v, "result")));
    json_decref(v);
    out_free(&o);

    /* requeue the failed job: it runs (and fails) again. */
    o = cli("requeue", "--json", bad_id);
    cr_assert_eq(o.rc, 0, "%s", o.err.data);
    v = json_of(&o);
    cr_assert(json_is_true(json_object_get(v, "requeued")));
    json_decref(v);
    out_free(&o);
    wait_counts(1, 2);
    o = cli("requeue", "--all-failed", "--json");
    cr_assert_eq(o.rc, 0, "%s", o.err.data);
    v = json_of(&o);
    cr_assert_eq(jint(v, "requeued"), 1);
    json_decref(v);
    out_free(&o);
    wait_counts(1, 3);

    /* purge: the failed job goes; the finished job's Redis state goes but
     * its result stays in Postgres. */
    o = cli("purge", "--failed", "--finished", "--json");
    cr_assert_eq(o.rc, 0, "%s", o.err.data);
    v = json_of(&o);
    cr_assert_eq(jint(v, "failed_deleted"), 1);
    cr_assert_eq(jint(v, "finished_deleted"), 1);
    json_decref(v);
    out_free(&o);
    v = info();
    cr_assert_eq(jint(v, "failed"), 0);
    json_decref(v);
    o = cli("cancel", bad_id);
    cr_assert_eq(o.rc, 3, "the failed job is gone");
    out_free(&o);
    o = cli("result", ok_id);
    cr_assert_eq(o.rc, 0, "the result outlives the Redis state: %s", o.err.data);
    out_free(&o);
    o = cli("purge", "--failed");
    cr_assert_eq(o.rc, 0);
    cr_assert(strstr(o.out.data, "deleted 0 failed jobs"), "%s", o.out.data);
    out_free(&o);
}
