/* Polite fetching, through the real programs, with several hosts on one
 * machine: each host is a page server on its own loopback address
 * (127.0.0.2, 127.0.0.3, ...) that records the connections open at each
 * moment and the time of every request. FETCH_HOST_CONCURRENCY holds
 * across all worker processes; a busy host's jobs wait (status waiting,
 * no attempt used) while other hosts' jobs run; robots.txt decides what
 * may be fetched and how slowly; a 429 with Retry-After pauses the host;
 * a worker killed while holding a slot frees it within JOB_RESCUE_AFTER;
 * a Redis restart loses no job and breaks no limit. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/servers.h"
#include "tests/lib/wcsys.h"

static struct wcsys sys;
static struct redis_srv redis;
enum { NHOSTS = 4, MAX_IDS = 1000 };
static page_server_t *hosts[NHOSTS];
static char *ids[MAX_IDS]; /* jobs of the bigger tests, freed by stop */
static int nids;

static void
start_hosts(void) {
    for (int i = 0; i < NHOSTS; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "127.0.0.%d", i + 2);
        hosts[i] = page_server_start_on(sys.pages_dir, ip);
        cr_assert(hosts[i], "cannot listen on %s", ip);
    }
    wcsys_write_page(&sys, "a.html", "<html><body><p>one two three</p></body></html>");
    wcsys_env(&sys, "FETCH_HOST_CONCURRENCY", "2");
}

static void
start(void) {
    wcsys_init(&sys, NULL);
    start_hosts();
}

static void
stop_hosts(void) {
    for (int i = 0; i < NHOSTS; i++)
        if (hosts[i]) page_server_stop(hosts[i]);
    memset(hosts, 0, sizeof hosts);
}

static void
stop(void) {
    stop_hosts();
    for (int i = 0; i < nids; i++) free(ids[i]);
    nids = 0;
    wcsys_free(&sys);
}

static const char *
submit(const char *url) {
    cr_assert_lt(nids, MAX_IDS);
    ids[nids] = wcsys_submit(&sys, url);
    return ids[nids++];
}

TestSuite(polite, .init = start, .fini = stop, .timeout = 300);

static const char *
host_url(int h, const char *path, char *out, size_t n) {
    snprintf(out, n, "http://127.0.0.%d:%d%s", h + 2, page_server_port(hosts[h]), path);
    return out;
}

static const char *
error_code(const json_t *job) {
    return json_string_value(json_object_get(json_object_get(job, "error"), "code"));
}

static long
count_sql(const char *sql) {
    char *v = wcsys_sql(&sys, sql);
    long n = v ? atol(v) : -1;
    free(v);
    return n;
}

/* wait_results waits until n results are stored; false on timeout. */
static bool
wait_results(long n, int timeout_ms) {
    long long until = wcsys_now_ms() + timeout_ms;
    while (wcsys_now_ms() < until) {
        if (count_sql("SELECT count(*) FROM results") >= n) return true;
        usleep(200 * 1000);
    }
    return false;
}

Test(polite, a_busy_host_never_exceeds_its_limit_nor_blocks_others) {
    enum { PER_HOST = 500 };
    wcsys_env(&sys, "WORKER_PROCESSES", "3");
    wcsys_env(&sys, "WORKER_CONCURRENCY", "64");
    /* A's two fetches wait at the gate for as long as B takes. Their
     * leases (job and host slot, renewed every 500 ms) get room for a
     * worker that stalls a few seconds on a loaded machine under ASan:
     * a lease that lapses frees the slot of a fetch still running (what
     * makes a dead worker's slot come back), which is not this test's
     * matter (a_killed_worker... below is). 15 s was not room enough once
     * under ASan at a load of 18 on 2 cores (a third fetch reached A: a
     * slot had lapsed while the worker's loop was busy counting B's
     * pages, which it does on the loop; issue 14). */
    wcsys_env(&sys, "FETCH_TIMEOUT", "300s");
    wcsys_env(&sys, "JOB_TIMEOUT", "300s");
    wcsys_env(&sys, "JOB_RESCUE_AFTER", "60s");
    wcsys_start_web(&sys);
    wcsys_start_worker(&sys, NULL);
    /* A's pages wait at its gate, so its two slots stay taken and its
     * other jobs pile up behind them for as long as the test likes,
     * however fast or slow the machine; B's pages are served at once. */
    char url[160];
    for (int i = 0; i < PER_HOST; i++) {
        submit(host_url(0, "/gate", url, sizeof url));
        submit(host_url(1, "/a.html", url, sizeof url));
    }
    /* Every one of B's jobs finishes while all of A's wait: A's waiting
     * jobs hold no worker slot (3 x 64 slots, 500 jobs of A). */
    long long until = wcsys_now_ms() + 240000;
    long b_done = 0;
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM results WHERE url LIKE 'http://127.0.0.3:%%'");
    while (wcsys_now_ms() < until && (b_done = count_sql(sql)) < PER_HOST) usleep(200 * 1000);
    cr_assert_eq(b_done, PER_HOST, "B's jobs did not all finish while A's waited");
    snprintf(sql, sizeof sql, "SELECT count(*) FROM results WHERE url LIKE 'http://127.0.0.2:%%'");
    cr_assert_eq(count_sql(sql), 0, "one of A's jobs finished behind its closed gate");
    cr_assert_leq(page_server_open_peak(hosts[0]), 2, "A's gate held more than its two slots");
    page_server_gate_open(hosts[0]);
    cr_assert(wait_results(2 * PER_HOST, 240000), "not every job finished");
    /* Waiting used no attempt: every job (a sample) ran once. */
    for (int i = 0; i < 2 * PER_HOST; i += 25) {
        json_t *job = wcsys_job(&sys, ids[i]);
        long long attempts = json_integer_value(json_object_get(job, "attempts"));
        json_decref(job);
        cr_assert_eq(attempts, 1, "job %s took %lld attempts", ids[i], attempts);
    }
    int peak_a = page_server_open_peak(hosts[0]), peak_b = page_server_open_peak(hosts[1]);
    cr_log_info("peak connections: A %d, B %d", peak_a, peak_b);
    cr_assert_leq(peak_a, 2, "host A had %d fetches at once (limit 2)", peak_a);
    cr_assert_leq(peak_b, 2, "host B had %d fetches at once (limit 2)", peak_b);
    cr_assert_eq(peak_a, 2, "A never used both its slots");
    cr_assert_eq(wcsys_log_count(sys.worker_logs[0], "reason=host_busy", NULL) > 0, 1);
    wcsys_stop_clean(&sys);
}

static const char robots_c[] = "User-agent: *\n"
                               "Disallow: /\n"
                               "\n"
                               "User-agent: wordcount\n"
                               "Allow: /slow/1$\n"
                               "Disallow: /slow/\n"
                               "Disallow: /*.html$\n"
                               "Crawl-delay: 1\n";

Test(polite, robots_txt_rules_and_crawl_delay) {
    wcsys_env(&sys, "FETCH_ROBOTS_RETRY", "2s");
    wcsys_env(&sys, "JOB_RETRY_BASE", "500ms");
    page_server_set_robots(hosts[0], 200, robots_c);
    page_server_set_robots(hosts[1], 503, "busy");
    page_server_set_robots(hosts[2], 404, "none here");
    wcsys_start_web(&sys);
    wcsys_start_worker(&sys, NULL);
    char url[160];
    const char *allowed[] = {"/slow/1", "/a.html?x=1", "/a.html?x=2", "/status/200"};
    struct {
        const char *path, *rule;
    } denied[] = {{"/slow/2", "Disallow: /slow/"},
                  {"/slow/10", "Disallow: /slow/"},
                  {"/a.html", "Disallow: /*.html$"}};
    char *ok[4], *no[3];
    for (int i = 0; i < 4; i++)
        ok[i] = wcsys_keep(&sys, wcsys_submit(&sys, host_url(0, allowed[i], url, sizeof url)));
    for (int i = 0; i < 3; i++)
        no[i] = wcsys_keep(&sys, wcsys_submit(&sys, host_url(0, denied[i].path, url, sizeof url)));
    char *unavailable =
        wcsys_keep(&sys, wcsys_submit(&sys, host_url(1, "/a.html", url, sizeof url)));
    char *none = wcsys_keep(&sys, wcsys_submit(&sys, host_url(2, "/a.html", url, sizeof url)));

    for (int i = 0; i < 3; i++) {
        json_t *job =
            wcsys_keep_json(&sys, wcsys_wait_status(&sys, no[i], "finished,failed", 30000));
        cr_assert_str_eq(wcsys_status(job), "failed", "%s", json_dumps(job, 0));
        cr_assert_str_eq(error_code(job), "robots_disallowed");
        const char *msg =
            json_string_value(json_object_get(json_object_get(job, "error"), "message"));
        cr_assert(strstr(msg, denied[i].rule), "%s should name %s", msg, denied[i].rule);
        cr_assert_eq(json_integer_value(json_object_get(job, "attempts")), 1);
    }
    for (int i = 0; i < 4; i++) {
        json_t *job =
            wcsys_keep_json(&sys, wcsys_wait_status(&sys, ok[i], "finished,failed", 60000));
        cr_assert_str_eq(wcsys_status(job), "finished", "%s: %s", allowed[i], json_dumps(job, 0));
    }
    json_t *job = wcsys_keep_json(&sys, wcsys_wait_status(&sys, none, "finished,failed", 30000));
    cr_assert_str_eq(wcsys_status(job), "finished", "robots.txt 404: everything allowed");

    /* Crawl-delay 1: the pages of host C start at least 1 s apart
     * (robots.txt, fetched first, is not paced after). */
    int64_t times[16];
    size_t n = page_server_requests(hosts[0], times, 16);
    cr_assert_eq(n, 5, "robots.txt once and the 4 allowed pages: %zu requests", n);
    for (size_t i = 2; i < n; i++)
        cr_assert_geq(times[i] - times[i - 1], 1000 - 100, "requests %zu and %zu %lld ms apart",
                      i - 1, i, (long long)(times[i] - times[i - 1]));

    /* robots.txt 503: the host is off limits; the job waits as a retry
     * (it does not fail at once), then runs once robots.txt answers. */
    job = wcsys_keep_json(&sys,
                          wcsys_wait_status(&sys, unavailable, "retrying,finished,failed", 30000));
    cr_assert_str_eq(wcsys_status(job), "retrying", "%s", json_dumps(job, 0));
    cr_assert_str_eq(error_code(job), "robots_unavailable");
    cr_assert_eq(wcsys_rows(&sys, unavailable), 0);
    page_server_set_robots(hosts[1], 404, "");
    job = wcsys_keep_json(&sys, wcsys_wait_status(&sys, unavailable, "finished,failed", 60000));
    cr_assert_str_eq(wcsys_status(job), "finished", "%s", json_dumps(job, 0));
    wcsys_stop_clean(&sys);
}

Test(polite, retry_after_pauses_the_host) {
    wcsys_env(&sys, "JOB_MAX_ATTEMPTS", "2");
    wcsys_env(&sys, "JOB_RETRY_BASE", "200ms");
    wcsys_start_web(&sys);
    wcsys_start_worker(&sys, NULL);
    char url[160];
    char *limited = wcsys_keep(
        &sys, wcsys_submit(&sys, host_url(0, "/status/429?retry_after=3", url, sizeof url)));
    json_t *job =
        wcsys_keep_json(&sys, wcsys_wait_status(&sys, limited, "retrying,finished,failed", 30000));
    cr_assert_str_eq(wcsys_status(job), "retrying", "%s", json_dumps(job, 0));
    int64_t times[64];
    size_t n = page_server_requests(hosts[0], times, 64);
    cr_assert_eq(n, 2, "robots.txt, then the page");
    int64_t t429 = times[1];
    long long next = wcsys_time_ms(json_string_value(json_object_get(job, "next_attempt_at")));
    cr_assert_geq(next, t429 + 3000 - 50, "next attempt %lld ms after the 429",
                  (long long)(next - t429));
    /* Other jobs for the host wait for the pause, without an attempt. */
    char *others[3];
    for (int i = 0; i < 3; i++)
        others[i] = wcsys_keep(&sys, wcsys_submit(&sys, host_url(0, "/a.html", url, sizeof url)));
    bool seen_paused = false;
    long long until = wcsys_now_ms() + 10000;
    while (!seen_paused && wcsys_now_ms() < until) {
        json_t *j = wcsys_job(&sys, others[0]);
        const char *w = json_string_value(json_object_get(j, "waiting"));
        seen_paused = !strcmp(wcsys_status(j), "waiting") && w && !strcmp(w, "host_paused");
        json_decref(j);
        if (!seen_paused) usleep(20 * 1000);
    }
    cr_assert(seen_paused, "no job was seen waiting for the paused host");
    /* The pause shows in the stats and in wordcount info. */
    long status;
    json_t *stats = wcsys_keep_json(&sys, wcsys_http(&sys, "GET", "/api/v1/stats", NULL, &status));
    cr_assert_eq(status, 200);
    json_t *h0 = json_array_get(json_object_get(stats, "hosts"), 0);
    cr_assert(h0 && json_is_string(json_object_get(h0, "paused_until")), "%s",
              json_dumps(stats, 0));
    cr_assert_eq(json_integer_value(json_object_get(h0, "seen_429")), 1);
    for (int i = 0; i < 3; i++) {
        json_t *j =
            wcsys_keep_json(&sys, wcsys_wait_status(&sys, others[i], "finished,failed", 30000));
        cr_assert_str_eq(wcsys_status(j), "finished", "%s", json_dumps(j, 0));
        cr_assert_eq(json_integer_value(json_object_get(j, "attempts")), 1, "%s", json_dumps(j, 0));
    }
    wcsys_keep_json(&sys, wcsys_wait_status(&sys, limited, "finished,failed", 30000));
    /* Nothing reached the host during the pause. */
    n = page_server_requests(hosts[0], times, 64);
    for (size_t i = 2; i < n && i < 64; i++)
        cr_assert(times[i] >= t429 + 3000 - 20, "request %zu %lld ms after the 429", i,
                  (long long)(times[i] - t429));
    wcsys_stop_clean(&sys);
}

Test(polite, a_killed_worker_frees_its_host_slot_within_the_rescue_time) {
    wcsys_env(&sys, "FETCH_HOST_CONCURRENCY", "1");
    wcsys_start_web(&sys);
    wcsys_start_worker(&sys, NULL);
    char url[160];
    char *held = wcsys_keep(&sys, wcsys_submit(&sys, host_url(0, "/gate", url, sizeof url)));
    /* The slot is taken (the oracle reads it); its token names the
     * holder ("<host>-<pid>:<n>"), the process to kill. */
    long long until = wcsys_now_ms() + 20000;
    pid_t victim = 0;
    while (!victim && wcsys_now_ms() < until) {
        redisReply *r = redisCommand(wcsys_redis(&sys), "ZRANGE %shost:127.0.0.2:%d:slots 0 -1",
                                     sys.prefix, page_server_port(hosts[0]));
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 1) {
            char *token = r->element[0]->str, *colon = strrchr(token, ':');
            *colon = '\0';
            victim = (pid_t)atol(strrchr(token, '-') + 1);
        }
        freeReplyObject(r);
        if (!victim) usleep(20 * 1000);
    }
    cr_assert_gt(victim, 0, "no slot was taken");
    cr_assert(proc_alive(victim));
    /* The child dies; its supervisor starts another, which knows nothing
     * of the slot. */
    cr_assert(kill(victim, SIGKILL) == 0);
    long long killed_at = wcsys_now_ms();
    /* The dead child's slot is a lease that nobody renews: it lapses
     * within JOB_RESCUE_AFTER (3 s) of the kill, whatever the load. */
    redisReply *lease =
        redisCommand(wcsys_redis(&sys), "ZRANGE %shost:127.0.0.2:%d:slots 0 -1 WITHSCORES",
                     sys.prefix, page_server_port(hosts[0]));
    cr_assert(lease && lease->type == REDIS_REPLY_ARRAY);
    for (size_t i = 0; i + 1 < lease->elements; i += 2)
        cr_assert_leq(atoll(lease->element[i + 1]->str), killed_at + 3000,
                      "slot %s is held past the rescue time", lease->element[i]->str);
    freeReplyObject(lease);
    page_server_gate_open(hosts[0]);
    char *next = wcsys_keep(&sys, wcsys_submit(&sys, host_url(0, "/a.html", url, sizeof url)));
    json_t *job = wcsys_keep_json(&sys, wcsys_wait_status(&sys, next, "finished,failed", 30000));
    cr_assert_str_eq(wcsys_status(job), "finished");
    long long took = wcsys_now_ms() - killed_at;
    cr_log_info("the host was free again %lld ms after the kill (JOB_RESCUE_AFTER 3 s)", took);
    /* The slot lapses with its lease (JOB_RESCUE_AFTER, 3 s); the next
     * request reaches the host soon after (a waiting job is due then, and
     * the retry promotion runs every 500 ms). */
    int64_t times[16];
    size_t n = page_server_requests(hosts[0], times, 16);
    int64_t first_after = 0;
    for (size_t i = 0; i < n && i < 16; i++)
        if (times[i] > killed_at && (!first_after || times[i] < first_after))
            first_after = times[i];
    cr_assert_gt(first_after, 0);
    /* How soon is a figure, not an assertion (a loaded machine delays the
     * promotion and the take): the lease above is what bounds it. */
    cr_log_info("first request %lld ms after the kill", (long long)(first_after - killed_at));
    cr_assert_leq(page_server_open_peak(hosts[0]), 1);
    json_t *h = wcsys_keep_json(&sys, wcsys_wait_status(&sys, held, "finished,failed", 30000));
    cr_assert_str_eq(wcsys_status(h), "finished");
}

/* --- a Redis restart mid-run, on a private server --- */

static void
start_private(void) {
    redis_srv_start(&redis, "127.0.0.1");
    struct wcsys_opts o = {.redis_url = redis.url};
    wcsys_init(&sys, &o);
    start_hosts();
}

static void
stop_private(void) {
    stop();
    redis_srv_free(&redis);
}

/* A suite of its own for its own set-up, with no timeout of its own: a
 * second timeout in one binary (per test or per suite) leaks 48 bytes in
 * Criterion's runner, which LeakSanitizer reports; run.sh's limit on the
 * binary bounds it. */
TestSuite(polite_outage, .init = start_private, .fini = stop_private);

Test(polite_outage, redis_restart_loses_no_job_and_breaks_no_limit) {
    enum { PER_HOST = 60 };
    wcsys_start_web(&sys);
    wcsys_start_worker(&sys, NULL);
    char url[160];
    for (int i = 0; i < PER_HOST; i++) {
        submit(host_url(0, "/slow/100", url, sizeof url));
        submit(host_url(1, "/slow/100", url, sizeof url));
    }
    /* Mid-run: some done, most not. */
    cr_assert(wait_results(10, 60000));
    redis_srv_stop(&redis, SIGTERM);
    sleep(2);
    redis_srv_start(&redis, "127.0.0.1");
    cr_assert(wait_results(2 * PER_HOST, 180000), "jobs were lost in the restart");
    for (int i = 0; i < nids; i++) cr_assert_eq(wcsys_rows(&sys, ids[i]), 1);
    cr_assert_leq(page_server_open_peak(hosts[0]), 2);
    cr_assert_leq(page_server_open_peak(hosts[1]), 2);
}
