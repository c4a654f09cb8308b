/* config — the process configuration, loaded once at start.
 *
 * Owns: struct config and the rules that fill it: the environment first,
 * then an optional .env file (KEY=VALUE lines, read with libinih; a value
 * in the environment wins), then defaults that depend on APP_ENV
 * (development, testing, staging, production). Every value is validated
 * here; a bad one makes config_load fail with a message that names the
 * variable, and the programs exit with EX_CONFIG (78, common/exits.h).
 *
 * After config_load the struct is treated as const and passed down
 * explicitly; there is no global configuration. config_free releases the
 * strings it owns. */
#ifndef WC_CONFIG_H
#define WC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most Redis shards REDIS_URL may list. */
#define CONFIG_REDIS_SHARDS_MAX 64

#include "common/addr_allow.h"
#include "common/tls.h"
#include "common/webhook_sig.h"

enum app_env { APP_DEVELOPMENT, APP_TESTING, APP_STAGING, APP_PRODUCTION };

struct config {
    enum app_env app_env;
    int log_level; /* enum log_level */

    /* web */
    char *host;
    int port; /* 0 = pick a free port (tests), reported in the log */
    int web_concurrency;
    int web_grace_ms;
    size_t http_max_header_bytes;
    size_t http_max_body_bytes;
    size_t http_max_batch_body_bytes; /* POST /api/v1/batches */
    int http_max_connections;
    int http_header_timeout_ms;
    int http_idle_timeout_ms;
    int http_body_timeout_ms; /* from the end of the headers to the end of the body */
    int submit_rate;          /* job submissions per second per client address; 0 = off */
    int submit_burst;
    char *cors_origins; /* comma-separated origins allowed by CORS, "*" for any; NULL = none */
    char *static_dir;
    char *openapi_file;  /* the API's OpenAPI document (installed, else the source tree) */
    char *admin_token;   /* NULL when unset */
    char *metrics_token; /* read-only token for /api/v1/stats and /metrics; NULL when unset */
    bool stats_public;   /* /api/v1/stats and /metrics need no token */

    /* storage */
    char *database_url;
    /* DATABASE_READ_URL: a replica for the web's read-only queries (web/
     * pg_read.h); NULL when unset (they go to database_url). */
    char *database_read_url;
    /* DATABASE_PREPARE: statements prepared once per connection (planned
     * once); false behind a transaction-pooling pgbouncer before 1.21. */
    bool database_prepare;
    /* REDIS_URL: one URL, or a comma-separated list of them, each one
     * shard of the queue (common/shards.h), numbered in list order.
     * redis_url is shard 0's (the whole setting when there is one);
     * redis_urls[i] is shard i's. All are this struct's. */
    char *redis_url;
    char **redis_urls;
    int redis_shards;
    /* rediss:// only: the CA file (REDIS_TLS_CA_FILE; NULL: the system
     * store) and whether certificate and host name are checked
     * (REDIS_TLS_VERIFY). ca_file is this struct's. */
    struct tls_opts redis_tls;
    char *key_prefix;
    int result_ttl_s;
    /* RESULT_RETENTION_DAYS: results older than this many days are dropped
     * a month partition at a time (common/results.h); 0: kept for ever. */
    int result_retention_days;

    /* jobs and workers */
    int worker_processes;
    int worker_concurrency;
    int worker_memory_mb; /* what the worker processes' jobs may hold together */
    int worker_grace_ms;
    int job_timeout_ms;
    int job_max_attempts;
    int job_rescue_after_ms;
    int job_retry_base_ms; /* first retry delay; doubles per attempt, with jitter */
    int job_retry_max_ms;  /* cap on one retry delay */
    int heartbeat_interval_ms;

    /* fetching and counting */
    size_t fetch_max_bytes;
    int fetch_timeout_ms;
    int fetch_connect_timeout_ms;
    int fetch_max_redirects;
    bool fetch_allow_private;
    struct addr_allow_list fetch_allow_addresses; /* let through even when private */
    char *fetch_user_agent;
    /* politeness (worker/polite.h) */
    int fetch_host_concurrency;  /* fetches in flight per host, fleet-wide; 0 = no limit */
    int fetch_host_delay_ms;     /* least time between two fetch starts to one host */
    int fetch_host_max_delay_ms; /* cap on Crawl-delay and on the adaptive delay */
    bool fetch_robots;           /* FETCH_ROBOTS=respect (true) or ignore */
    int fetch_robots_retry_ms;   /* a robots.txt that could not be fetched is tried again after */
    char *stopwords_file;

    /* webhooks (worker/hooks.h); callbacks obey the fetch address policy */
    struct webhook_keys webhook_keys; /* WEBHOOK_SECRET; none: callback_url is refused */
    int webhook_timeout_ms;           /* one delivery attempt, connect to last byte */
    int webhook_retry_base_ms;        /* first retry delay; doubles, with jitter */
    int webhook_retry_max_ms;         /* cap on one retry delay */
    int webhook_retry_for_ms;         /* retries stop this long after the job's end */
    int webhook_concurrency;          /* deliveries in flight per worker process */
};

/* config_load fills c from the environment and env_file (NULL: "$ENV_FILE"
 * or "./.env" when it exists). Returns 0, or -1 with a message in err that
 * names the offending variable. On failure c holds nothing to free. */
int config_load(struct config *c, const char *env_file, char *err, size_t errlen);
/* config_free releases what config_load allocated. */
void config_free(struct config *c);
/* config_env_name returns "development", "testing", ... */
const char *config_env_name(enum app_env env);

/* Value parsers, exposed for tests. Each returns 0 or -1 when invalid. */
int config_parse_bool(const char *s, bool *out);
/* config_parse_duration_ms accepts "250ms", "30s", "2m", "1h"; a bare number is seconds. */
int config_parse_duration_ms(const char *s, int *out);
/* config_parse_size accepts "65536", "64k", "64KB", "10M", "10MiB", "1G". */
int config_parse_size(const char *s, size_t *out);
int config_parse_int(const char *s, long min, long max, long *out);

#endif
