/* A sharded queue: REDIS_URL names three private redis-servers on
 * loopback, each one shard (common/shards.h). Submissions spread over
 * every shard (by their host), each job lives on the shard its id names,
 * the workers drain every shard, and every job ends exactly once. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/job.h"
#include "common/keys.h"
#include "common/shards.h"
#include "tests/lib/servers.h"
#include "tests/lib/wcsys.h"

enum { NSHARDS = 3, MAX_HOSTS = 24, MAX_IDS = 200 };

static struct wcsys sys;
static struct redis_srv redis[NSHARDS];
static page_server_t *hosts[MAX_HOSTS];
static int nhosts;
static char urls[NSHARDS * 160];
static char *ids[MAX_IDS];
static int nids;

/* The one-shard REDIS_URL (shard 0's server alone) and the three-shard one. */
static void
start(void) {
    for (int i = 0; i < NSHARDS; i++) {
        /* Every write on disk before it is answered: a SIGKILL loses nothing. */
        redis[i].extra[0] = "--appendfsync";
        redis[i].extra[1] = "always";
        redis_srv_start(&redis[i], "127.0.0.1");
        snprintf(urls + strlen(urls), sizeof urls - strlen(urls), "%s%s", i ? "," : "",
                 redis[i].url);
    }
    struct wcsys_opts o = {.redis_url = urls};
    wcsys_init(&sys, &o);
    wcsys_write_page(&sys, "p.html", "<html><body><p>one two three</p></body></html>");
}

static void
stop(void) {
    for (int i = 0; i < nhosts; i++) page_server_stop(hosts[i]);
    nhosts = 0;
    for (int i = 0; i < nids; i++) free(ids[i]);
    nids = 0;
    wcsys_free(&sys);
    for (int i = 0; i < NSHARDS; i++) redis_srv_free(&redis[i]);
    memset(redis, 0, sizeof redis);
    urls[0] = '\0';
}

TestSuite(shards, .init = start, .fini = stop, .timeout = 240);

/* host_url writes page p.html of host h (with a query that makes each
 * URL a page of its own). */
static const char *
host_url(int h, int n, char *out, size_t len) {
    snprintf(out, len, "http://127.0.0.%d:%d/p.html?n=%d", h + 2, page_server_port(hosts[h]), n);
    return out;
}

/* start_hosts starts page servers, one per loopback address, until every
 * shard has one of them (the host decides the shard). */
static void
start_hosts(void) {
    bool covered[NSHARDS] = {false};
    int have = 0;
    char url[128];
    while (have < NSHARDS) {
        cr_assert_lt(nhosts, MAX_HOSTS, "hosts do not reach every shard");
        char ip[32];
        snprintf(ip, sizeof ip, "127.0.0.%d", nhosts + 2);
        hosts[nhosts] = page_server_start_on(sys.pages_dir, ip);
        cr_assert(hosts[nhosts], "cannot listen on %s", ip);
        int s = shards_of_url(host_url(nhosts, 0, url, sizeof url), NSHARDS);
        nhosts++;
        if (!covered[s]) covered[s] = true, have++;
    }
}

/* oracle connects to shard i's server. */
static redisContext *
oracle(int i) {
    struct timeval tv = {5, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", redis[i].port, tv);
    cr_assert(c && !c->err, "cannot reach shard %d", i);
    return c;
}

/* on_shard tells whether the job hash of id is on shard i (by its tagged key). */
static bool
on_shard(int i, const char *id) {
    struct keys k;
    struct keybuf kb;
    cr_assert_eq(keys_init_shard(&k, sys.prefix, i), 0);
    redisContext *c = oracle(i);
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
    redisContext *c = oracle(i);
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
        int h = n % nhosts;
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
    for (int h = 0; h < nhosts && deep < 0; h++)
        if (shards_of_url(host_url(h, 0, url, sizeof url), NSHARDS) == deep_shard) deep = h;
    cr_assert_geq(deep, 0);
    for (int n = 0; n < 100; n++) keep_id(wcsys_submit(&sys, host_url(deep, n, url, sizeof url)));
    int others = nids;
    for (int h = 0; h < nhosts; h++) {
        if (shards_of_url(host_url(h, 1000, url, sizeof url), NSHARDS) == deep_shard) continue;
        keep_id(wcsys_submit(&sys, url));
    }
    cr_assert_gt(nids, others);
    wcsys_start_worker(&sys, NULL);
    expect_finished_once(others, nids);
    /* By now the deep shard still has most of its jobs waiting. */
    int done = 0;
    for (int i = 0; i < others; i++) {
        json_t *j = wcsys_job(&sys, ids[i]);
        done += !strcmp(wcsys_status(j), "finished");
        json_decref(j);
    }
    cr_log_info("deep shard: %d of %d finished when the others were", done, others);
    cr_assert_lt(done, others / 2, "the other shards waited for the deep one: %d of %d done", done,
                 others);
    expect_finished_once(0, others);
    wcsys_stop_clean(&sys);
}

Test(shards, jobs_queued_on_one_shard_finish_after_the_move_to_three) {
    start_hosts();
    /* One shard, as a system ran before: its jobs queue up (no worker). */
    wcsys_env(&sys, "REDIS_URL", redis[0].url);
    wcsys_start_web_ready(&sys);
    char url[128];
    for (int n = 0; n < 30; n++) {
        char *id = wcsys_submit(&sys, host_url(n % nhosts, n, url, sizeof url));
        keep_id(id);
        cr_assert_eq(id[14], '7', "one shard's ids are UUIDv7: %s", id);
        cr_assert(on_shard(0, id));
    }
    int before = nids;
    /* The move: the same server listed first, two new ones after it. */
    wcsys_env(&sys, "REDIS_URL", urls);
    wcsys_start_web_ready(&sys);
    for (int i = 0; i < before; i++) {
        json_t *job = wcsys_keep_json(&sys, wcsys_job(&sys, ids[i]));
        cr_assert_str_eq(wcsys_status(job), "queued", "an old job read after the move");
        wcsys_drop(&sys, job);
    }
    for (int n = 0; n < 30; n++)
        keep_id(wcsys_submit(&sys, host_url(n % nhosts, 100 + n, url, sizeof url)));
    wcsys_start_worker(&sys, NULL);
    expect_finished_once(0, nids);
    for (int s = 0; s < NSHARDS; s++) cr_assert_eq(stream_len(s), 0, "shard %d drained", s);
    wcsys_stop_clean(&sys);
}
