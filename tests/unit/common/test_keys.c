/* The Redis key schema: every key, spelled out with its prefix. */
#include <criterion/criterion.h>
#include <string.h>

#include "common/keys.h"

Test(keys, every_key_is_under_the_prefix) {
    struct keys k;
    cr_assert_eq(keys_init(&k, "wc:"), 0);
    struct keybuf b;
    cr_assert_str_eq(keys_job(&k, "0192f3a1-7c2e-7abc-8def-0123456789ab", &b),
                     "wc:job:0192f3a1-7c2e-7abc-8def-0123456789ab");
    cr_assert_str_eq(keys_queue(&k, &b), "wc:queue");
    cr_assert_str_eq(keys_retry(&k, &b), "wc:retry");
    cr_assert_str_eq(keys_failed(&k, &b), "wc:failed");
    cr_assert_str_eq(keys_stats(&k, &b), "wc:stats");
    cr_assert_str_eq(keys_ts(&k, 29123456, &b), "wc:ts:29123456");
    cr_assert_str_eq(keys_idem(&k, "abc", &b), "wc:idem:abc");
    cr_assert_str_eq(keys_live(&k, "http://example.com/", &b),
                     "wc:live:2a1b402420ef46577471cdc7409b0fa2c6a204db316e59ade2d805435489a067");
    cr_assert_null(keys_live(&k, NULL, &b));
    cr_assert_str_eq(keys_page(&k, "http://example.com/", &b),
                     "wc:page:2a1b402420ef46577471cdc7409b0fa2c6a204db316e59ade2d805435489a067");
    cr_assert_null(keys_page(&k, NULL, &b));
    cr_assert_str_eq(
        keys_page_job(&k, "http://example.com/", &b),
        "wc:page:2a1b402420ef46577471cdc7409b0fa2c6a204db316e59ade2d805435489a067:job");
    cr_assert_str_eq(keys_events(&k, "0192f3a1-7c2e-7abc-8def-0123456789ab", &b),
                     "wc:events:0192f3a1-7c2e-7abc-8def-0123456789ab");
    cr_assert_str_eq(keys_hooks(&k, &b), "wc:hooks");
    cr_assert_str_eq(keys_hook(&k, "0192f3a1-7c2e-7abc-8def-0123456789ab", &b),
                     "wc:hook:0192f3a1-7c2e-7abc-8def-0123456789ab");
    cr_assert_str_eq(keys_hook_failing(&k, &b), "wc:hook_failing");
    cr_assert_str_eq(keys_batch(&k, "0192f3a1-7c2e-7abc-8def-0123456789ab", &b),
                     "wc:batch:0192f3a1-7c2e-7abc-8def-0123456789ab");
    cr_assert_str_eq(keys_batch_lines(&k, "0192f3a1-7c2e-7abc-8def-0123456789ab", &b),
                     "wc:batch:0192f3a1-7c2e-7abc-8def-0123456789ab:lines");
    cr_assert_str_eq(keys_batch_jobs(&k, "0192f3a1-7c2e-7abc-8def-0123456789ab", &b),
                     "wc:batch:0192f3a1-7c2e-7abc-8def-0123456789ab:jobs");
    cr_assert_null(keys_batch(&k, NULL, &b));
    cr_assert_str_eq(keys_batches(&k, &b), "wc:batches");
    cr_assert_str_eq(keys_ix_all(&k, &b), "wc:ix:all");
    cr_assert_str_eq(keys_ix_host(&k, "example.com", &b), "wc:ix:host:example.com");
    cr_assert_null(keys_ix_host(&k, "", &b));
    cr_assert_str_eq(keys_ix_url(&k, "http://example.com/", &b),
                     "wc:ix:url:2a1b402420ef46577471cdc7409b0fa2c6a204db316e59ade2d805435489a067");
    cr_assert_str_eq(keys_ix_error(&k, "timeout", &b), "wc:ix:err:timeout");
    cr_assert_null(keys_ix_error(&k, NULL, &b));
    cr_assert_str_eq(keys_events_channel(&k, &b), "wc:events");
    cr_assert_str_eq(keys_workers(&k, &b), "wc:workers");
    cr_assert_str_eq(keys_http(&k, &b), "wc:http");
    cr_assert_str_eq(keys_job_match(&k, &b), "wc:job:*");
    cr_assert_str_eq(keys_host(&k, "example.com:443", &b), "wc:host:example.com:443");
    cr_assert_str_eq(keys_host_slots(&k, "a:80", &b), "wc:host:a:80:slots");
    cr_assert_str_eq(keys_host_wait(&k, "a:80", &b), "wc:host:a:80:wait");
    cr_assert_str_eq(keys_hosts(&k, &b), "wc:hosts");
    cr_assert_str_eq(keys_robots(&k, "https://a:443", &b), "wc:robots:https://a:443");
    cr_assert_str_eq(keys_robots_lock(&k, "http://a:80", &b), "wc:robots-lock:http://a:80");
    cr_assert_null(keys_host(&k, "", &b));
    char long_host[400];
    memset(long_host, 'a', sizeof long_host - 1);
    long_host[sizeof long_host - 1] = '\0';
    cr_assert_null(keys_host(&k, long_host, &b));
}

Test(keys, minutes_of_the_per_minute_hashes) {
    cr_assert_eq(keys_ts_minute(0), 0);
    cr_assert_eq(keys_ts_minute(59999), 0);
    cr_assert_eq(keys_ts_minute(60000), 1);
    cr_assert_eq(keys_ts_minute(1747400000123LL), 1747400000123LL / 60000);
    cr_assert_eq(keys_ts_minute(-1), -1, "floor, not truncation");
    cr_assert_eq(keys_ts_minute(-60000), -1);
    cr_assert_eq(keys_ts_minute(-60001), -2);
}

Test(keys, prefixes_keep_deployments_apart) {
    struct keys a, b;
    keys_init(&a, "prod:");
    keys_init(&b, "staging:");
    struct keybuf x, y;
    cr_assert_str_neq(keys_queue(&a, &x), keys_queue(&b, &y));
    cr_assert_eq(strncmp(x.s, "prod:", 5), 0);
}

Test(keys, empty_prefix_is_allowed) {
    struct keys k;
    cr_assert_eq(keys_init(&k, ""), 0);
    struct keybuf b;
    cr_assert_str_eq(keys_stats(&k, &b), "stats");
    cr_assert_str_eq(keys_job_match(&k, &b), "job:*");
}

Test(keys, job_match_escapes_the_prefix) {
    struct keys k;
    cr_assert_eq(keys_init(&k, "a*b?c[d]e\\:"), 0);
    struct keybuf b;
    cr_assert_str_eq(keys_job_match(&k, &b), "a\\*b\\?c\\[d\\]e\\\\:job:*");
    /* The longest prefix, every character escaped, still fits. */
    char longp[KEYS_PREFIX_MAX + 1];
    memset(longp, '*', KEYS_PREFIX_MAX);
    longp[KEYS_PREFIX_MAX] = '\0';
    cr_assert_eq(keys_init(&k, longp), 0);
    cr_assert_not_null(keys_job_match(&k, &b));
    cr_assert_eq(strlen(b.s), 2 * KEYS_PREFIX_MAX + strlen("job:*"));
}

Test(keys, limits) {
    struct keys k;
    char longp[KEYS_PREFIX_MAX + 2];
    memset(longp, 'p', sizeof longp - 1);
    longp[sizeof longp - 1] = '\0';
    cr_assert_eq(keys_init(&k, longp), -1);
    cr_assert_eq(keys_init(&k, NULL), -1);
    longp[KEYS_PREFIX_MAX] = '\0';
    cr_assert_eq(keys_init(&k, longp), 0);
    char idem[KEYS_IDEM_MAX + 2];
    memset(idem, 'i', KEYS_IDEM_MAX + 1);
    idem[KEYS_IDEM_MAX + 1] = '\0';
    struct keybuf b;
    cr_assert_null(keys_idem(&k, idem, &b));
    idem[KEYS_IDEM_MAX] = '\0';
    cr_assert_not_null(keys_idem(&k, idem, &b));
    cr_assert_eq(strlen(b.s), KEYS_PREFIX_MAX + strlen("idem:") + KEYS_IDEM_MAX);
    cr_assert_null(keys_idem(&k, NULL, &b));
    cr_assert_null(keys_job(&k, NULL, &b));
}

Test(keys, a_shard_tags_its_keys_and_not_the_process_keys) {
    struct keys k, zero, plain;
    cr_assert_eq(keys_init_shard(&k, "wc:", 2), 0);
    cr_assert_eq(keys_init_shard(&zero, "wc:", 0), 0);
    cr_assert_eq(keys_init(&plain, "wc:"), 0);
    cr_assert_eq(k.shard, 2);
    cr_assert_eq(plain.shard, 0);
    struct keybuf b, c;
    const char *id = "0192f3a1-7c2e-7abc-8def-0123456789ab";
    cr_assert_str_eq(keys_job(&k, id, &b), "wc:{s2}job:0192f3a1-7c2e-7abc-8def-0123456789ab");
    cr_assert_str_eq(keys_queue(&k, &b), "wc:{s2}queue");
    cr_assert_str_eq(keys_stats(&k, &b), "wc:{s2}stats");
    cr_assert_str_eq(keys_ts(&k, 7, &b), "wc:{s2}ts:7");
    cr_assert_str_eq(keys_idem(&k, "abc", &b), "wc:{s2}idem:abc");
    cr_assert_str_eq(
        keys_live(&k, "http://example.com/", &b),
        "wc:{s2}live:2a1b402420ef46577471cdc7409b0fa2c6a204db316e59ade2d805435489a067");
    cr_assert_str_eq(keys_batch_jobs(&k, id, &b),
                     "wc:{s2}batch:0192f3a1-7c2e-7abc-8def-0123456789ab:jobs");
    cr_assert_str_eq(keys_ix_host(&k, "example.com", &b), "wc:{s2}ix:host:example.com");
    cr_assert_str_eq(keys_host_slots(&k, "a:80", &b), "wc:{s2}host:a:80:slots");
    cr_assert_str_eq(keys_hosts(&k, &b), "wc:{s2}hosts");
    cr_assert_str_eq(keys_robots(&k, "https://a:443", &b), "wc:{s2}robots:https://a:443");
    cr_assert_str_eq(keys_job_match(&k, &b), "wc:{s2}job:*");
    /* Process keys live on shard 0, under their one-shard names. */
    cr_assert_str_eq(keys_workers(&k, &b), "wc:workers");
    cr_assert_str_eq(keys_http(&k, &b), "wc:http");
    cr_assert_str_eq(keys_events_channel(&k, &b), "wc:events");
    /* Shard 0 is the one-shard layout, key for key. */
    cr_assert_str_eq(keys_queue(&zero, &b), keys_queue(&plain, &c));
    cr_assert_str_eq(keys_job(&zero, id, &b), keys_job(&plain, id, &c));
    cr_assert_str_eq(keys_host(&zero, "a:80", &b), "wc:host:a:80");
}

Test(keys, shard_limits) {
    struct keys k;
    cr_assert_eq(keys_init_shard(&k, "wc:", -1), -1);
    cr_assert_eq(keys_init_shard(&k, "wc:", KEYS_SHARDS_MAX), -1);
    /* The longest key (prefix, the widest tag, an idempotency key) fits. */
    char longp[KEYS_PREFIX_MAX + 1];
    memset(longp, 'p', KEYS_PREFIX_MAX);
    longp[KEYS_PREFIX_MAX] = '\0';
    cr_assert_eq(keys_init_shard(&k, longp, KEYS_SHARDS_MAX - 1), 0);
    char idem[KEYS_IDEM_MAX + 1];
    memset(idem, 'i', KEYS_IDEM_MAX);
    idem[KEYS_IDEM_MAX] = '\0';
    struct keybuf b;
    cr_assert_not_null(keys_idem(&k, idem, &b));
    cr_assert_eq(strlen(b.s), KEYS_PREFIX_MAX + strlen("{s255}idem:") + KEYS_IDEM_MAX);
    char host[301];
    memset(host, 'h', 300);
    host[300] = '\0';
    cr_assert_not_null(keys_robots_lock(&k, host, &b));
}
