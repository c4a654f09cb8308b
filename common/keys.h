/* keys — the Redis key schema: every key wordcount uses, under the
 * configured prefix. No other file spells a key.
 *
 * Pure functions over a struct keys (no I/O), so they are unit-tested.
 * Each writes into a caller-owned struct keybuf and returns its string
 * (NULL when an argument is unusable).
 *
 * Three scopes. Shard keys are what one job's life touches; the queue's
 * Lua scripts use them together, so they stay in one Redis Cluster slot.
 * Host keys are about one web host, shared by every job that fetches
 * from it (hosts.h's scripts take only host keys and the stats hash);
 * they are shard keys too, of the host's shard (common/shards.h: a job
 * is submitted to its host's shard, so the scripts that park a job
 * waiting for its host's slot stay single-slot). Process keys are
 * written by one process about itself (or by the web tier) and read by
 * the statistics; they live on shard 0.
 *
 * Shards (REDIS_URL lists several servers, common/shards.h): a struct
 * keys is one shard's (keys_init_shard). Shard i >= 1 puts the hash tag
 * "{s<i>}" right after the prefix of every shard and host key, so a
 * shard's keys share a slot and the same layout can later run on Redis
 * Cluster. Shard 0's keys carry no tag: they are the names a one-shard
 * system has always used, so that system becomes shard 0 of several
 * without moving a key (README, "Scaling").
 *
 *   shard   {p}job:{id}        hash   the job's state (common/queue.h lists its fields)
 *   shard   {p}queue           stream the queue; entries carry field "id"; consumer
 *                                     group KEYS_GROUP; XACK+XDEL when a job ends
 *   shard   {p}retry           zset   jobs waiting out a backoff, score = due time (ms)
 *   shard   {p}failed          zset   failed jobs, score = failure time (ms)
 *   shard   {p}stats           hash   counters and histograms (common/stats.h)
 *   shard   {p}ts:{minute}     hash   jobs ended per second of one minute (common/stats.h)
 *   shard   {p}idem:{key}      string Idempotency-Key -> "<body hash> <job id>" (24 h)
 *   shard   {p}live:{hash}     string a page's newest job (dedup; queue_submit.lua joins it
 *                                     while it is live); hash = SHA-256 of the normalised URL
 *   shard   {p}page:{hash}     hash   the page's note (QUEUE_PAGE_TTL_S): its newest finished
 *                                     job ("job"), when that ended ("at", ms) and whether its
 *                                     stored result has validators ("v": "1"/"0"); max_age
 *                                     is answered from it, and only a "v" page is looked up
 *                                     in Postgres for a conditional fetch
 *   shard   {p}page:{hash}:job hash   a copy of that job's hash as it finished, kept as long
 *                                     as a job hash (RESULT_TTL): a max_age submit is
 *                                     answered with it in the submit script's one call
 *   shard   {p}events:{id}     stream the job's state changes (common/lua/lib/event.lua);
 *                                     expires with the job hash; ids are SSE event ids
 *   shard   {p}hooks           zset   webhook deliveries due, member = job id, score = due
 *                                     or lease end (ms) (worker/hooks.h)
 *   shard   {p}hook:{id}       hash   the webhook delivery of a job's end and its attempts
 *   shard   {p}hook_failing    hash   callback URL -> JSON of its last failure (dashboard)
 *   shard   {p}batch:{id}      hash   a batch (common/batch.h): its totals, options, and once
 *                                     ended its counts and finished_at
 *   shard   {p}batch:{id}:lines list  one entry per line submitted, in order (batch.h)
 *   shard   {p}batch:{id}:jobs list   the job id of each valid line, in order
 *   shard   {p}batches         zset   batch id -> creation time (ms), the newest kept
 *   shard   {p}ix:all          zset   search index (common/job_search.h): every job id, all
 *                                     scores 0, so members sort by id = by creation time
 *                                     (UUIDv7); trimmed by age at each add
 *   shard   {p}ix:host:{h}     zset   the same, the jobs of one host h (lower case, no port)
 *   shard   {p}ix:url:{hash}   zset   the same, the jobs of one page (hash as keys_live's)
 *   shard   {p}ix:err:{code}   zset   the same, the jobs that ended an attempt with error code
 *   channel {p}events                 pub/sub: "<id> <state> <event id>" per state change
 *   host    {p}host:{h}        hash   one host's politeness state (common/hosts.h); h is
 *                                     "host:port", lower case
 *   host    {p}host:{h}:slots  zset   fetches in flight to h: token -> lease expiry (ms)
 *   host    {p}host:{h}:wait   zset   jobs waiting for a slot of h: id -> first wait (ms)
 *   shard   {p}hosts           zset   hosts seen: h -> last fetch start (ms), capped
 *   host    {p}robots:{o}      hash   robots.txt of origin o ("scheme://host:port")
 *   host    {p}robots-lock:{o} string the worker fetching o's robots.txt (expires)
 *   process {p}workers         hash   consumer name -> heartbeat JSON
 *   process {p}http            hash   web request counts and durations (web/http_metrics.h)
 *
 * Every shard key is built by one function in keys.c (shard_key), which
 * puts the shard's tag right after the prefix ({p} above is the prefix
 * and the tag). The prefix itself may not contain braces (config.c
 * refuses them), so a tag is the only braced part of a key. Scripts get
 * every key they touch in KEYS[] (built here), never a prefix to build
 * keys from. */
#ifndef WC_KEYS_H
#define WC_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define KEYS_GROUP "workers"
#define KEYS_PREFIX_MAX 64
#define KEYS_IDEM_MAX 256

/* The most shards a key can name (a job id holds the shard in a byte). */
#define KEYS_SHARDS_MAX 256

struct keys {
    char prefix[KEYS_PREFIX_MAX + 1];
    char tag[8]; /* the shard's hash tag, "{s<i>}"; "" for shard 0 */
    int shard;   /* which shard these keys are */
};

/* A key: prefix (64, or 128 escaped for a glob) + shard tag (6) + name (16) + argument
 * (up to KEYS_IDEM_MAX). */
struct keybuf {
    char s[416];
};

/* keys_init copies the prefix; returns 0, or -1 when it is too long.
 * The keys are shard 0's (one shard: every key). */
int keys_init(struct keys *k, const char *prefix);
/* keys_init_shard is keys_init for shard (0 .. KEYS_SHARDS_MAX-1); -1
 * when shard is out of range. */
int keys_init_shard(struct keys *k, const char *prefix, int shard);

/* Shard keys. */
const char *keys_job(const struct keys *k, const char *id, struct keybuf *out);
const char *keys_queue(const struct keys *k, struct keybuf *out);
const char *keys_retry(const struct keys *k, struct keybuf *out);
const char *keys_failed(const struct keys *k, struct keybuf *out);
const char *keys_stats(const struct keys *k, struct keybuf *out);
/* keys_ts is the per-minute statistics hash of minute (Unix time / 60 s). */
const char *keys_ts(const struct keys *k, int64_t minute, struct keybuf *out);
/* keys_ts_minute is the minute keys_ts takes for a time in ms since the epoch. */
int64_t keys_ts_minute(int64_t ms);
/* keys_idem returns NULL when the idempotency key is longer than KEYS_IDEM_MAX bytes. */
const char *keys_idem(const struct keys *k, const char *idem, struct keybuf *out);

/* keys_live is the pointer to the newest job of the page whose
 * normalised URL is url_key (common/url_norm.h); NULL when hashing fails. */
const char *keys_live(const struct keys *k, const char *url_key, struct keybuf *out);

/* keys_page is the page's note (its newest finished job, when, and
 * whether that result has validators; url_key as for keys_live); NULL
 * when hashing fails. */
const char *keys_page(const struct keys *k, const char *url_key, struct keybuf *out);
/* keys_page_job is the copy of the page's newest finished job. */
const char *keys_page_job(const struct keys *k, const char *url_key, struct keybuf *out);
/* keys_events is the job's event stream. */
const char *keys_events(const struct keys *k, const char *id, struct keybuf *out);
/* keys_hooks is the set of pending webhook deliveries. */
const char *keys_hooks(const struct keys *k, struct keybuf *out);
/* keys_hook is the webhook delivery record of job id. */
const char *keys_hook(const struct keys *k, const char *id, struct keybuf *out);
/* keys_hook_failing is the hash of callback URLs whose last delivery failed. */
const char *keys_hook_failing(const struct keys *k, struct keybuf *out);
/* keys_events_channel is the pub/sub channel every state change is
 * announced on (a channel, not a key: no slot, every node delivers it). */
const char *keys_events_channel(const struct keys *k, struct keybuf *out);
/* keys_batch, keys_batch_lines and keys_batch_jobs are batch id's hash
 * and lists (common/batch.h); keys_batches is the set of batches. */
const char *keys_batch(const struct keys *k, const char *id, struct keybuf *out);
const char *keys_batch_lines(const struct keys *k, const char *id, struct keybuf *out);
const char *keys_batch_jobs(const struct keys *k, const char *id, struct keybuf *out);
const char *keys_batches(const struct keys *k, struct keybuf *out);
/* keys_ix_all, keys_ix_host, keys_ix_url and keys_ix_error are the search
 * indexes (common/job_search.h): every job, the jobs of host h, of the
 * page whose normalised URL is url_key, and of error code (NULL when an
 * argument is empty or too long). */
const char *keys_ix_all(const struct keys *k, struct keybuf *out);
const char *keys_ix_host(const struct keys *k, const char *host, struct keybuf *out);
const char *keys_ix_url(const struct keys *k, const char *url_key, struct keybuf *out);
const char *keys_ix_error(const struct keys *k, const char *code, struct keybuf *out);
/* Host keys; NULL when host (or origin) is empty or too long. */
const char *keys_host(const struct keys *k, const char *host, struct keybuf *out);
const char *keys_host_slots(const struct keys *k, const char *host, struct keybuf *out);
const char *keys_host_wait(const struct keys *k, const char *host, struct keybuf *out);
const char *keys_hosts(const struct keys *k, struct keybuf *out);
const char *keys_robots(const struct keys *k, const char *origin, struct keybuf *out);
const char *keys_robots_lock(const struct keys *k, const char *origin, struct keybuf *out);

/* Process keys. */
const char *keys_workers(const struct keys *k, struct keybuf *out);
const char *keys_http(const struct keys *k, struct keybuf *out);

/* keys_job_match is the SCAN MATCH pattern of every job hash: the prefix
 * with glob characters escaped, then "job:*". */
const char *keys_job_match(const struct keys *k, struct keybuf *out);

#endif
