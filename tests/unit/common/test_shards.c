/* Which shard a job, a host and an id belong to (common/shards.h). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/job.h"
#include "common/shards.h"

Test(shards, one_shard_is_shard_zero) {
    cr_assert_eq(shards_of_url("http://example.com/", 1), 0);
    cr_assert_eq(shards_of_host("example.com:80", 1), 0);
    cr_assert_eq(shards_draw(1), 0);
    char id[JOB_ID_LEN + 1];
    job_id_new(id);
    cr_assert_eq(shards_of_id(id, 1), 0);
}

Test(shards, a_url_goes_to_its_hosts_shard) {
    /* Every page of a host on one shard, whatever its path or query. */
    for (int n = 2; n <= 7; n++) {
        int s = shards_of_host("example.com:443", n);
        cr_assert(s >= 0 && s < n);
        cr_assert_eq(shards_of_url("https://example.com/", n), s);
        cr_assert_eq(shards_of_url("https://example.com/a/b?c=d", n), s);
        cr_assert_eq(shards_of_url("https://EXAMPLE.com:443/x", n), s, "the host, lower case");
    }
    /* The port is part of the host (as for politeness). */
    cr_assert_eq(shards_of_url("http://example.com/", 5), shards_of_host("example.com:80", 5));
    /* Not an http(s) URL: placed by the text, still in range. */
    int s = shards_of_url("not a url", 3);
    cr_assert(s >= 0 && s < 3);
}

Test(shards, hosts_spread_over_every_shard) {
    int seen[3] = {0};
    char host[64];
    for (int i = 0; i < 300; i++) {
        snprintf(host, sizeof host, "host%d.example:443", i);
        seen[shards_of_host(host, 3)]++;
    }
    for (int s = 0; s < 3; s++) cr_assert(seen[s] > 60, "shard %d got %d of 300", s, seen[s]);
    int drawn[3] = {0};
    for (int i = 0; i < 300; i++) drawn[shards_draw(3)]++;
    for (int s = 0; s < 3; s++) cr_assert(drawn[s] > 50, "shard %d drawn %d of 300", s, drawn[s]);
}

Test(shards, an_id_names_its_shard) {
    char id[JOB_ID_LEN + 1];
    for (int s = 0; s < 256; s += 51) {
        job_id_new_on(id, s);
        cr_assert(job_id_valid(id), "%s", id);
        cr_assert_eq(job_id_shard(id), s, "%s", id);
        cr_assert_eq(shards_of_id(id, 256), s);
        cr_assert_eq(shards_of_id(id, s + 1), s);
        if (s > 0) cr_assert_eq(shards_of_id(id, s), -1, "a shard past the list");
        cr_assert_eq(id[14], s ? '8' : '7', "%s", id);
        cr_assert(strchr("89ab", id[19]), "RFC 9562 variant: %s", id);
    }
    /* An id made before there were shards (a UUIDv7, any random bits)
     * names shard 0, where the one-shard layout stays. */
    cr_assert_eq(shards_of_id("0192f3a1-7c2e-7abc-8def-0123456789ab", 3), 0);
    cr_assert_eq(shards_of_id("0192f3a1-7c2e-7abc-8dff-0123456789ab", 3), 0);
    cr_assert_eq(shards_of_id("0192f3a1-7c2e-8abc-8d02-0123456789ab", 3), 2);
    cr_assert_eq(shards_of_id("0192f3a1-7c2e-4abc-8d02-0123456789ab", 3), -1, "a UUIDv4");
    cr_assert_eq(shards_of_id("not-an-id", 3), -1);
    cr_assert_eq(shards_of_id(NULL, 3), -1);
}

Test(shards, ids_of_a_shard_sort_by_creation) {
    /* Within a shard, ids sort in creation order (the search index sorts
     * by id); across shards, by their millisecond. */
    char prev[JOB_ID_LEN + 1], cur[JOB_ID_LEN + 1], other[JOB_ID_LEN + 1];
    job_id_new_on(prev, 2);
    for (int i = 0; i < 1000; i++) {
        job_id_new_on(other, i % 2);
        job_id_new_on(cur, 2);
        cr_assert(strcmp(prev, cur) < 0, "%s then %s", prev, cur);
        cr_assert(job_id_timestamp_ms(other) <= job_id_timestamp_ms(cur));
        memcpy(prev, cur, sizeof cur);
    }
}
