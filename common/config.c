#include "common/config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <libpq-fe.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "common/log.h"
#include "common/redis_url.h"
#include "common/xalloc.h"

/* Variables read from a .env file; the environment takes precedence. */
struct dotenv {
    char **keys;
    char **values;
    size_t n;
};

static int
on_ini_pair(void *user, const char *section, const char *name, const char *value) {
    struct dotenv *d = user;
    (void)section;
    if (!value) value = "";
    size_t len = strlen(value);
    /* Strip one pair of matching quotes, as dotenv tools do. */
    if (len >= 2 && (value[0] == '"' || value[0] == '\'') && value[len - 1] == value[0]) {
        value++;
        len -= 2;
    }
    d->keys = xrealloc(d->keys, (d->n + 1) * sizeof *d->keys);
    d->values = xrealloc(d->values, (d->n + 1) * sizeof *d->values);
    d->keys[d->n] = xstrdup(name);
    d->values[d->n] = xstrndup(value, len);
    d->n++;
    return 1;
}

static void
dotenv_free(struct dotenv *d) {
    for (size_t i = 0; i < d->n; i++) {
        free(d->keys[i]);
        free(d->values[i]);
    }
    free(d->keys);
    free(d->values);
}

struct src {
    struct dotenv env;
    char *err;
    size_t errlen;
};

/* lookup: the environment, then .env; an empty value counts as unset. */
static const char *
lookup(struct src *s, const char *name) {
    const char *v = getenv(name);
    if (v && *v) return v;
    for (size_t i = s->env.n; i-- > 0;)
        if (strcmp(s->env.keys[i], name) == 0) return *s->env.values[i] ? s->env.values[i] : NULL;
    return NULL;
}

static int
bad(struct src *s, const char *name, const char *value, const char *expect) {
    snprintf(s->err, s->errlen, "invalid %s=%s: expected %s", name, value, expect);
    return -1;
}

int
config_parse_int(const char *s, long min, long max, long *out) {
    if (!s || !*s) return -1;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < min || v > max) return -1;
    *out = v;
    return 0;
}

int
config_parse_bool(const char *s, bool *out) {
    static const char *yes[] = {"1", "true", "yes", "on"};
    static const char *no[] = {"0", "false", "no", "off"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) return (*out = true), 0;
        if (strcasecmp(s, no[i]) == 0) return (*out = false), 0;
    }
    return -1;
}

int
config_parse_duration_ms(const char *s, int *out) {
    if (!s || !isdigit((unsigned char)*s)) return -1;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || end == s) return -1;
    double mult;
    if (*end == '\0' || strcmp(end, "s") == 0) mult = 1000;
    else if (strcmp(end, "ms") == 0) mult = 1;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0) mult = 60000;
    else if (strcmp(end, "h") == 0) mult = 3600000;
    else return -1;
    double ms = v * mult;
    if (ms < 0 || ms > INT_MAX) return -1;
    *out = (int)ms;
    return 0;
}

int
config_parse_size(const char *s, size_t *out) {
    if (!s || !isdigit((unsigned char)*s)) return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s) return -1;
    unsigned long long mult = 1;
    if (*end) {
        char unit = (char)toupper((unsigned char)*end);
        const char *rest = end + 1;
        if (unit == 'K') mult = 1ULL << 10;
        else if (unit == 'M') mult = 1ULL << 20;
        else if (unit == 'G') mult = 1ULL << 30;
        else if (unit == 'B' && !*rest) rest = "";
        else return -1;
        if (strcasecmp(rest, "") && strcasecmp(rest, "B") && strcasecmp(rest, "iB")) return -1;
    }
    if (v > (unsigned long long)SIZE_MAX / mult) return -1;
    *out = (size_t)(v * mult);
    return 0;
}

static int
get_int(struct src *s, const char *name, long dflt, long min, long max, int *out) {
    const char *v = lookup(s, name);
    long n = dflt;
    if (v && config_parse_int(v, min, max, &n) < 0) {
        char expect[96];
        snprintf(expect, sizeof expect, "an integer from %ld to %ld", min, max);
        return bad(s, name, v, expect);
    }
    *out = (int)n;
    return 0;
}

static int
get_ms(struct src *s, const char *name, int dflt, int min_ms, int *out) {
    const char *v = lookup(s, name);
    int ms = dflt;
    if (v && (config_parse_duration_ms(v, &ms) < 0 || ms < min_ms))
        return bad(s, name, v, "a duration such as 30, 30s, 500ms or 2m");
    *out = ms;
    return 0;
}

static int
get_size(struct src *s, const char *name, size_t dflt, size_t min, size_t *out) {
    const char *v = lookup(s, name);
    size_t n = dflt;
    if (v && (config_parse_size(v, &n) < 0 || n < min))
        return bad(s, name, v, "a size such as 65536, 64k or 10M");
    *out = n;
    return 0;
}

static int
get_bool(struct src *s, const char *name, bool dflt, bool *out) {
    const char *v = lookup(s, name);
    bool b = dflt;
    if (v && config_parse_bool(v, &b) < 0) return bad(s, name, v, "true or false");
    *out = b;
    return 0;
}

static char *
get_str(struct src *s, const char *name, const char *dflt) {
    const char *v = lookup(s, name);
    if (!v) v = dflt;
    return v ? xstrdup(v) : NULL;
}

static int
cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static bool
readable(const char *path) {
    return access(path, R_OK) == 0;
}

/* find_resource resolves a data file or folder shipped with the programs:
 * the installed share folder beside the executable (bin/../share/wordcount),
 * the compiled-in data folder, then the source tree the program was built in. */
static char *
find_resource(const char *installed_name, const char *source_rel) {
    char exe[PATH_MAX];
    size_t len = sizeof exe;
    if (uv_exepath(exe, &len) == 0) {
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            char *p = xasprintf("%s/../share/wordcount/%s", exe, installed_name);
            if (readable(p)) return p;
            free(p);
        }
    }
    char *p = xasprintf("%s/%s", WC_DATADIR, installed_name);
    if (readable(p)) return p;
    free(p);
    return xasprintf("%s/%s", WC_SRCDIR, source_rel);
}

/* redact copies url with the password of its user-info part (or the whole
 * user-info when it has no colon) replaced by "***", so that messages
 * never print a secret. */
static void
redact(const char *url, char *out, size_t n) {
    const char *p = strstr(url, "://");
    const char *auth = p ? p + 3 : url;
    const char *end = auth + strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *q = auth; q < end; q++)
        if (*q == '@') at = q;
    if (!at) {
        snprintf(out, n, "%s", url);
        return;
    }
    const char *colon = memchr(auth, ':', (size_t)(at - auth));
    const char *keep_to = colon ? colon + 1 : auth;
    snprintf(out, n, "%.*s***%s", (int)(keep_to - url), url, at);
}

/* redact_list is redact on each entry of a comma-separated list. */
static void
redact_list(const char *list, char *out, size_t n) {
    size_t used = 0;
    out[0] = '\0';
    for (const char *p = list; used < n;) {
        const char *end = strchr(p, ',');
        char one[512], shown[512];
        snprintf(one, sizeof one, "%.*s", (int)(end ? (size_t)(end - p) : strlen(p)), p);
        redact(one, shown, sizeof shown);
        if (used) out[used++] = ',';
        size_t w = strlen(shown);
        if (used + w >= n) w = n - used - 1;
        memcpy(out + used, shown, w);
        used += w;
        out[used] = '\0';
        if (!end || used + 1 >= n) break;
        p = end + 1;
    }
}

/* known_sslmode: libpq checks sslmode only when it connects. */
static bool
known_sslmode(const char *mode) {
    static const char *modes[] = {"disable", "allow",     "prefer",
                                  "require", "verify-ca", "verify-full"};
    for (size_t i = 0; i < sizeof modes / sizeof *modes; i++)
        if (!strcmp(mode, modes[i])) return true;
    return false;
}

/* check_database_url lets libpq parse the URL of variable name (the
 * scheme, a bad port, an unknown sslmode...) and checks that a named
 * sslrootcert can be read. */
static int
check_database_url(struct src *s, const char *name, const char *url) {
    char shown[512], expect[512];
    redact(url, shown, sizeof shown);
    if (strncmp(url, "postgres://", 11) && strncmp(url, "postgresql://", 13))
        return bad(s, name, shown, "a postgresql:// URL");
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &msg);
    if (!opts) {
        size_t len = msg ? strcspn(msg, "\n") : 0;
        snprintf(expect, sizeof expect, "a postgresql:// URL (%.*s)", (int)len,
                 msg ? msg : "out of memory");
        PQfreemem(msg);
        return bad(s, name, shown, expect);
    }
    const char *root = getenv("PGSSLROOTCERT"), *mode = NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!strcmp(o->keyword, "sslrootcert") && o->val && *o->val) root = o->val;
        if (!strcmp(o->keyword, "sslmode") && o->val) mode = o->val;
    }
    int rc = 0;
    if (mode && !known_sslmode(mode)) {
        rc = bad(s, name, shown,
                 "a postgresql:// URL (sslmode: disable, allow, prefer, require, verify-ca or "
                 "verify-full)");
    } else if (root && *root && strcmp(root, "system") && !readable(root)) {
        snprintf(expect, sizeof expect, "a readable sslrootcert (cannot read %s: %s)", root,
                 strerror(errno));
        rc = bad(s, name, shown, expect);
    }
    PQconninfoFree(opts);
    return rc;
}

/* check_redis parses REDIS_URL as redis_uv will, and for TLS loads the CA
 * file (or the system store) as redis_uv will. */
static int
check_redis(struct src *s, const char *url, const struct tls_opts *tls) {
    char shown[512], why[256], expect[400];
    struct redis_url u;
    redact(url, shown, sizeof shown);
    if (redis_url_parse(url, &u, why, sizeof why) < 0) {
        snprintf(expect, sizeof expect,
                 "redis://[[user]:password@]host[:port][/db] or rediss://... (%s)", why);
        return bad(s, "REDIS_URL", shown, expect);
    }
    bool tls_used = u.tls;
    redis_url_free(&u);
    if (!tls->ca_file && !tls_used) return 0;
    if (tls_opts_check(tls, why, sizeof why) < 0) {
        if (tls->ca_file) {
            snprintf(expect, sizeof expect, "a readable PEM file of CA certificates (%s)", why);
            return bad(s, "REDIS_TLS_CA_FILE", tls->ca_file, expect);
        }
        snprintf(expect, sizeof expect, "a rediss:// URL this host can verify (%s)", why);
        return bad(s, "REDIS_URL", shown, expect);
    }
    return 0;
}

/* split_redis reads REDIS_URL as a comma-separated list of shards (one
 * URL: one shard), checks each URL, and keeps shard 0's as redis_url. */
static int
split_redis(struct src *s, struct config *c) {
    const char *all = c->redis_url;
    char shown[512];
    c->redis_urls = xcalloc(CONFIG_REDIS_SHARDS_MAX, sizeof *c->redis_urls);
    for (const char *p = all;;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n > 0 && (*p == ' ' || *p == '\t')) p++, n--;
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
        redact_list(all, shown, sizeof shown);
        if (n == 0)
            return bad(s, "REDIS_URL", shown, "one Redis URL, or a comma-separated list of them");
        if (c->redis_shards == CONFIG_REDIS_SHARDS_MAX)
            return bad(s, "REDIS_URL", "(a list of more than 64 URLs)",
                       "at most 64 comma-separated Redis URLs (shards)");
        char *url = xstrndup(p, n);
        c->redis_urls[c->redis_shards++] = url;
        for (int i = 0; i + 1 < c->redis_shards; i++)
            if (!strcmp(c->redis_urls[i], url))
                return bad(s, "REDIS_URL", shown, "each shard's URL once");
        if (check_redis(s, url, &c->redis_tls) < 0) return -1;
        if (!end) break;
        p = end + 1;
    }
    c->redis_url = xstrdup(c->redis_urls[0]);
    free((char *)all);
    return 0;
}

const char *
config_env_name(enum app_env env) {
    static const char *names[] = {"development", "testing", "staging", "production"};
    return names[env];
}

static int
load(struct config *c, struct src *s) {
    const char *env = lookup(s, "APP_ENV");
    c->app_env = APP_DEVELOPMENT;
    if (env) {
        int found = 0;
        for (int i = APP_DEVELOPMENT; i <= APP_PRODUCTION; i++)
            if (strcmp(env, config_env_name(i)) == 0) c->app_env = i, found = 1;
        if (!found) return bad(s, "APP_ENV", env, "development, testing, staging or production");
    }
    bool dev = c->app_env == APP_DEVELOPMENT;
    bool deployed = c->app_env == APP_STAGING || c->app_env == APP_PRODUCTION;

    const char *lvl = lookup(s, "LOG_LEVEL");
    c->log_level = LOG_INFO;
    if (lvl && (c->log_level = log_level_parse(lvl)) < 0)
        return bad(s, "LOG_LEVEL", lvl, "debug, info, warn or error");

    c->host = get_str(s, "HOST", deployed ? "0.0.0.0" : "127.0.0.1");
    if (get_int(s, "PORT", 5000, 0, 65535, &c->port) < 0) return -1;
    if (get_int(s, "WEB_CONCURRENCY", deployed ? cpu_count() : 1, 1, 256, &c->web_concurrency) < 0)
        return -1;
    if (get_ms(s, "WEB_GRACE", 10000, 0, &c->web_grace_ms) < 0) return -1;
    if (get_size(s, "HTTP_MAX_HEADER_BYTES", 8192, 1024, &c->http_max_header_bytes) < 0) return -1;
    if (get_size(s, "HTTP_MAX_BODY_BYTES", 65536, 256, &c->http_max_body_bytes) < 0) return -1;
    /* POST /api/v1/batches: room for 10,000 URLs of about 400 bytes. */
    if (get_size(s, "HTTP_MAX_BATCH_BODY_BYTES", 4194304, 65536, &c->http_max_batch_body_bytes) < 0)
        return -1;
    if (get_int(s, "HTTP_MAX_CONNECTIONS", 10000, 1, 1000000, &c->http_max_connections) < 0)
        return -1;
    if (get_ms(s, "HTTP_HEADER_TIMEOUT", 10000, 1, &c->http_header_timeout_ms) < 0) return -1;
    if (get_ms(s, "HTTP_IDLE_TIMEOUT", 60000, 1, &c->http_idle_timeout_ms) < 0) return -1;
    if (get_ms(s, "HTTP_BODY_TIMEOUT", 30000, 1, &c->http_body_timeout_ms) < 0) return -1;
    /* Job submissions per second per client address, and the burst; 0 is off. */
    if (get_int(s, "SUBMIT_RATE", c->app_env == APP_TESTING ? 0 : 10, 0, 1000000, &c->submit_rate) <
        0)
        return -1;
    if (get_int(s, "SUBMIT_BURST", 20, 1, 1000000, &c->submit_burst) < 0) return -1;
    c->cors_origins = get_str(s, "CORS_ORIGINS", NULL);
    c->admin_token = get_str(s, "ADMIN_TOKEN", NULL);
    c->metrics_token = get_str(s, "METRICS_TOKEN", NULL);
    /* The statistics name worker hosts, pids and failure reasons: open
     * where people develop and test, behind a token once deployed. */
    if (get_bool(s, "STATS_PUBLIC", !deployed, &c->stats_public) < 0) return -1;

    const char *db = lookup(s, "DATABASE_URL");
    if (!db && deployed) return bad(s, "DATABASE_URL", "", "a postgresql:// URL (required here)");
    c->database_url = get_str(s, "DATABASE_URL", "postgresql://127.0.0.1:5432/wordcount");
    if (check_database_url(s, "DATABASE_URL", c->database_url) < 0) return -1;
    /* Unset: every read goes to DATABASE_URL's server. */
    c->database_read_url = get_str(s, "DATABASE_READ_URL", NULL);
    if (c->database_read_url && !c->database_read_url[0]) {
        free(c->database_read_url); /* set empty (an env file's way): unset */
        c->database_read_url = NULL;
    }
    if (c->database_read_url &&
        check_database_url(s, "DATABASE_READ_URL", c->database_read_url) < 0)
        return -1;
    if (get_bool(s, "DATABASE_PREPARE", true, &c->database_prepare) < 0) return -1;
    c->redis_url = get_str(s, "REDIS_URL", "redis://127.0.0.1:6379/0");
    c->redis_tls.ca_file = get_str(s, "REDIS_TLS_CA_FILE", NULL);
    if (get_bool(s, "REDIS_TLS_VERIFY", true, &c->redis_tls.verify) < 0) return -1;
    if (split_redis(s, c) < 0) return -1;
    c->key_prefix = get_str(s, "REDIS_KEY_PREFIX", "wc:");
    if (strlen(c->key_prefix) > 64 || strpbrk(c->key_prefix, " {}\r\n"))
        return bad(s, "REDIS_KEY_PREFIX", c->key_prefix,
                   "at most 64 characters, no spaces or braces");
    int ttl_ms;
    if (get_ms(s, "RESULT_TTL", 86400 * 1000, 1000, &ttl_ms) < 0) return -1;
    c->result_ttl_s = ttl_ms / 1000;
    if (get_int(s, "RESULT_RETENTION_DAYS", 0, 0, 36500, &c->result_retention_days) < 0) return -1;

    if (get_int(s, "WORKER_PROCESSES", deployed ? cpu_count() : 2, 1, 256, &c->worker_processes) <
        0)
        return -1;
    if (get_int(s, "WORKER_CONCURRENCY", 64, 1, 4096, &c->worker_concurrency) < 0) return -1;
    /* The jobs' memory, shared by the worker processes of one
     * wordcount-worker: 2 GiB fits a worker's share of a 24 GB host that
     * also runs Postgres, Redis and the web servers. */
    if (get_int(s, "WORKER_MEMORY_MB", 2048, 64, 1024 * 1024, &c->worker_memory_mb) < 0) return -1;
    if (get_ms(s, "WORKER_GRACE", 25000, 0, &c->worker_grace_ms) < 0) return -1;
    if (get_ms(s, "JOB_TIMEOUT", 60000, 100, &c->job_timeout_ms) < 0) return -1;
    if (get_int(s, "JOB_MAX_ATTEMPTS", 5, 1, 100, &c->job_max_attempts) < 0) return -1;
    if (get_ms(s, "JOB_RESCUE_AFTER", 30000, 1000, &c->job_rescue_after_ms) < 0) return -1;
    if (get_ms(s, "HEARTBEAT_INTERVAL", 5000, 100, &c->heartbeat_interval_ms) < 0) return -1;
    if (get_ms(s, "JOB_RETRY_BASE", 2000, 10, &c->job_retry_base_ms) < 0) return -1;
    if (get_ms(s, "JOB_RETRY_MAX", 300000, 10, &c->job_retry_max_ms) < 0) return -1;
    if (c->heartbeat_interval_ms * 2 > c->job_rescue_after_ms)
        return bad(s, "HEARTBEAT_INTERVAL", lookup(s, "HEARTBEAT_INTERVAL") ?: "5s",
                   "at most half of JOB_RESCUE_AFTER");

    if (get_size(s, "FETCH_MAX_BYTES", 10u << 20, 1024, &c->fetch_max_bytes) < 0) return -1;
    if (get_ms(s, "FETCH_TIMEOUT", 30000, 100, &c->fetch_timeout_ms) < 0) return -1;
    if (get_ms(s, "FETCH_CONNECT_TIMEOUT", 10000, 100, &c->fetch_connect_timeout_ms) < 0) return -1;
    if (get_int(s, "FETCH_MAX_REDIRECTS", 5, 0, 20, &c->fetch_max_redirects) < 0) return -1;
    if (get_bool(s, "FETCH_ALLOW_PRIVATE", dev, &c->fetch_allow_private) < 0) return -1;
    const char *allow = lookup(s, "FETCH_ALLOW_ADDRESSES");
    char allow_err[160], expect[256];
    if (addr_allow_parse(allow, &c->fetch_allow_addresses, allow_err, sizeof allow_err) < 0) {
        snprintf(expect, sizeof expect,
                 "comma-separated addresses, a.b.c.d/N or [v6/N] networks, address:port (%s)",
                 allow_err);
        return bad(s, "FETCH_ALLOW_ADDRESSES", allow, expect);
    }
    c->fetch_user_agent =
        get_str(s, "FETCH_USER_AGENT", "wordcount/1.0 (+https://github.com/wordcount)");
    if (get_int(s, "FETCH_HOST_CONCURRENCY", 2, 0, 10000, &c->fetch_host_concurrency) < 0)
        return -1;
    /* The _MS names take a bare number of milliseconds (the issue's names). */
    if (get_int(s, "FETCH_HOST_DELAY_MS", 0, 0, 3600000, &c->fetch_host_delay_ms) < 0) return -1;
    if (get_int(s, "FETCH_HOST_MAX_DELAY_MS", 30000, 0, 3600000, &c->fetch_host_max_delay_ms) < 0)
        return -1;
    if (c->fetch_host_delay_ms > c->fetch_host_max_delay_ms)
        return bad(s, "FETCH_HOST_DELAY_MS", lookup(s, "FETCH_HOST_DELAY_MS"),
                   "at most FETCH_HOST_MAX_DELAY_MS");
    const char *robots = lookup(s, "FETCH_ROBOTS");
    c->fetch_robots = true;
    if (robots && strcmp(robots, "respect") != 0) {
        if (strcmp(robots, "ignore") != 0)
            return bad(s, "FETCH_ROBOTS", robots, "respect or ignore");
        c->fetch_robots = false;
    }
    if (get_ms(s, "FETCH_ROBOTS_RETRY", 60000, 100, &c->fetch_robots_retry_ms) < 0) return -1;

    char sig_err[160];
    if (webhook_keys_parse(lookup(s, "WEBHOOK_SECRET"), &c->webhook_keys, sig_err, sizeof sig_err) <
        0) {
        /* The value is a secret: named, never shown. */
        snprintf(s->err, s->errlen, "invalid WEBHOOK_SECRET: %s", sig_err);
        return -1;
    }
    if (get_ms(s, "WEBHOOK_TIMEOUT", 10000, 100, &c->webhook_timeout_ms) < 0) return -1;
    if (get_ms(s, "WEBHOOK_RETRY_BASE", 5000, 10, &c->webhook_retry_base_ms) < 0) return -1;
    if (get_ms(s, "WEBHOOK_RETRY_MAX", 3600000, 10, &c->webhook_retry_max_ms) < 0) return -1;
    if (get_ms(s, "WEBHOOK_RETRY_FOR", 86400000, 0, &c->webhook_retry_for_ms) < 0) return -1;
    if (get_int(s, "WEBHOOK_CONCURRENCY", 16, 1, 1024, &c->webhook_concurrency) < 0) return -1;

    const char *sw = lookup(s, "STOPWORDS_FILE");
    c->stopwords_file =
        sw ? xstrdup(sw)
           : find_resource("stopwords-english.txt", "worker/data/stopwords-english.txt");
    if (!readable(c->stopwords_file))
        return bad(s, "STOPWORDS_FILE", c->stopwords_file, "a readable file");
    const char *st = lookup(s, "STATIC_DIR");
    c->static_dir = st ? xstrdup(st) : find_resource("static", "web/static");
    c->openapi_file = find_resource("openapi.json", "web/openapi.json");
    return 0;
}

int
config_load(struct config *c, const char *env_file, char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    struct src s = {.err = err, .errlen = errlen};
    if (!env_file) env_file = getenv("ENV_FILE");
    bool explicit_file = env_file != NULL;
    if (!env_file) env_file = ".env";
    if (explicit_file || access(env_file, F_OK) == 0) {
        int rc = ini_parse(env_file, on_ini_pair, &s.env);
        if (rc != 0) {
            if (rc < 0) snprintf(err, errlen, "invalid ENV_FILE=%s: cannot open", env_file);
            else
                snprintf(err, errlen, "invalid ENV_FILE=%s: syntax error on line %d", env_file, rc);
            dotenv_free(&s.env);
            return -1;
        }
    }
    int rc = load(c, &s);
    dotenv_free(&s.env);
    if (rc < 0) config_free(c);
    return rc;
}

void
config_free(struct config *c) {
    free(c->host);
    free(c->static_dir);
    free(c->cors_origins);
    free(c->openapi_file);
    free(c->admin_token);
    free(c->metrics_token);
    free(c->database_url);
    free(c->database_read_url);
    free(c->redis_url);
    for (int i = 0; i < c->redis_shards; i++) free(c->redis_urls[i]);
    free(c->redis_urls);
    free((char *)c->redis_tls.ca_file);
    free(c->key_prefix);
    free(c->fetch_user_agent);
    free(c->stopwords_file);
    memset(c, 0, sizeof *c);
}
