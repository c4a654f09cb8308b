#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "tests/lib/testenv.h"

/* Every variable config reads, cleared before each test so the tests see
 * only what they set. */
static const char *vars[] = {"APP_ENV",
                             "LOG_LEVEL",
                             "HOST",
                             "PORT",
                             "WEB_CONCURRENCY",
                             "WEB_GRACE",
                             "HTTP_MAX_HEADER_BYTES",
                             "HTTP_MAX_BODY_BYTES",
                             "HTTP_MAX_BATCH_BODY_BYTES",
                             "HTTP_MAX_CONNECTIONS",
                             "HTTP_HEADER_TIMEOUT",
                             "HTTP_IDLE_TIMEOUT",
                             "ADMIN_TOKEN",
                             "DATABASE_URL",
                             "REDIS_URL",
                             "REDIS_TLS_CA_FILE",
                             "REDIS_TLS_VERIFY",
                             "PGSSLROOTCERT",
                             "REDIS_KEY_PREFIX",
                             "RESULT_TTL",
                             "RESULT_RETENTION_DAYS",
                             "DATABASE_PREPARE",
                             "WORKER_PROCESSES",
                             "WORKER_CONCURRENCY",
                             "WORKER_GRACE",
                             "JOB_TIMEOUT",
                             "JOB_MAX_ATTEMPTS",
                             "JOB_RESCUE_AFTER",
                             "HEARTBEAT_INTERVAL",
                             "JOB_RETRY_BASE",
                             "JOB_RETRY_MAX",
                             "FETCH_MAX_BYTES",
                             "FETCH_TIMEOUT",
                             "FETCH_CONNECT_TIMEOUT",
                             "FETCH_MAX_REDIRECTS",
                             "FETCH_ALLOW_PRIVATE",
                             "FETCH_USER_AGENT",
                             "STOPWORDS_FILE",
                             "STATIC_DIR",
                             "ENV_FILE",
                             "FETCH_ALLOW_ADDRESSES",
                             "METRICS_TOKEN",
                             "STATS_PUBLIC",
                             "WORKER_MEMORY_MB",
                             "DATABASE_READ_URL"};

static char tmpdir[64];

static void
setup(void) {
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) unsetenv(vars[i]);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/wc-config-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    cr_assert_eq(chdir(tmpdir), 0); /* no stray ./.env from the source tree */
}

static void
teardown(void) {
    char path[128];
    snprintf(path, sizeof path, "%s/.env", tmpdir);
    unlink(path);
    rmdir(tmpdir);
}

TestSuite(config, .init = setup, .fini = teardown);

Test(config, development_defaults) {
    struct config c;
    char err[256] = "";
    cr_assert_eq(config_load(&c, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(c.app_env, APP_DEVELOPMENT);
    cr_assert_eq(c.port, 5000);
    cr_assert_str_eq(c.host, "127.0.0.1");
    cr_assert_eq(c.worker_concurrency, 64);
    cr_assert_eq(c.job_max_attempts, 5);
    cr_assert_eq(c.result_retention_days, 0, "results kept for ever unless asked");
    cr_assert(c.database_prepare, "statements prepared unless asked not to");
    cr_assert_eq(c.job_timeout_ms, 60000);
    cr_assert_eq(c.fetch_max_bytes, 10u << 20);
    cr_assert(c.fetch_allow_private, "development fetches private addresses");
    cr_assert_str_eq(c.key_prefix, "wc:");
    cr_assert_null(c.admin_token);
    cr_assert_null(c.metrics_token);
    cr_assert(c.stats_public, "development shows the statistics to anyone");
    cr_assert_eq(access(c.stopwords_file, R_OK), 0, "%s", c.stopwords_file);
    config_free(&c);
}

Test(config, production_is_strict) {
    setenv("APP_ENV", "production", 1);
    struct config c;
    char err[256] = "";
    cr_assert_eq(config_load(&c, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "DATABASE_URL"), "message names the variable: %s", err);
    setenv("DATABASE_URL", "postgresql://db.internal/wordcount", 1);
    cr_assert_eq(config_load(&c, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_not(c.fetch_allow_private, "production refuses private addresses");
    cr_assert_str_eq(c.host, "0.0.0.0");
    cr_assert_not(c.stats_public, "production keeps the statistics behind a token");
    config_free(&c);
}

Test(config, stats_public_and_metrics_token) {
    struct config c;
    char err[256] = "";
    const char *envs[] = {"development", "testing", "staging", "production"};
    const bool open[] = {true, true, false, false};
    setenv("DATABASE_URL", "postgresql://db.internal/wordcount", 1);
    for (int i = 0; i < 4; i++) {
        setenv("APP_ENV", envs[i], 1);
        cr_assert_eq(config_load(&c, NULL, err, sizeof err), 0, "%s", err);
        cr_assert_eq(c.stats_public, open[i], "%s", envs[i]);
        config_free(&c);
    }
    setenv("STATS_PUBLIC", "1", 1);
    setenv("METRICS_TOKEN", "scrape-me", 1);
    cr_assert_eq(config_load(&c, NULL, err, sizeof err), 0, "%s", err);
    cr_assert(c.stats_public, "the operator opted out");
    cr_assert_str_eq(c.metrics_token, "scrape-me");
    config_free(&c);
    setenv("STATS_PUBLIC", "sometimes", 1);
    cr_assert_eq(config_load(&c, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "STATS_PUBLIC"), "message names the variable: %s", err);
}

Test(config, values_with_units) {
    setenv("JOB_TIMEOUT", "90s", 1);
    setenv("FETCH_TIMEOUT", "2500ms", 1);
    setenv("WORKER_GRACE", "1m", 1);
    setenv("FETCH_MAX_BYTES", "2M", 1);
    setenv("HTTP_MAX_BODY_BYTES", "64KB", 1);
    setenv("FETCH_ALLOW_PRIVATE", "no", 1);
    setenv("LOG_LEVEL", "debug", 1);
    struct config c;
    char err[256] = "";
    cr_assert_eq(config_load(&c, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(c.job_timeout_ms, 90000);
    cr_assert_eq(c.fetch_timeout_ms, 2500);
    cr_assert_eq(c.worker_grace_ms, 60000);
    cr_assert_eq(c.fetch_max_bytes, 2u << 20);
    cr_assert_eq(c.http_max_body_bytes, 65536);
    cr_assert_not(c.fetch_allow_private);
    cr_assert_eq(c.log_level, LOG_DEBUG);
    config_free(&c);
}

/* Arrays, not pointers: parameters are copied into each test process. */
struct bad_case {
    char name[32];
    char value[80];
};

ParameterizedTestParameters(config, bad_value_names_the_variable) {
    static struct bad_case cases[] = {
        {"APP_ENV", "prod"},
        {"PORT", "70000"},
        {"PORT", "80x"},
        {"PORT", "-1"},
        {"WORKER_PROCESSES", "0"},
        {"WORKER_CONCURRENCY", "lots"},
        {"JOB_TIMEOUT", "10 years"},
        {"JOB_TIMEOUT", "-5"},
        {"JOB_MAX_ATTEMPTS", "0"},
        {"RESULT_RETENTION_DAYS", "-1"},
        {"DATABASE_PREPARE", "maybe"},
        {"RESULT_RETENTION_DAYS", "30d"},
        {"RESULT_RETENTION_DAYS", "36501"},
        {"FETCH_MAX_BYTES", "10Q"},
        {"FETCH_MAX_BYTES", "99999999999999999999999"},
        {"FETCH_ALLOW_PRIVATE", "maybe"},
        {"FETCH_ALLOW_ADDRESSES", "localhost"},
        {"FETCH_ALLOW_ADDRESSES", "127.0.0.1:99999"},
        {"FETCH_ALLOW_ADDRESSES", "10.0.0.0/33"},
        {"LOG_LEVEL", "loud"},
        {"DATABASE_URL", "mysql://x/y"},
        {"REDIS_URL", "http://127.0.0.1:6379"},
        {"REDIS_URL", "rediss://127.0.0.1:99999"},
        {"REDIS_URL", "redis://127.0.0.1:0/0"},
        {"REDIS_URL", "rediss://127.0.0.1:6379/zero"},
        {"REDIS_URL", "rediss://127.0.0.1:6379/0?ssl_cert_reqs=none"},
        {"REDIS_URL", "redis://user@127.0.0.1:6379"},
        {"REDIS_URL", "redis://127.0.0.1:6379,"},
        {"REDIS_URL", ",redis://127.0.0.1:6379"},
        {"REDIS_URL", "redis://127.0.0.1:6379, ,redis://127.0.0.1:6380"},
        {"REDIS_URL", "redis://127.0.0.1:6379,redis://127.0.0.1:6379"},
        {"REDIS_URL", "redis://127.0.0.1:6379,http://127.0.0.1:6380"},
        {"REDIS_TLS_CA_FILE", "/nonexistent/ca.crt"},
        {"REDIS_TLS_VERIFY", "maybe"},
        {"DATABASE_URL", "postgresql://127.0.0.1/db?sslmode=verify-fulll"},
        {"DATABASE_URL", "postgresql://127.0.0.1/db?no_such_option=1"},
        {"DATABASE_URL", "postgresql://127.0.0.1/db?sslmode=verify-full&sslrootcert=/nonexistent"},
        {"REDIS_KEY_PREFIX", "has space"},
        {"STOPWORDS_FILE", "/nonexistent/stopwords.txt"},
        {"HEARTBEAT_INTERVAL", "20s"},
    };
    return cr_make_param_array(struct bad_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct bad_case *bc, config, bad_value_names_the_variable) {
    setenv(bc->name, bc->value, 1);
    struct config c;
    char err[256] = "";
    cr_assert_eq(config_load(&c, NULL, err, sizeof err), -1, "%s=%s accepted", bc->name, bc->value);
    cr_assert(strstr(err, bc->name), "message names %s: %s", bc->name, err);
}

Test(config, dotenv_file_fills_gaps_and_environment_wins) {
    FILE *f = fopen(".env", "w");
    cr_assert_not_null(f);
    fputs("# comment\nPORT=6001\nREDIS_KEY_PREFIX=\"from-file:\"\nWORKER_CONCURRENCY=8\n", f);
    fclose(f);
    setenv("WORKER_CONCURRENCY", "16", 1);
    struct config c;
    char err[256] = "";
    cr_assert_eq(config_load(&c, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(c.port, 6001);
    cr_assert_str_eq(c.key_prefix, "from-file:");
    cr_assert_eq(c.worker_concurrency, 16);
    config_free(&c);
}

Test(config, bad_dotenv_line_is_reported) {
    FILE *f = fopen(".env", "w");
    cr_assert_not_null(f);
    fputs("PORT=6001\nthis line has no equals sign\n", f);
    fclose(f);
    struct config c;
    char err[256] = "";
    cr_assert_eq(config_load(&c, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "line 2"), "%s", err);
}

Test(config, missing_explicit_env_file_is_an_error) {
    setenv("ENV_FILE", "/nonexistent/.env", 1);
    struct config c;
    char err[256] = "";
    cr_assert_eq(config_load(&c, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "ENV_FILE"), "%s", err);
}

Test(config, parsers) {
    int ms;
    size_t sz;
    bool b;
    cr_assert_eq(config_parse_duration_ms("30", &ms), 0);
    cr_assert_eq(ms, 30000);
    cr_assert_eq(config_parse_duration_ms("0.5s", &ms), 0);
    cr_assert_eq(ms, 500);
    cr_assert_eq(config_parse_duration_ms("1h", &ms), 0);
    cr_assert_eq(ms, 3600000);
    cr_assert_eq(config_parse_duration_ms("s", &ms), -1);
    cr_assert_eq(config_parse_duration_ms("5d", &ms), -1);
    cr_assert_eq(config_parse_size("1G", &sz), 0);
    cr_assert_eq(sz, 1u << 30);
    cr_assert_eq(config_parse_size("10MiB", &sz), 0);
    cr_assert_eq(sz, 10u << 20);
    cr_assert_eq(config_parse_size("12B", &sz), 0);
    cr_assert_eq(sz, 12);
    cr_assert_eq(config_parse_size("1.5M", &sz), -1);
    cr_assert_eq(config_parse_bool("TRUE", &b), 0);
    cr_assert(b);
    cr_assert_eq(config_parse_bool("off", &b), 0);
    cr_assert_not(b);
    cr_assert_eq(config_parse_bool("2", &b), -1);
}

Test(config, fetch_allow_addresses) {
    setenv("FETCH_ALLOW_ADDRESSES", "127.0.0.1:8080, 10.1.0.0/16,[::1]:443", 1);
    struct config c;
    char err[256] = "";
    cr_assert_eq(config_load(&c, NULL, err, sizeof err), 0, "%s", err);
    cr_expect_eq(c.fetch_allow_addresses.n, 3);
    cr_expect_eq(c.fetch_allow_addresses.v[0].port, 8080);
    cr_expect_eq(c.fetch_allow_addresses.v[1].prefix, 16);
    config_free(&c);
}

Test(config, redis_tls_settings) {
    setenv("REDIS_URL", "rediss://default:pw@redis.example:6380/2", 1);
    struct config c;
    char err[512] = "";
    cr_assert_eq(config_load(&c, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_null(c.redis_tls.ca_file, "the system store by default");
    cr_assert(c.redis_tls.verify, "verification is on by default");
    config_free(&c);

    /* Any readable PEM file of CA certificates; here the system bundle. */
    setenv("REDIS_TLS_CA_FILE", "/etc/ssl/certs/ca-certificates.crt", 1);
    setenv("REDIS_TLS_VERIFY", "false", 1);
    cr_assert_eq(config_load(&c, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(c.redis_tls.ca_file, "/etc/ssl/certs/ca-certificates.crt");
    cr_assert_not(c.redis_tls.verify);
    config_free(&c);
}

Test(config, redis_url_lists_shards) {
    struct config c;
    char err[512] = "";
    setenv("REDIS_URL", "redis://127.0.0.1:6379/0", 1);
    cr_assert_eq(config_load(&c, NULL, err, sizeof err), 0, "%s", err);
    cr_expect_eq(c.redis_shards, 1);
    cr_expect_str_eq(c.redis_url, "redis://127.0.0.1:6379/0");
    cr_expect_str_eq(c.redis_urls[0], "redis://127.0.0.1:6379/0");
    config_free(&c);

    setenv("REDIS_URL", "redis://a.example:6379/0, redis://b.example:6380/1 ,redis://c.example", 1);
    cr_assert_eq(config_load(&c, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(c.redis_shards, 3);
    cr_expect_str_eq(c.redis_url, "redis://a.example:6379/0", "shard 0's URL");
    cr_expect_str_eq(c.redis_urls[0], "redis://a.example:6379/0");
    cr_expect_str_eq(c.redis_urls[1], "redis://b.example:6380/1");
    cr_expect_str_eq(c.redis_urls[2], "redis://c.example");
    config_free(&c);

    /* 65 shards: one too many. */
    char many[65 * 32] = "";
    for (int i = 0; i < 65; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%sredis://h%d.example",
                 i ? "," : "", i);
    setenv("REDIS_URL", many, 1);
    cr_assert_eq(config_load(&c, NULL, err, sizeof err), -1);
    cr_expect(strstr(err, "at most 64"), "%s", err);
}

Test(config, redis_url_list_messages_never_print_passwords) {
    setenv("REDIS_URL", "redis://:first@a.example,redis://bob:second@b.example,", 1);
    struct config c;
    char err[512] = "";
    cr_assert_eq(config_load(&c, NULL, err, sizeof err), -1);
    cr_assert_null(strstr(err, "first"), "%s", err);
    cr_assert_null(strstr(err, "second"), "%s", err);
    cr_assert(strstr(err, "redis://bob:***@b.example"), "%s", err);
}

Test(config, redis_tls_ca_file_must_hold_certificates) {
    testenv_write_file("not-a-ca.pem", "this is not a certificate\n");
    setenv("REDIS_URL", "rediss://127.0.0.1:6380/0", 1);
    setenv("REDIS_TLS_CA_FILE", "not-a-ca.pem", 1);
    struct config c;
    char err[512] = "";
    cr_assert_eq(config_load(&c, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "REDIS_TLS_CA_FILE=not-a-ca.pem"), "%s", err);
    cr_assert(strstr(err, "no usable certificate"), "%s", err);
    unlink("not-a-ca.pem");
}

Test(config, messages_never_print_passwords) {
    setenv("REDIS_URL", "rediss://alice:topsecret@redis.example:99999/0", 1);
    struct config c;
    char err[512] = "";
    cr_assert_eq(config_load(&c, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "REDIS_URL=rediss://alice:***@redis.example:99999/0"), "%s", err);
    cr_assert_null(strstr(err, "topsecret"), "%s", err);

    setenv("REDIS_URL", "redis://topsecret@redis.example:99999/0", 1);
    cr_assert_eq(config_load(&c, NULL, err, sizeof err), -1);
    cr_assert_null(strstr(err, "topsecret"), "%s", err);

    unsetenv("REDIS_URL");
    setenv("DATABASE_URL", "postgresql://app:topsecret@db.example/app?sslmode=bogus", 1);
    cr_assert_eq(config_load(&c, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "DATABASE_URL=postgresql://app:***@db.example"), "%s", err);
    cr_assert(strstr(err, "sslmode"), "libpq says what is wrong: %s", err);
    cr_assert_null(strstr(err, "topsecret"), "%s", err);
}

Test(config, database_url_sslrootcert) {
    setenv("DATABASE_URL",
           "postgresql://db.example/app?sslmode=verify-full&sslrootcert=/etc/ssl/certs/"
           "ca-certificates.crt",
           1);
    struct config c;
    char err[512] = "";
    cr_assert_eq(config_load(&c, NULL, err, sizeof err), 0, "%s", err);
    config_free(&c);
    /* libpq's own variable names the file when the URL does not. */
    setenv("DATABASE_URL", "postgresql://db.example/app?sslmode=verify-full", 1);
    setenv("PGSSLROOTCERT", "/nonexistent/root.crt", 1);
    cr_assert_eq(config_load(&c, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "DATABASE_URL") && strstr(err, "/nonexistent/root.crt"), "%s", err);
}

Test(config, database_read_url) {
    struct config c;
    char err[512] = "";
    cr_assert_eq(config_load(&c, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_null(c.database_read_url, "unset: reads go to DATABASE_URL");
    config_free(&c);
    setenv("DATABASE_READ_URL", "", 1); /* an env file's empty value: unset */
    cr_assert_eq(config_load(&c, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_null(c.database_read_url);
    config_free(&c);
    setenv("DATABASE_READ_URL", "postgresql://replica.example:5433/app?sslmode=require", 1);
    cr_assert_eq(config_load(&c, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(c.database_read_url, "postgresql://replica.example:5433/app?sslmode=require");
    config_free(&c);
    /* Checked as DATABASE_URL is, and named in the message, password hidden. */
    const char *bad[] = {"mysql://replica.example/app",
                         "postgresql://app:topsecret@replica.example/app?sslmode=sometimes",
                         "postgresql://replica.example/app?nosuchparameter=1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        setenv("DATABASE_READ_URL", bad[i], 1);
        cr_assert_eq(config_load(&c, NULL, err, sizeof err), -1, "%s was taken", bad[i]);
        cr_assert(strstr(err, "DATABASE_READ_URL="), "%s", err);
        cr_assert_null(strstr(err, "topsecret"), "%s", err);
    }
    unsetenv("DATABASE_READ_URL");
}
