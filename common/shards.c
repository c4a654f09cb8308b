/* shards.c — a job's shard. See shards.h. */
#include "common/shards.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/digest.h"
#include "common/hosts.h"
#include "common/job.h"

/* of_text hashes s and takes the first 32 bits modulo n. */
static int
of_text(const char *s, int n) {
    char hex[65];
    if (sha256_hex(s, strlen(s), hex) < 0) return 0;
    char head[9];
    memcpy(head, hex, 8);
    head[8] = '\0';
    return (int)(strtoul(head, NULL, 16) % (unsigned long)n);
}

int
shards_of_host(const char *host, int n) {
    if (n <= 1 || !host) return 0;
    return of_text(host, n);
}

int
shards_of_url(const char *url_key, int n) {
    if (n <= 1 || !url_key) return 0;
    char host[HOSTS_NAME_MAX + 1], origin[HOSTS_NAME_MAX + 1];
    if (hosts_of_url(url_key, host, origin) < 0) return of_text(url_key, n);
    return of_text(host, n);
}

int
shards_of_id(const char *id, int n) {
    int s = job_id_shard(id);
    return s >= 0 && s < n ? s : -1;
}

int
shards_draw(int n) {
    if (n <= 1) return 0;
    uint32_t r;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r) r = (uint32_t)random();
    return (int)(r % (uint32_t)n);
}
