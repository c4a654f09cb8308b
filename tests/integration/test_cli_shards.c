/* The admin CLI `wordcount` over a sharded queue: REDIS_URL lists three
 * private redis-servers (tests/lib/shardset), the real web and worker run
 * jobs on every shard. info sums and lists the shards, requeue
 * --all-failed and purge act on every shard, a job's command goes to the
 * shard its id names; with one shard down, the commands over the whole
 * queue name it and change nothing, info shows the others and says the
 * picture is partial, and the commands of the other shards' jobs work. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/keys.h"
#include "common/shards.h"
#include "tests/lib/run.h"
#include "tests/lib/shardset.h"
#include "tests/lib/testenv.h"
#include "tests/lib/wcsys.h"

enum { NSHARDS = 3, DOWN = 2 };

static struct wcsys sys;
static struct shardset set;

struct out {
    int rc;
    struct buf out, err;
};

/* Every command's output, freed by stop (an assertion ends a test at once). */
enum { MAX_OUTS = 40 };
static struct out outs[MAX_OUTS];
static int nouts;

static void
start(void) {
    shardset_start(&set, NSHARDS);
    struct wcsys_opts o = {.redis_url = set.urls};
    wcsys_init(&sys, &o);
    wcsys_write_page(&sys, "p.html", "<html><body><p>one two three</p></body></html>");
    shardset_hosts(&set, sys.pages_dir, 1);
}

static void
stop(void) {
    for (int i = 0; i < nouts; i++) {
        buf_free(&outs[i].out);
        buf_free(&outs[i].err);
    }
    nouts = 0;
    wcsys_free(&sys);
    shardset_free(&set);
}

TestSuite(cli_shards, .init = start, .fini = stop, .timeout = 240);

/* run runs bin/wordcount with the arguments (up to a NULL) in env; its
 * output is kept (freed by stop). cli(...) runs it in the system's
 * environment. */
static struct out *
run(const char *const *env, ...) {
    cr_assert_lt(nouts, MAX_OUTS);
    struct out *o = &outs[nouts++];
    buf_init(&o->out);
    buf_init(&o->err);
    va_list ap;
    va_start(ap, env);
    o->rc = run_program("wordcount", ap, env, NULL, 60000, &o->out, &o->err);
    va_end(ap);
    return o;
}
#define cli(...) run((const char *const *)sys.env, __VA_ARGS__)

static json_t *
json_of(const struct out *o) {
    json_t *v = json_loads(o->out.data ? o->out.data : "", 0, NULL);
    cr_assert_not_null(v, "not one JSON document: %s (stderr %s)", o->out.data, o->err.data);
    return wcsys_keep_json(&sys, v);
}

static long long
jint(const json_t *v, const char *key) {
    json_t *x = json_object_get(v, key);
    cr_assert(json_is_integer(x), "%s missing in %s", key, json_dumps(v, 0));
    return json_integer_value(x);
}

/* failed_set is the size of shard i's failed set, read on the server. */
static long long
failed_set(int i) {
    struct keys k;
    struct keybuf kb;
    cr_assert_eq(keys_init_shard(&k, sys.prefix, i), 0);
    redisContext *c = shardset_oracle(&set, i);
    redisReply *r = redisCommand(c, "ZCARD %s", keys_failed(&k, &kb));
    long long n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    redisFree(c);
    return n;
}

/* wait_failed waits until the shards' "failed" counters add up to n. */
static void
wait_failed(long long n) {
    long long sum = 0;
    for (int t = 0; t < 600; t++) {
        sum = 0;
        for (int i = 0; i < NSHARDS; i++) sum += shardset_counter(&set, i, sys.prefix, "failed");
        if (sum >= n) return;
        usleep(100 * 1000);
    }
    cr_assert_fail("failed counters reached %lld, not %lld", sum, n);
}

Test(cli_shards, every_shard_and_one_down) {
    wcsys_start_web_ready(&sys);
    wcsys_start_worker(&sys, NULL);
    /* On each shard: a page that is counted and one that fails for good. */
    char *good[NSHARDS], *bad[NSHARDS], url[160];
    for (int s = 0; s < NSHARDS; s++) {
        int h = shardset_host_of(&set, s, 0);
        good[s] = wcsys_keep(
            &sys, wcsys_submit(&sys, shardset_host_url(&set, h, "/p.html", url, sizeof url)));
        bad[s] = wcsys_keep(
            &sys, wcsys_submit(&sys, shardset_host_url(&set, h, "/status/404", url, sizeof url)));
        cr_assert_eq(shards_of_id(good[s], NSHARDS), s);
        cr_assert_eq(shards_of_id(bad[s], NSHARDS), s);
    }
    for (int s = 0; s < NSHARDS; s++) {
        json_t *j = wcsys_keep_json(&sys, wcsys_wait_status(&sys, bad[s], "failed", 60000));
        wcsys_drop(&sys, j);
        j = wcsys_keep_json(&sys, wcsys_wait_status(&sys, good[s], "finished", 60000));
        wcsys_drop(&sys, j);
    }

    /* info: the sums, and each shard's part. */
    struct out *o = cli("info", "--json", NULL);
    cr_assert_eq(o->rc, 0, "%s", o->err.data);
    json_t *v = json_of(o);
    cr_assert_eq(jint(v, "failed"), NSHARDS);
    cr_assert_eq(jint(v, "shards"), NSHARDS);
    cr_assert_eq(jint(v, "shards_unreadable"), 0);
    cr_assert_eq(jint(json_object_get(v, "failed_by_reason"), "http_404"), NSHARDS);
    cr_assert_eq(jint(json_object_get(v, "jobs"), "finished"), NSHARDS);
    long long sum = 0;
    for (int s = 0; s < NSHARDS; s++) sum += shardset_counter(&set, s, sys.prefix, "submitted");
    cr_assert_eq(sum, 2 * NSHARDS);
    cr_assert_eq(jint(json_object_get(v, "counters"), "submitted"), sum);
    json_t *by = json_object_get(v, "by_shard");
    cr_assert_eq(json_array_size(by), NSHARDS);
    for (int s = 0; s < NSHARDS; s++) {
        json_t *e = json_array_get(by, (size_t)s);
        cr_assert_eq(jint(e, "shard"), s);
        cr_assert_eq(jint(e, "failed"), 1, "%s", json_dumps(e, 0));
    }
    o = cli("info", NULL);
    cr_assert_eq(o->rc, 0, "%s", o->err.data);
    char want[128];
    snprintf(want, sizeof want, "Redis shard 2 (127.0.0.1:%d)", set.redis[2].port);
    cr_assert(strstr(o->out.data, "(3 Redis shards, 0 unreadable)") && strstr(o->out.data, want),
              "%s", o->out.data);

    /* A job's command goes to the shard its id names. */
    o = cli("requeue", "--json", bad[1], NULL);
    cr_assert_eq(o->rc, 0, "%s", o->err.data);
    wait_failed(NSHARDS + 1);
    o = cli("cancel", good[2], NULL);
    cr_assert_eq(o->rc, 1, "%s", o->err.data);
    cr_assert(strstr(o->err.data, "is finished"), "%s", o->err.data);

    /* Every shard's failed jobs, each once. */
    o = cli("requeue", "--all-failed", "--json", NULL);
    cr_assert_eq(o->rc, 0, "%s", o->err.data);
    v = json_of(o);
    cr_assert_eq(jint(v, "requeued"), NSHARDS);
    cr_assert(json_is_true(json_object_get(v, "complete")));
    for (int s = 0; s < NSHARDS; s++)
        cr_assert_eq(jint(json_array_get(json_object_get(v, "shards"), (size_t)s), "requeued"), 1);
    wait_failed(2 * NSHARDS + 1);
    for (int s = 0; s < NSHARDS; s++) cr_assert_eq(failed_set(s), 1, "shard %d", s);

    /* One shard down. */
    redis_srv_stop(&set.redis[DOWN], SIGKILL);
    snprintf(want, sizeof want, "cannot reach Redis shard %d (127.0.0.1:%d)", DOWN,
             set.redis[DOWN].port);
    o = cli("--timeout", "1", "info", "--json", NULL);
    cr_assert_eq(o->rc, 69, "a partial picture is not a success: %s", o->err.data);
    cr_assert(strstr(o->err.data, want), "%s", o->err.data);
    v = json_of(o);
    cr_assert_eq(jint(v, "failed"), NSHARDS - 1, "the others' part");
    cr_assert_eq(jint(v, "shards_unreadable"), 1);
    json_t *gone = json_array_get(json_object_get(v, "by_shard"), DOWN);
    cr_assert(json_string_length(json_object_get(gone, "error")) > 0, "%s", json_dumps(gone, 0));
    o = cli("--timeout", "1", "info", NULL);
    cr_assert_eq(o->rc, 69);
    cr_assert(strstr(o->out.data, "unreadable:") && strstr(o->out.data, "1 unreadable"), "%s",
              o->out.data);

    /* Over the whole queue: nothing is done, and the error says which and so. */
    o = cli("--timeout", "1", "requeue", "--all-failed", NULL);
    cr_assert_eq(o->rc, 69);
    cr_assert(strstr(o->err.data, want) && strstr(o->err.data, "nothing requeued"), "%s",
              o->err.data);
    cr_assert_eq(o->out.len, 0, "%s", o->out.data);
    o = cli("--timeout", "1", "purge", "--failed", "--finished", "--json", NULL);
    cr_assert_eq(o->rc, 69);
    cr_assert(strstr(o->err.data, want) && strstr(o->err.data, "nothing deleted"), "%s",
              o->err.data);
    cr_assert_eq(o->out.len, 0, "%s", o->out.data);
    for (int s = 0; s < NSHARDS; s++)
        if (s != DOWN) cr_assert_eq(failed_set(s), 1, "shard %d untouched", s);

    /* A job of the down shard cannot be reached; the others' can. */
    o = cli("--timeout", "1", "requeue", bad[DOWN], NULL);
    cr_assert_eq(o->rc, 69);
    cr_assert(strstr(o->err.data, want), "%s", o->err.data);
    o = cli("--timeout", "1", "cancel", good[0], NULL);
    cr_assert_eq(o->rc, 1, "%s", o->err.data);
    /* A batch goes to a shard that answers. */
    char list[160];
    snprintf(list, sizeof list, "%s/urls.txt", sys.dir);
    FILE *f = fopen(list, "w");
    cr_assert_not_null(f);
    fprintf(f, "%s\n", shardset_host_url(&set, 0, "/p.html?batch", url, sizeof url));
    fclose(f);
    o = cli("--timeout", "1", "enqueue", "--no-wait", "--json", list, NULL);
    cr_assert_eq(o->rc, 0, "%s", o->err.data);
    char id[40];
    cr_assert(sscanf(strstr(o->out.data, "\"id\":\"") + 6, "%36[0-9a-f-]", id) == 1, "%s",
              o->out.data);
    cr_assert_neq(shards_of_id(id, NSHARDS), DOWN, "%s", o->err.data);

    /* Back: purge reaches every shard. */
    redis_srv_start(&set.redis[DOWN], "127.0.0.1");
    o = cli("purge", "--failed", "--json", NULL);
    cr_assert_eq(o->rc, 0, "%s", o->err.data);
    v = json_of(o);
    cr_assert_eq(jint(v, "failed_deleted"), NSHARDS, "%s", o->out.data);
    for (int s = 0; s < NSHARDS; s++) cr_assert_eq(failed_set(s), 0, "shard %d", s);
    wcsys_stop_clean(&sys);
}
