/* shardset — several private redis-servers on loopback, each one shard of
 * a sharded queue (common/shards.h), and page servers on distinct
 * loopback addresses so that jobs reach every shard (a job's shard is
 * its host's).
 *
 * Owns: the servers (tests/lib/servers.h: append-only file on, written
 * before a reply goes out, so a SIGKILL of the server loses nothing), the
 * REDIS_URL that lists them, and the page servers (each serving the
 * caller's pages folder). shardset_free stops and removes them all.
 * Functions fail the current Criterion test when something cannot start;
 * shardset_free never fails. */
#ifndef WC_TEST_SHARDSET_H
#define WC_TEST_SHARDSET_H

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "tests/lib/page_server.h"
#include "tests/lib/servers.h"

#define SHARDSET_MAX 8
#define SHARDSET_MAX_HOSTS 48

struct shardset {
    int n;
    struct redis_srv redis[SHARDSET_MAX];
    char urls[SHARDSET_MAX * 160]; /* REDIS_URL: the servers, comma-separated, in shard order */
    page_server_t *hosts[SHARDSET_MAX_HOSTS];
    int host_shard[SHARDSET_MAX_HOSTS];
    int nhosts;
};

/* shardset_start starts n (1..SHARDSET_MAX) Redis servers. */
void shardset_start(struct shardset *s, int n);
/* shardset_hosts starts page servers on 127.0.0.2, .3, ... serving
 * pages_dir until every shard has at least per_shard of them. */
void shardset_hosts(struct shardset *s, const char *pages_dir, int per_shard);
/* shardset_host_url writes the URL of path on host h into out. */
const char *shardset_host_url(const struct shardset *s, int h, const char *path, char *out,
                              size_t n);
/* shardset_host_of returns the k-th host (from 0, wrapping) of shard. */
int shardset_host_of(const struct shardset *s, int shard, int k);
/* shardset_oracle connects to shard i's server (the caller redisFree's it). */
redisContext *shardset_oracle(const struct shardset *s, int i);
/* shardset_counter reads a field of shard i's statistics hash (0 when
 * unset) under key prefix. */
long long shardset_counter(const struct shardset *s, int i, const char *prefix, const char *field);
/* shardset_sum adds up field over every shard but `but` (-1: all). */
long long shardset_sum(const struct shardset *s, const char *prefix, const char *field, int but);
/* shardset_counts_match compares the job counters of a statistics
 * answer (/api/v1/stats's "counts": submitted, started, finished, ...)
 * with the sums of the shards' own hashes; true when every one is equal.
 * out gets "name api/sum, ..." (NUL-terminated). */
bool shardset_counts_match(const struct shardset *s, const char *prefix, const json_t *counts,
                           char *out, size_t n);
void shardset_free(struct shardset *s);

#endif
