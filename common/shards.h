/* shards — which Redis shard a job, a host or a batch belongs to.
 *
 * REDIS_URL may list several Redis servers (common/config.h); each is one
 * shard, numbered in list order, with its own keys (common/keys.h:
 * keys_init_shard). Everything one job touches lives on one shard: its
 * hash, its stream entry, its page's dedup and freshness keys, the search
 * indexes and its host's politeness state. So a job is submitted to the
 * shard of its host (the "name:port" of common/hosts.h, hashed with
 * SHA-256): a page's dedup and freshness checks stay atomic (a page has
 * one host), and the script that parks a job waiting for a slot of its
 * host sees that host's slots. A batch and all its jobs live on one
 * shard, drawn for the batch (batch.h's scripts record a job's end in
 * its batch's hash atomically).
 *
 * The shard is written into the job's id (common/job.h, job_id_new_on),
 * so any process finds a job's shard from its id alone, and ids made
 * before there were shards (UUIDv7) name shard 0, where a one-shard
 * system's keys stay. Adding shards later moves hosts between shards for
 * new submissions only; every existing job stays where its id says.
 *
 * Pure functions, no state. */
#ifndef WC_SHARDS_H
#define WC_SHARDS_H

/* shards_of_host returns host's shard among n (0 when n is 1). */
int shards_of_host(const char *host, int n);
/* shards_of_url returns the shard of a URL's host among n (the
 * normalised URL, common/url_norm.h); a URL without an http(s) host is
 * placed by the URL itself. */
int shards_of_url(const char *url_key, int n);
/* shards_of_id returns the shard job (or batch) id names, or -1 when the
 * id is malformed or names a shard at or past n. */
int shards_of_id(const char *id, int n);
/* shards_draw picks a shard among n for something that has no URL (a
 * batch): evenly, at random. */
int shards_draw(int n);

#endif
