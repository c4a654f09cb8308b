/* shardset.c — several Redis shards and page hosts for tests. See shardset.h. */
#include "tests/lib/shardset.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/keys.h"
#include "common/shards.h"

void
shardset_start(struct shardset *s, int n) {
    cr_assert(n >= 1 && n <= SHARDSET_MAX, "shards: %d", n);
    s->n = n;
    s->urls[0] = '\0';
    for (int i = 0; i < n; i++) {
        /* Every write on disk before it is answered: a SIGKILL loses nothing. */
        s->redis[i].extra[0] = "--appendfsync";
        s->redis[i].extra[1] = "always";
        redis_srv_start(&s->redis[i], "127.0.0.1");
        size_t len = strlen(s->urls);
        snprintf(s->urls + len, sizeof s->urls - len, "%s%s", i ? "," : "", s->redis[i].url);
    }
}

const char *
shardset_host_url(const struct shardset *s, int h, const char *path, char *out, size_t n) {
    snprintf(out, n, "http://127.0.0.%d:%d%s", h + 2, page_server_port(s->hosts[h]), path);
    return out;
}

void
shardset_hosts(struct shardset *s, const char *pages_dir, int per_shard) {
    int have[SHARDSET_MAX] = {0};
    for (;;) {
        int short_of = 0;
        for (int i = 0; i < s->n; i++) short_of += have[i] < per_shard;
        if (!short_of) return;
        cr_assert_lt(s->nhosts, SHARDSET_MAX_HOSTS, "hosts do not reach every shard");
        char ip[32], url[128];
        int h = s->nhosts;
        snprintf(ip, sizeof ip, "127.0.0.%d", h + 2);
        s->hosts[h] = page_server_start_on(pages_dir, ip);
        cr_assert(s->hosts[h], "cannot listen on %s", ip);
        s->nhosts++;
        /* The shard of a URL is its host's, whatever the path. */
        s->host_shard[h] = shards_of_url(shardset_host_url(s, h, "/", url, sizeof url), s->n);
        have[s->host_shard[h]]++;
    }
}

int
shardset_host_of(const struct shardset *s, int shard, int k) {
    int count = 0;
    for (int h = 0; h < s->nhosts; h++)
        if (s->host_shard[h] == shard) count++;
    cr_assert_gt(count, 0, "no host on shard %d", shard);
    k %= count;
    for (int h = 0; h < s->nhosts; h++)
        if (s->host_shard[h] == shard && k-- == 0) return h;
    return -1;
}

redisContext *
shardset_oracle(const struct shardset *s, int i) {
    struct timeval tv = {5, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", s->redis[i].port, tv);
    cr_assert(c && !c->err, "cannot reach shard %d", i);
    return c;
}

long long
shardset_counter(const struct shardset *s, int i, const char *prefix, const char *field) {
    struct keys k;
    struct keybuf kb;
    cr_assert_eq(keys_init_shard(&k, prefix, i), 0);
    redisContext *c = shardset_oracle(s, i);
    redisReply *r = redisCommand(c, "HGET %s %s", keys_stats(&k, &kb), field);
    long long n = r && r->type == REDIS_REPLY_STRING ? atoll(r->str) : 0;
    freeReplyObject(r);
    redisFree(c);
    return n;
}

long long
shardset_sum(const struct shardset *s, const char *prefix, const char *field, int but) {
    long long n = 0;
    for (int i = 0; i < s->n; i++)
        if (i != but) n += shardset_counter(s, i, prefix, field);
    return n;
}

bool
shardset_counts_match(const struct shardset *s, const char *prefix, const json_t *counts, char *out,
                      size_t n) {
    static const char *const fields[] = {"submitted", "started", "finished", "failed",
                                         "canceled",  "retried", "rescued",  "requeued"};
    bool equal = json_is_object(counts);
    size_t len = 0;
    out[0] = '\0';
    for (size_t f = 0; f < sizeof fields / sizeof *fields && len < n; f++) {
        long long sum = shardset_sum(s, prefix, fields[f], -1);
        long long api = json_integer_value(json_object_get(counts, fields[f]));
        equal = equal && api == sum;
        len += (size_t)snprintf(out + len, n - len, "%s%s %lld/%lld", f ? ", " : "", fields[f], api,
                                sum);
    }
    return equal;
}

void
shardset_free(struct shardset *s) {
    for (int h = 0; h < s->nhosts; h++) page_server_stop(s->hosts[h]);
    for (int i = 0; i < s->n; i++) redis_srv_free(&s->redis[i]);
    memset(s, 0, sizeof *s);
}
