#include "common/keys.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/digest.h"

/* Longer normalised URLs (rare) are hashed at every call. */
#define KEYS_PAGE_MEMO_MAX 2048

int
keys_init(struct keys *k, const char *prefix) {
    return keys_init_shard(k, prefix, 0);
}

int
keys_init_shard(struct keys *k, const char *prefix, int shard) {
    if (!prefix || strlen(prefix) > KEYS_PREFIX_MAX || shard < 0 || shard >= KEYS_SHARDS_MAX)
        return -1;
    snprintf(k->prefix, sizeof k->prefix, "%s", prefix);
    k->shard = shard;
    /* Shard 0 keeps today's untagged names, so a one-shard system is
     * shard 0 of a larger one as it stands (README, "Scaling"). */
    if (shard == 0) k->tag[0] = '\0';
    else snprintf(k->tag, sizeof k->tag, "{s%d}", shard);
    return 0;
}

static const char *
fmt(const char *prefix, const char *tag, const char *name, const char *arg, struct keybuf *out) {
    int n = snprintf(out->s, sizeof out->s, "%s%s%s%s", prefix, tag, name, arg ? arg : "");
    if (n < 0 || (size_t)n >= sizeof out->s) return NULL;
    return out->s;
}

/* shard_key builds a key of one shard: the shard's hash tag goes between
 * the prefix and the name, so all of a shard's keys share a slot. */
static const char *
shard_key(const struct keys *k, const char *name, const char *arg, struct keybuf *out) {
    return fmt(k->prefix, k->tag, name, arg, out);
}

/* process_key builds a key that is not part of a shard (on shard 0). */
static const char *
process_key(const struct keys *k, const char *name, struct keybuf *out) {
    return fmt(k->prefix, "", name, NULL, out);
}

const char *
keys_job(const struct keys *k, const char *id, struct keybuf *out) {
    return id ? shard_key(k, "job:", id, out) : NULL;
}

const char *
keys_queue(const struct keys *k, struct keybuf *out) {
    return shard_key(k, "queue", NULL, out);
}

const char *
keys_retry(const struct keys *k, struct keybuf *out) {
    return shard_key(k, "retry", NULL, out);
}

const char *
keys_failed(const struct keys *k, struct keybuf *out) {
    return shard_key(k, "failed", NULL, out);
}

const char *
keys_stats(const struct keys *k, struct keybuf *out) {
    return shard_key(k, "stats", NULL, out);
}

int64_t
keys_ts_minute(int64_t ms) {
    /* Floor division, so times before the epoch (tests' fake clocks) too
     * land in the minute that contains them. */
    int64_t sec = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    return sec >= 0 ? sec / 60 : -((-sec + 59) / 60);
}

const char *
keys_ts(const struct keys *k, int64_t minute, struct keybuf *out) {
    char m[24];
    snprintf(m, sizeof m, "%lld", (long long)minute);
    return shard_key(k, "ts:", m, out);
}

const char *
keys_idem(const struct keys *k, const char *idem, struct keybuf *out) {
    if (!idem || strlen(idem) > KEYS_IDEM_MAX) return NULL;
    return shard_key(k, "idem:", idem, out);
}

/* host_key builds a key about one host or origin (at most 300 bytes,
 * room for "https://" + a 253-byte name + ":65535"). */
static const char *
host_key(const struct keys *k, const char *name, const char *host, const char *suffix,
         struct keybuf *out) {
    if (!host || !*host || strlen(host) > 300) return NULL;
    int n = snprintf(out->s, sizeof out->s, "%s%s%s%s%s", k->prefix, k->tag, name, host, suffix);
    if (n < 0 || (size_t)n >= sizeof out->s) return NULL;
    return out->s;
}

const char *
keys_host(const struct keys *k, const char *host, struct keybuf *out) {
    return host_key(k, "host:", host, "", out);
}

const char *
keys_host_slots(const struct keys *k, const char *host, struct keybuf *out) {
    return host_key(k, "host:", host, ":slots", out);
}

const char *
keys_host_wait(const struct keys *k, const char *host, struct keybuf *out) {
    return host_key(k, "host:", host, ":wait", out);
}

const char *
keys_hosts(const struct keys *k, struct keybuf *out) {
    return shard_key(k, "hosts", NULL, out);
}

const char *
keys_robots(const struct keys *k, const char *origin, struct keybuf *out) {
    return host_key(k, "robots:", origin, "", out);
}

const char *
keys_robots_lock(const struct keys *k, const char *origin, struct keybuf *out) {
    return host_key(k, "robots-lock:", origin, "", out);
}

/* page_hash writes the SHA-256 (hex) of a page's normalised URL, which
 * names its keys. A submit names four of them, so the last page's hash
 * is kept (per thread) and not computed again. Returns 0, or -1. */
static int
page_hash(const char *url_key, char hash[65]) {
    static _Thread_local char last_key[KEYS_PAGE_MEMO_MAX + 1], last_hash[65];
    size_t n = url_key ? strlen(url_key) : 0;
    if (!url_key) return -1;
    if (n <= KEYS_PAGE_MEMO_MAX && last_hash[0] && !strcmp(last_key, url_key)) {
        memcpy(hash, last_hash, 65);
        return 0;
    }
    if (sha256_hex(url_key, n, hash) < 0) return -1;
    if (n <= KEYS_PAGE_MEMO_MAX) {
        memcpy(last_key, url_key, n + 1);
        memcpy(last_hash, hash, 65);
    }
    return 0;
}

const char *
keys_live(const struct keys *k, const char *url_key, struct keybuf *out) {
    char hash[65];
    if (page_hash(url_key, hash) < 0) return NULL;
    return shard_key(k, "live:", hash, out);
}

const char *
keys_page(const struct keys *k, const char *url_key, struct keybuf *out) {
    char hash[65];
    if (page_hash(url_key, hash) < 0) return NULL;
    return shard_key(k, "page:", hash, out);
}

const char *
keys_page_job(const struct keys *k, const char *url_key, struct keybuf *out) {
    char hash[65 + 4];
    if (page_hash(url_key, hash) < 0) return NULL;
    memcpy(hash + 64, ":job", 5);
    return shard_key(k, "page:", hash, out);
}

const char *
keys_events(const struct keys *k, const char *id, struct keybuf *out) {
    return id ? shard_key(k, "events:", id, out) : NULL;
}

const char *
keys_hooks(const struct keys *k, struct keybuf *out) {
    return shard_key(k, "hooks", NULL, out);
}

const char *
keys_hook(const struct keys *k, const char *id, struct keybuf *out) {
    return id ? shard_key(k, "hook:", id, out) : NULL;
}

const char *
keys_hook_failing(const struct keys *k, struct keybuf *out) {
    return shard_key(k, "hook_failing", NULL, out);
}

const char *
keys_batch(const struct keys *k, const char *id, struct keybuf *out) {
    return id ? shard_key(k, "batch:", id, out) : NULL;
}

/* batch_part builds "{p}batch:<id>:<part>", a key of the batch's shard. */
static const char *
batch_part(const struct keys *k, const char *id, const char *part, struct keybuf *out) {
    char arg[128];
    if (!id || snprintf(arg, sizeof arg, "%s:%s", id, part) >= (int)sizeof arg) return NULL;
    return shard_key(k, "batch:", arg, out);
}

const char *
keys_batch_lines(const struct keys *k, const char *id, struct keybuf *out) {
    return batch_part(k, id, "lines", out);
}

const char *
keys_batch_jobs(const struct keys *k, const char *id, struct keybuf *out) {
    return batch_part(k, id, "jobs", out);
}

const char *
keys_batches(const struct keys *k, struct keybuf *out) {
    return shard_key(k, "batches", NULL, out);
}

const char *
keys_ix_all(const struct keys *k, struct keybuf *out) {
    return shard_key(k, "ix:all", NULL, out);
}

/* A host or an error code in a key: 1 to 300 bytes (a DNS name is at most 253). */
static bool
ix_arg_ok(const char *s) {
    return s && *s && strlen(s) <= 300;
}

const char *
keys_ix_host(const struct keys *k, const char *host, struct keybuf *out) {
    return ix_arg_ok(host) ? shard_key(k, "ix:host:", host, out) : NULL;
}

const char *
keys_ix_url(const struct keys *k, const char *url_key, struct keybuf *out) {
    char hash[65];
    if (page_hash(url_key, hash) < 0) return NULL;
    return shard_key(k, "ix:url:", hash, out);
}

const char *
keys_ix_error(const struct keys *k, const char *code, struct keybuf *out) {
    return ix_arg_ok(code) ? shard_key(k, "ix:err:", code, out) : NULL;
}

const char *
keys_events_channel(const struct keys *k, struct keybuf *out) {
    return process_key(k, "events", out);
}

const char *
keys_workers(const struct keys *k, struct keybuf *out) {
    return process_key(k, "workers", out);
}

const char *
keys_http(const struct keys *k, struct keybuf *out) {
    return process_key(k, "http", out);
}

const char *
keys_job_match(const struct keys *k, struct keybuf *out) {
    /* The job key of id "*", with the glob characters of the prefix
     * escaped (what follows the prefix, the shard's tag included, has
     * none but the final star: braces are no glob characters). */
    struct keybuf job;
    if (!keys_job(k, "*", &job)) return NULL;
    size_t plen = strlen(k->prefix), n = 0;
    for (size_t i = 0; i < plen; i++) {
        if (strchr("*?[]\\", k->prefix[i])) out->s[n++] = '\\';
        out->s[n++] = k->prefix[i];
    }
    /* n <= 2 * KEYS_PREFIX_MAX, and the rest is a short name: it fits. */
    snprintf(out->s + n, sizeof out->s - n, "%s", job.s + plen);
    return out->s;
}
