#include "tests/lib/wcsys.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "tests/lib/http_client.h"
#include "tests/lib/testdb.h"
#include "tests/lib/testenv.h"

long long
wcsys_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* --- the database --- */

/* with_path replaces url's path with /name. */
static void
with_path(const char *url, const char *name, char *out, size_t n) {
    CURLU *u = curl_url();
    cr_assert_eq(curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME), CURLUE_OK, "%s",
                 url);
    char path[96];
    snprintf(path, sizeof path, "/%s", name);
    cr_assert_eq(curl_url_set(u, CURLUPART_PATH, path, 0), CURLUE_OK);
    char *full = NULL;
    cr_assert_eq(curl_url_get(u, CURLUPART_URL, &full, 0), CURLUE_OK);
    snprintf(out, n, "%s", full);
    curl_free(full);
    curl_url_cleanup(u);
}

static void
run_migrate(struct wcsys *s) {
    char bin[4096], log[160];
    snprintf(bin, sizeof bin, "%s", testenv_bin("wordcount-migrate"));
    snprintf(log, sizeof log, "%s/migrate.log", s->dir);
    const char *argv[] = {bin, "upgrade", "--database-url", s->db_url, NULL};
    pid_t m = proc_start(argv, (const char *const *)s->env, log);
    cr_assert_gt(m, 0);
    int st = proc_wait_exit(m, 60000);
    cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "migrate failed, see %s", log);
}

/* --- set-up and tear-down --- */

void
wcsys_env(struct wcsys *s, const char *key, const char *value) {
    size_t klen = strlen(key);
    char *kv = xasprintf("%s=%s", key, value);
    for (int i = 0; i < s->nenv; i++) {
        if (!strncmp(s->env[i], key, klen) && s->env[i][klen] == '=') {
            free(s->env[i]);
            s->env[i] = kv;
            return;
        }
    }
    cr_assert_lt(s->nenv, WCSYS_MAX_ENV, "too many variables");
    s->env[s->nenv++] = kv;
    s->env[s->nenv] = NULL;
}

/* Short times, so rescue, retries and drains happen within a test. */
static const char *const short_times[][2] = {
    {"FETCH_TIMEOUT", "10s"},        {"JOB_TIMEOUT", "20s"},      {"JOB_RESCUE_AFTER", "3s"},
    {"HEARTBEAT_INTERVAL", "500ms"}, {"JOB_RETRY_BASE", "200ms"}, {"JOB_RETRY_MAX", "2s"},
};

void
wcsys_default_times(struct wcsys *s) {
    for (size_t t = 0; t < sizeof short_times / sizeof short_times[0]; t++) {
        size_t klen = strlen(short_times[t][0]);
        for (int i = 0; i < s->nenv; i++) {
            if (strncmp(s->env[i], short_times[t][0], klen) || s->env[i][klen] != '=') continue;
            free(s->env[i]);
            s->env[i] = s->env[--s->nenv];
            s->env[s->nenv] = NULL;
            break;
        }
    }
}

void
wcsys_init(struct wcsys *s, const struct wcsys_opts *opts) {
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "/tmp/wc-sys-XXXXXX");
    cr_assert_not_null(mkdtemp(s->dir));
    char path[128];
    snprintf(path, sizeof path, "%s/pages", s->dir);
    memcpy(s->pages_dir, path, sizeof s->pages_dir);
    cr_assert_eq(mkdir(s->pages_dir, 0755), 0);
    snprintf(path, sizeof path, "%s/web.log", s->dir);
    memcpy(s->web_log, path, sizeof s->web_log);

    const char *ip = opts && opts->page_ip ? opts->page_ip : "127.0.0.1";
    s->pages = page_server_start_on(s->pages_dir, ip);
    cr_assert_not_null(s->pages, "page server did not start on %s", ip);
    snprintf(s->page_base, sizeof s->page_base, "http://%s:%d",
             strcmp(ip, "0.0.0.0") ? ip : "127.0.0.1", page_server_port(s->pages));

    snprintf(s->redis_url, sizeof s->redis_url, "%s",
             opts && opts->redis_url ? opts->redis_url : testenv_redis_url());
    snprintf(s->admin_url, sizeof s->admin_url, "%s",
             opts && opts->pg_admin_url ? opts->pg_admin_url : testenv_database_url());
    testenv_name(s->db_name, sizeof s->db_name);
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", s->db_name);
    cr_assert_eq(testdb_exec_at(s->admin_url, sql), 0, "cannot create database %s", s->db_name);
    with_path(s->admin_url, s->db_name, s->db_url, sizeof s->db_url);
    testenv_prefix(s->prefix, sizeof s->prefix);

    wcsys_env(s, "APP_ENV", "testing");
    wcsys_env(s, "DATABASE_URL", s->db_url);
    wcsys_env(s, "REDIS_URL", s->redis_url);
    wcsys_env(s, "REDIS_KEY_PREFIX", s->prefix);
    wcsys_env(s, "FETCH_ALLOW_PRIVATE", "true");
    wcsys_env(s, "PORT", "0");
    wcsys_env(s, "WORKER_PROCESSES", "2");
    wcsys_env(s, "WORKER_CONCURRENCY", "8");
    /* Politeness stays on (robots.txt, slots, pacing), with a host limit
     * of every slot of the default two workers: tests that run many jobs
     * on the one page server do not wait; the politeness tests set 2. */
    wcsys_env(s, "FETCH_HOST_CONCURRENCY", "16");
    /* Every page of most tests comes from one host, and the 503s of one
     * test would slow the rest of it down (the adaptive delay): cap it. */
    wcsys_env(s, "FETCH_HOST_MAX_DELAY_MS", "1000");
    wcsys_env(s, "WORKER_GRACE", "5s");
    wcsys_env(s, "WEB_GRACE", "3s");
    for (size_t i = 0; i < sizeof short_times / sizeof short_times[0]; i++)
        wcsys_env(s, short_times[i][0], short_times[i][1]);
    wcsys_env(s, "LOG_LEVEL", "info");
    run_migrate(s);
}

void
wcsys_start_web(struct wcsys *s) {
    char bin[4096];
    snprintf(bin, sizeof bin, "%s", testenv_bin("wordcount-web"));
    const char *argv[] = {bin, NULL};
    if (s->web_pid > 0) proc_stop(s->web_pid, SIGTERM, 5000);
    /* The log is appended to: wait for this start's line. */
    int before = wcsys_log_count(s->web_log, "msg=listening", NULL);
    s->web_pid = proc_start(argv, (const char *const *)s->env, s->web_log);
    cr_assert_gt(s->web_pid, 0);
    char line[4096];
    cr_assert(
        wcsys_log_nth(s->web_log, "msg=listening", NULL, before + 1, 20000, line, sizeof line),
        "web did not report its port; see %s", s->web_log);
    const char *p = strstr(line, "port=");
    cr_assert_not_null(p);
    snprintf(s->base, sizeof s->base, "http://127.0.0.1:%d", atoi(p + 5));
}

/* env_int returns the integer value of key in the programs' environment. */
static int
env_int(const struct wcsys *s, const char *key, int dflt) {
    size_t klen = strlen(key);
    for (int i = 0; i < s->nenv; i++)
        if (!strncmp(s->env[i], key, klen) && s->env[i][klen] == '=')
            return atoi(s->env[i] + klen + 1);
    return dflt;
}

void
wcsys_start_web_ready(struct wcsys *s) {
    wcsys_start_web(s);
    wcsys_wait_ready(s);
}

void
wcsys_wait_ready(struct wcsys *s) {
    long long until = wcsys_now_ms() + 20000;
    for (;;) {
        long status = 0;
        json_decref(wcsys_http(s, "GET", "/readyz", NULL, &status));
        if (status == 200) return;
        cr_assert_lt(wcsys_now_ms(), until, "the web is not ready; see %s", s->web_log);
        sleep_ms(20);
    }
}

int
wcsys_start_worker(struct wcsys *s, const struct proc_opts *opts) {
    cr_assert_lt(s->nworkers, WCSYS_MAX_WORKERS);
    int i = s->nworkers++;
    char log[sizeof s->worker_logs[i]];
    snprintf(log, sizeof log, "%s/worker-%d.log", s->dir, i);
    memcpy(s->worker_logs[i], log, sizeof log);
    char bin[4096];
    snprintf(bin, sizeof bin, "%s", testenv_bin("wordcount-worker"));
    const char *argv[] = {bin, NULL};
    s->workers[i] = proc_spawn(argv, (const char *const *)s->env, s->worker_logs[i], opts);
    cr_assert_gt(s->workers[i], 0);
    int children = env_int(s, "WORKER_PROCESSES", 1);
    cr_assert(
        wcsys_log_nth(s->worker_logs[i], "msg=\"worker ready\"", NULL, children, 30000, NULL, 0),
        "%d worker processes did not start; see %s", children, s->worker_logs[i]);
    return i;
}

int
wcsys_fork_worker(struct wcsys *s, int (*body)(void *arg), void *arg) {
    cr_assert_lt(s->nworkers, WCSYS_MAX_WORKERS);
    int i = s->nworkers++;
    char log[sizeof s->worker_logs[i]];
    snprintf(log, sizeof log, "%s/worker-%d.log", s->dir, i);
    memcpy(s->worker_logs[i], log, sizeof log);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    cr_assert_geq(fd, 0, "cannot open %s", log);
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork failed");
    if (pid == 0) {
        /* As a program starts: stop signals held until its loop watches
         * them, its own environment and log. _exit: the test's atexit
         * handlers belong to the test process. */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigprocmask(SIG_BLOCK, &set, NULL);
        for (int e = 0; e < s->nenv; e++) putenv(s->env[e]);
        dup2(fd, 1);
        dup2(fd, 2);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, 0);
        _exit(body(arg));
    }
    close(fd);
    s->workers[i] = pid;
    return i;
}

int
wcsys_stop_worker(struct wcsys *s, int i, int sig, int timeout_ms) {
    if (s->workers[i] <= 0) return -1;
    int st = proc_stop(s->workers[i], sig, timeout_ms);
    s->workers[i] = 0;
    return st;
}

void
wcsys_stop_clean(struct wcsys *s) {
    if (s->web_pid > 0) {
        int st = proc_stop(s->web_pid, SIGTERM, 5000);
        cr_expect(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "web exit %d; see %s", st,
                  s->web_log);
    }
    s->web_pid = 0;
    for (int i = 0; i < s->nworkers; i++) {
        if (s->workers[i] <= 0) continue;
        int st = wcsys_stop_worker(s, i, SIGTERM, 15000);
        cr_expect(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "worker exit %d; see %s", st,
                  s->worker_logs[i]);
    }
}

void
wcsys_free(struct wcsys *s) {
    if (s->web_pid > 0) proc_stop(s->web_pid, SIGTERM, 5000);
    s->web_pid = 0;
    for (int i = 0; i < s->nworkers; i++)
        if (s->workers[i] > 0) wcsys_stop_worker(s, i, SIGTERM, 15000);
    if (s->pages) page_server_stop(s->pages);
    s->pages = NULL;
    if (s->redis) redisFree(s->redis);
    s->redis = NULL;
    if (s->db_name[0]) {
        testdb_drop_at(s->admin_url, s->db_name);
        s->db_name[0] = '\0';
    }
    for (int i = 0; i < s->nenv; i++) free(s->env[i]);
    s->nenv = 0;
    while (s->nkept > 0) wcsys_drop(s, s->kept[s->nkept - 1]);
    if (!s->dir[0]) return;
    const char *keep = getenv("KEEP_TMP");
    if (keep && !strcmp(keep, "1")) {
        cr_log_info("kept %s", s->dir);
    } else {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
        if (system(cmd) != 0) cr_log_warn("could not remove %s", s->dir);
    }
    s->dir[0] = '\0';
}

static void *
keep(struct wcsys *s, void *p, bool json) {
    cr_assert_lt(s->nkept, WCSYS_MAX_KEPT, "too many kept values");
    s->kept[s->nkept] = p;
    s->kept_json[s->nkept++] = json;
    return p;
}

void *
wcsys_keep(struct wcsys *s, void *p) {
    return keep(s, p, false);
}

json_t *
wcsys_keep_json(struct wcsys *s, json_t *v) {
    return keep(s, v, true);
}

void
wcsys_drop(struct wcsys *s, void *p) {
    for (int i = s->nkept - 1; i >= 0; i--) {
        if (s->kept[i] != p) continue;
        if (s->kept_json[i]) json_decref(p);
        else free(p);
        s->nkept--;
        s->kept[i] = s->kept[s->nkept];
        s->kept_json[i] = s->kept_json[s->nkept];
        return;
    }
}

/* --- pages --- */

void
wcsys_write_page(struct wcsys *s, const char *name, const char *content) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", s->pages_dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(content, f);
    cr_assert_eq(fclose(f), 0);
}

const char *
wcsys_page_url(const struct wcsys *s, const char *path, char *out, size_t n) {
    snprintf(out, n, "%s%s", s->page_base, path);
    return out;
}

/* --- the HTTP API --- */

json_t *
wcsys_http(struct wcsys *s, const char *method, const char *path, const char *auth_header,
           long *status) {
    char url[512];
    snprintf(url, sizeof url, "%s%s", s->base, path);
    struct http_response r;
    if (http_request(method, url, NULL, NULL, auth_header, &r) != 0) {
        /* No answer, or one cut short: what came is shown, then freed. */
        cr_log_error("%s %s: %zu bytes of headers, %zu of body before the cut:\n%s%s", method, url,
                     r.headers.len, r.body.len, r.headers.data, r.body.data);
        http_response_free(&r);
        cr_assert_fail("%s %s failed", method, url);
    }
    *status = r.status;
    json_t *v = r.body.len ? json_loads(r.body.data, 0, NULL) : NULL;
    http_response_free(&r);
    return v;
}

char *
wcsys_submit(struct wcsys *s, const char *page_url) {
    char url[512], body[1024];
    snprintf(url, sizeof url, "%s/api/v1/jobs", s->base);
    snprintf(body, sizeof body, "{\"url\": \"%s\", \"fresh\": true}", page_url);
    struct http_response r;
    cr_assert_eq(http_request("POST", url, "application/json", body, NULL, &r), 0);
    cr_assert_eq(r.status, 202, "POST %s: %ld %s", body, r.status, r.body.data);
    json_t *v = json_loads(r.body.data, 0, NULL);
    cr_assert_not_null(v);
    char *id = xstrdup(json_string_value(json_object_get(v, "id")));
    json_decref(v);
    http_response_free(&r);
    return id;
}

json_t *
wcsys_job(struct wcsys *s, const char *id) {
    char path[128];
    snprintf(path, sizeof path, "/api/v1/jobs/%s", id);
    long status;
    json_t *v = wcsys_http(s, "GET", path, NULL, &status);
    cr_assert_eq(status, 200, "GET %s: %ld", path, status);
    cr_assert_not_null(v);
    return v;
}

const char *
wcsys_status(const json_t *job) {
    const char *st = json_string_value(json_object_get(job, "status"));
    return st ? st : "";
}

static bool
in_list(const char *word, const char *list) {
    size_t n = strlen(word);
    for (const char *p = list; *p;) {
        size_t m = strcspn(p, ",");
        if (m == n && !strncmp(p, word, n)) return true;
        p += m + (p[m] == ',');
    }
    return false;
}

json_t *
wcsys_wait_status(struct wcsys *s, const char *id, const char *statuses, int timeout_ms) {
    long long until = wcsys_now_ms() + timeout_ms;
    char last[32] = "";
    char path[128];
    snprintf(path, sizeof path, "/api/v1/jobs/%s", id);
    do {
        long status;
        json_t *v = wcsys_http(s, "GET", path, NULL, &status);
        /* 503: the web is reconnecting after an outage; ask again. */
        cr_assert(status == 200 || status == 503, "GET %s: %ld", path, status);
        if (status == 503) {
            json_decref(v);
            sleep_ms(100);
            continue;
        }
        cr_assert_not_null(v);
        snprintf(last, sizeof last, "%s", wcsys_status(v));
        if (in_list(last, statuses)) return v;
        json_decref(v);
        sleep_ms(50);
    } while (wcsys_now_ms() < until);
    cr_assert_fail("job %s still %s after %d ms (waiting for %s); logs in %s", id, last, timeout_ms,
                   statuses, s->dir);
    return NULL;
}

/* --- oracles --- */

char *
wcsys_sql(struct wcsys *s, const char *sql) {
    char *v = testdb_query_value(s->db_url, sql);
    return v;
}

bool
wcsys_wait_insert_blocked(struct wcsys *s, int timeout_ms) {
    for (int waited = 0; waited <= timeout_ms; waited += 50) {
        char *n = wcsys_sql(s, "SELECT count(*) FROM pg_stat_activity WHERE datname ="
                               " current_database() AND wait_event_type = 'Lock' AND query"
                               " LIKE 'INSERT INTO results%'");
        bool blocked = n && atoi(n) >= 1;
        free(n);
        if (blocked) return true;
        usleep(50 * 1000);
    }
    return false;
}

long
wcsys_rows(struct wcsys *s, const char *id) {
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM results WHERE job_id = '%s'", id);
    char *v = wcsys_sql(s, sql);
    long n = v ? atol(v) : -1;
    free(v);
    return n;
}

redisContext *
wcsys_redis(struct wcsys *s) {
    if (s->redis && !s->redis->err) return s->redis;
    if (s->redis) redisFree(s->redis);
    char host[64] = "127.0.0.1";
    int port = 6379;
    const char *hp = strstr(s->redis_url, "://");
    cr_assert_not_null(hp);
    sscanf(hp + 3, "%63[^:/]:%d", host, &port);
    struct timeval tv = {5, 0};
    s->redis = redisConnectWithTimeout(host, port, tv);
    cr_assert(s->redis && !s->redis->err, "oracle cannot reach redis at %s", s->redis_url);
    return s->redis;
}

/* --- logs and processes --- */

bool
wcsys_log_find(const char *path, const char *n1, const char *n2, int timeout_ms, char *out,
               size_t n) {
    return wcsys_log_nth(path, n1, n2, 1, timeout_ms, out, n);
}

bool
wcsys_log_nth(const char *path, const char *n1, const char *n2, int nth, int timeout_ms, char *out,
              size_t n) {
    long long until = wcsys_now_ms() + timeout_ms;
    for (;;) {
        FILE *f = fopen(path, "r");
        if (f) {
            char line[8192];
            int seen = 0;
            while (fgets(line, sizeof line, f)) {
                if (strstr(line, n1) && (!n2 || strstr(line, n2)) && ++seen == nth) {
                    if (out && n) snprintf(out, n, "%s", line);
                    fclose(f);
                    return true;
                }
            }
            fclose(f);
        }
        if (wcsys_now_ms() >= until) return false;
        sleep_ms(25);
    }
}

int
wcsys_log_count(const char *path, const char *n1, const char *n2) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[8192];
    int count = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, n1) && (!n2 || strstr(line, n2))) count++;
    fclose(f);
    return count;
}

pid_t
wcsys_line_pid(const char *line) {
    const char *p = strstr(line, " pid=");
    return p ? (pid_t)atol(p + 5) : -1;
}

long long
wcsys_time_ms(const char *t) {
    struct tm tm = {0};
    int ms = 0;
    if (!t || sscanf(t, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                     &tm.tm_min, &tm.tm_sec, &ms) != 7)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (long long)timegm(&tm) * 1000 + ms;
}

long long
wcsys_line_ms(const char *line) {
    return strncmp(line, "ts=", 3) ? -1 : wcsys_time_ms(line + 3);
}

pid_t
wcsys_job_pid(struct wcsys *s, const char *id, int attempt, int timeout_ms) {
    char n1[96], n2[32], line[8192];
    snprintf(n1, sizeof n1, "msg=\"job started\" job=%s", id);
    snprintf(n2, sizeof n2, " attempt=%d", attempt);
    long long until = wcsys_now_ms() + timeout_ms;
    do {
        for (int i = 0; i < s->nworkers; i++)
            if (wcsys_log_find(s->worker_logs[i], n1, attempt ? n2 : NULL, 0, line, sizeof line))
                return wcsys_line_pid(line);
        sleep_ms(25);
    } while (wcsys_now_ms() < until);
    cr_assert_fail("job %s (attempt %d) did not start within %d ms; logs in %s", id, attempt,
                   timeout_ms, s->dir);
    return -1;
}

long
wcsys_cpu_ms(pid_t pid) {
    char path[64], stat[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(stat, 1, sizeof stat - 1, f);
    fclose(f);
    stat[n] = '\0';
    const char *p = strrchr(stat, ')');
    if (!p) return -1;
    /* After the name: state, then fields 4..; utime and stime are 14 and 15. */
    unsigned long utime = 0, stime = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
        return -1;
    return (long)((utime + stime) * 1000 / (unsigned long)sysconf(_SC_CLK_TCK));
}
