/* A sharded queue: REDIS_URL names three private redis-servers on
 * loopback, each one shard (common/shards.h). Submissions spread over
 * every shard (by their host), each job lives on the shard its id names,
 * the workers drain every shard, and every job ends exactly once. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/job.h"
#include "common/keys.h"
#include "common/shards.h"
#include "common/xalloc.h"
#include "tests/lib/http_client.h"
#include "tests/lib/servers.h"
#include "tests/lib/shardset.h"
#include "tests/lib/wcsys.h"

enum { NSHARDS = 3, MAX_IDS = 200 };

static struct wcsys sys;
static struct shardset set; /* the shards' servers and the page hosts */
static char *ids[MAX_IDS];
static int nids;

/* The one-shard REDIS_URL (shard 0's server alone) and the three-shard one. */
static void
start(void) {
    shardset_start(&set, NSHARDS);
    struct wcsys_opts o = {.redis_url = set.urls};
    wcsys_init(&sys, &o);
    wcsys_write_page(&sys, "p.html", "<html><body><p>one two three</p></body></html>");
}

static void
stop(void) {
    for (int i = 0; i < nids; i++) free(ids[i]);
    nids = 0;
    wcsys_free(&sys);
    shardset_free(&set);
}

TestSuite(shards, .init = start, .fini = stop, .timeout = 240);

/* host_url writes page p.html of host h (with a query that makes each
 * URL a page of its own). */
static const char *
host_url(int h, int n, char *out, size_t len) {
    char path[32];
    snprintf(path, sizeof path, "/p.html?n=%d", n);
    return shardset_host_url(&set, h, path, out, len);
}

/* start_hosts starts page servers until every shard has one of them
 * (the host decides the shard). */
static void
start_hosts(void) {
    shardset_hosts(&set, sys.pages_dir, 1);
}

/* on_shard tells whether the job hash of id is on shard i (by its tagged key). */
static bool
on_shard(int i, const char *id) {
    struct keys k;
    struct keybuf kb;
    cr_assert_eq(keys_init_shard(&k, sys.prefix, i), 0);
    redisContext *c = shardset_oracle(&set, i);
    redisReply *r = redisCommand(c, "EXISTS %s", keys_job(&k, id, &kb));
    bool yes = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    redisFree(c);
    return yes;
}

/* stream_len is the length of shard i's queue stream. */
static long long
stream_len(int i) {
    struct keys k;
    struct keybuf kb;
    cr_assert_eq(keys_init_shard(&k, sys.prefix, i), 0);
    redisContext *c = shardset_oracle(&set, i);
    redisReply *r = redisCommand(c, "XLEN %s", keys_queue(&k, &kb));
    long long n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    redisFree(c);
    return n;
}

static void
keep_id(char *id) {
    cr_assert_lt(nids, MAX_IDS);
    ids[nids++] = id;
}

/* expect_finished_once: every job finished after one attempt, one row. */
static void
expect_finished_once(int from, int to) {
    for (int i = from; i < to; i++) {
        json_t *job =
            wcsys_keep_json(&sys, wcsys_wait_status(&sys, ids[i], "finished,failed", 90000));
        cr_assert_str_eq(wcsys_status(job), "finished", "%s", json_dumps(job, 0));
        cr_assert_eq(json_integer_value(json_object_get(job, "attempts")), 1, "%s",
                     json_dumps(job, 0));
        cr_assert_eq(wcsys_rows(&sys, ids[i]), 1, "job %s", ids[i]);
        wcsys_drop(&sys, job);
    }
}

Test(shards, submissions_spread_over_every_shard_and_every_job_ends_once) {
    start_hosts();
    wcsys_start_web_ready(&sys);
    /* Queued before any worker runs: every shard holds jobs, then the
     * workers drain them all. */
    int per_shard[NSHARDS] = {0};
    char url[128];
    for (int n = 0; n < 90; n++) {
        int h = n % set.nhosts;
        host_url(h, n, url, sizeof url);
        char *id = wcsys_submit(&sys, url);
        keep_id(id);
        int s = shards_of_url(url, NSHARDS);
        cr_assert_eq(shards_of_id(id, NSHARDS), s, "job %s of %s names its host's shard", id, url);
        cr_assert(on_shard(s, id), "job %s is on shard %d", id, s);
        for (int o = 0; o < NSHARDS; o++)
            if (o != s) cr_assert_not(on_shard(o, id), "job %s also on shard %d", id, o);
        per_shard[s]++;
    }
    for (int s = 0; s < NSHARDS; s++) {
        cr_log_info("shard %d: %d jobs", s, per_shard[s]);
        cr_assert_gt(per_shard[s], 0, "shard %d got no job", s);
        cr_assert_eq(stream_len(s), per_shard[s], "shard %d's stream", s);
    }
    /* A job read by id goes to its shard: queued, before any worker. */
    json_t *job = wcsys_keep_json(&sys, wcsys_job(&sys, ids[nids - 1]));
    cr_assert_str_eq(wcsys_status(job), "queued");
    wcsys_start_worker(&sys, NULL);
    expect_finished_once(0, nids);
    for (int s = 0; s < NSHARDS; s++) cr_assert_eq(stream_len(s), 0, "shard %d drained", s);
    /* The statistics are the sum over the shards. */
    long status;
    json_t *st = wcsys_keep_json(&sys, wcsys_http(&sys, "GET", "/api/v1/stats", NULL, &status));
    cr_assert_eq(status, 200);
    json_t *counts = json_object_get(st, "counts");
    long long sum_finished = 0, sum_submitted = 0;
    for (int s = 0; s < NSHARDS; s++) {
        long long f = shardset_counter(&set, s, sys.prefix, "finished");
        cr_assert_eq(f, per_shard[s], "shard %d counted its own jobs", s);
        sum_finished += f;
        sum_submitted += shardset_counter(&set, s, sys.prefix, "submitted");
    }
    cr_assert_eq(sum_finished, nids);
    cr_assert_eq(json_integer_value(json_object_get(counts, "finished")), sum_finished, "%s",
                 json_dumps(counts, 0));
    cr_assert_eq(json_integer_value(json_object_get(counts, "submitted")), sum_submitted);
    cr_assert_eq(json_integer_value(json_object_get(st, "shards")), NSHARDS);
    cr_assert_eq(json_integer_value(json_object_get(st, "shards_unreadable")), 0);
    /* A search pages through every shard's jobs, newest first, each once. */
    char path[160], prev[JOB_ID_LEN + 1] = "";
    int seen = 0;
    snprintf(path, sizeof path, "/api/v1/jobs?limit=7");
    for (int page = 0; page < 40; page++) {
        json_t *res = wcsys_keep_json(&sys, wcsys_http(&sys, "GET", path, NULL, &status));
        cr_assert_eq(status, 200);
        json_t *jobs = json_object_get(res, "jobs"), *j;
        size_t i;
        json_array_foreach(jobs, i, j) {
            const char *id = json_string_value(json_object_get(j, "id"));
            cr_assert(!prev[0] || strcmp(id, prev) < 0, "%s after %s", id, prev);
            snprintf(prev, sizeof prev, "%s", id);
            seen++;
        }
        const char *next = json_string_value(json_object_get(res, "next_cursor"));
        if (!next) break;
        snprintf(path, sizeof path, "/api/v1/jobs?limit=7&cursor=%s", next);
        wcsys_drop(&sys, res);
    }
    cr_assert_eq(seen, nids, "every job found once");
    wcsys_stop_clean(&sys);
}

/* post answers a submission of url: its status, and the Retry-After. */
static long
post(const char *url, char *retry_after, size_t n) {
    char api[128], body[512];
    snprintf(api, sizeof api, "%s/api/v1/jobs", sys.base);
    snprintf(body, sizeof body, "{\"url\": \"%s\", \"fresh\": true}", url);
    struct http_response r;
    cr_assert_eq(http_request("POST", api, "application/json", body, NULL, &r), 0);
    long status = r.status;
    if (retry_after && http_header(&r, "Retry-After", retry_after, n) < 0) retry_after[0] = '\0';
    if (status == 202) {
        json_t *v = json_loads(r.body.data, 0, NULL);
        keep_id(xstrdup(json_string_value(json_object_get(v, "id"))));
        json_decref(v);
    }
    http_response_free(&r);
    return status;
}

Test(shards, a_shard_down_makes_only_its_own_jobs_wait) {
    start_hosts();
    enum { VICTIM = 1 };
    int victim_host = -1, other_host[NSHARDS] = {-1, -1, -1};
    char url[160];
    for (int h = 0; h < set.nhosts; h++) {
        int s = shards_of_url(host_url(h, 0, url, sizeof url), NSHARDS);
        if (s == VICTIM && victim_host < 0) victim_host = h;
        if (other_host[s] < 0) other_host[s] = h;
    }
    wcsys_start_web_ready(&sys);
    wcsys_start_worker(&sys, NULL);
    /* The victim's jobs: slow pages, so some are in flight at the kill. */
    char page[96];
    for (int n = 0; n < 10; n++) {
        snprintf(page, sizeof page, "/slow/1500?n=%d", n);
        shardset_host_url(&set, victim_host, page, url, sizeof url);
        cr_assert_eq(post(url, NULL, 0), 202);
    }
    int victims = nids;
    json_t *j = wcsys_keep_json(&sys, wcsys_wait_status(&sys, ids[0], "started,finished", 30000));
    wcsys_drop(&sys, j);
    redis_srv_stop(&set.redis[VICTIM], SIGKILL);

    /* Its submissions: 503 with Retry-After (the web may first have to
     * see the connection drop: then the command fails, also 503). */
    char retry[32];
    host_url(victim_host, 500, page, sizeof page);
    cr_assert_eq(post(page, retry, sizeof retry), 503);
    cr_assert(retry[0], "503 without Retry-After");
    /* The other shards' jobs go on, submitted and finished meanwhile. */
    int from = nids;
    for (int n = 0; n < 20; n++) {
        int s = n % NSHARDS == VICTIM ? 0 : n % NSHARDS;
        cr_assert_eq(post(host_url(other_host[s], 600 + n, url, sizeof url), NULL, 0), 202);
    }
    expect_finished_once(from, nids);
    long status;
    json_t *ready = wcsys_keep_json(&sys, wcsys_http(&sys, "GET", "/readyz", NULL, &status));
    cr_assert_eq(status, 200, "one shard down leaves the web ready");
    cr_assert_str_eq(json_string_value(json_object_get(ready, "redis")), "degraded");
    cr_assert_str_eq(
        json_string_value(json_array_get(json_object_get(ready, "redis_shards"), VICTIM)), "down");
    /* A read of a victim's job says it cannot be answered now. */
    char path[96];
    snprintf(path, sizeof path, "/api/v1/jobs/%s", ids[1]);
    json_t *v = wcsys_keep_json(&sys, wcsys_http(&sys, "GET", path, NULL, &status));
    cr_assert_eq(status, 503);
    wcsys_drop(&sys, v);

    /* Back: every job of the victim ends once, nothing lost; it takes
     * submissions again. */
    redis_srv_start(&set.redis[VICTIM], "127.0.0.1");
    for (int i = 0; i < victims; i++) {
        json_t *job =
            wcsys_keep_json(&sys, wcsys_wait_status(&sys, ids[i], "finished,failed", 90000));
        cr_assert_str_eq(wcsys_status(job), "finished", "%s", json_dumps(job, 0));
        cr_assert_eq(wcsys_rows(&sys, ids[i]), 1, "job %s stored once", ids[i]);
        wcsys_drop(&sys, job);
    }
    long long deadline = wcsys_now_ms() + 30000;
    long st;
    while ((st = post(host_url(victim_host, 700, page, sizeof page), NULL, 0)) == 503 &&
           wcsys_now_ms() < deadline)
        usleep(100 * 1000);
    cr_assert_eq(st, 202, "the shard takes submissions again");
    expect_finished_once(nids - 1, nids);
    wcsys_stop_clean(&sys);
}

Test(shards, a_deep_shard_does_not_starve_the_others) {
    start_hosts();
    /* One worker process taking one job at a time: with a hundred jobs
     * on one shard, a job of each other shard still runs long before the
     * deep one is drained. */
    wcsys_env(&sys, "WORKER_PROCESSES", "1");
    wcsys_env(&sys, "WORKER_CONCURRENCY", "1");
    wcsys_start_web_ready(&sys);
    /* The deep one is shard 0, which a reader that went through the
     * shards in order would drain first. */
    char url[128];
    int deep = -1, deep_shard = 0;
    for (int h = 0; h < set.nhosts && deep < 0; h++)
        if (shards_of_url(host_url(h, 0, url, sizeof url), NSHARDS) == deep_shard) deep = h;
    cr_assert_geq(deep, 0);
    for (int n = 0; n < 100; n++) keep_id(wcsys_submit(&sys, host_url(deep, n, url, sizeof url)));
    int ndeep = nids;
    for (int h = 0; h < set.nhosts; h++) {
        if (shards_of_url(host_url(h, 1000, url, sizeof url), NSHARDS) == deep_shard) continue;
        keep_id(wcsys_submit(&sys, url));
    }
    cr_assert_gt(nids, ndeep);
    wcsys_start_worker(&sys, NULL);
    expect_finished_once(ndeep, nids);
    expect_finished_once(0, ndeep);
    /* By the order of their ends (not by when this test looks): when the
     * other shards' last job ended, most of the deep shard's had not. */
    long long last_other = 0;
    for (int i = ndeep; i < nids; i++) {
        json_t *j = wcsys_job(&sys, ids[i]);
        long long at = wcsys_time_ms(json_string_value(json_object_get(j, "finished_at")));
        json_decref(j);
        cr_assert_gt(at, 0);
        if (at > last_other) last_other = at;
    }
    int done = 0;
    for (int i = 0; i < ndeep; i++) {
        json_t *j = wcsys_job(&sys, ids[i]);
        done += wcsys_time_ms(json_string_value(json_object_get(j, "finished_at"))) < last_other;
        json_decref(j);
    }
    cr_log_info("deep shard: %d of %d ended before the others' last", done, ndeep);
    cr_assert_lt(done, ndeep / 2, "the other shards waited for the deep one: %d of %d first", done,
                 ndeep);
    wcsys_stop_clean(&sys);
}

Test(shards, jobs_queued_on_one_shard_finish_after_the_move_to_three) {
    start_hosts();
    /* One shard, as a system ran before: its jobs queue up (no worker). */
    wcsys_env(&sys, "REDIS_URL", set.redis[0].url);
    wcsys_start_web_ready(&sys);
    char url[128];
    for (int n = 0; n < 30; n++) {
        char *id = wcsys_submit(&sys, host_url(n % set.nhosts, n, url, sizeof url));
        keep_id(id);
        cr_assert_eq(id[14], '7', "one shard's ids are UUIDv7: %s", id);
        cr_assert(on_shard(0, id));
    }
    int before = nids;
    /* The move: the same server listed first, two new ones after it. */
    wcsys_env(&sys, "REDIS_URL", set.urls);
    wcsys_start_web_ready(&sys);
    for (int i = 0; i < before; i++) {
        json_t *job = wcsys_keep_json(&sys, wcsys_job(&sys, ids[i]));
        cr_assert_str_eq(wcsys_status(job), "queued", "an old job read after the move");
        wcsys_drop(&sys, job);
    }
    for (int n = 0; n < 30; n++)
        keep_id(wcsys_submit(&sys, host_url(n % set.nhosts, 100 + n, url, sizeof url)));
    wcsys_start_worker(&sys, NULL);
    expect_finished_once(0, nids);
    for (int s = 0; s < NSHARDS; s++) cr_assert_eq(stream_len(s), 0, "shard %d drained", s);
    wcsys_stop_clean(&sys);
}
