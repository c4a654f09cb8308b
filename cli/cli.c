#include "cli/cli.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/shards.h"

void
cli_init(struct cli *c, const char *cmd, int timeout_ms) {
    memset(c, 0, sizeof *c);
    c->cmd = cmd;
    c->timeout_ms = timeout_ms;
}

int
cli_start(struct cli *c) {
    char err[512];
    if (config_load(&c->config, NULL, err, sizeof err) < 0)
        return cli_error(c, CLI_CONFIG, "bad configuration: %s", err);
    c->cfg = &c->config;
    /* The modules' routine warnings (reconnecting, ...) would repeat what
     * the command reports once; show them only when asked for debug. */
    log_threshold = c->config.log_level == LOG_DEBUG ? LOG_DEBUG : LOG_ERROR;
    if (keys_init(&c->keys, c->config.key_prefix) < 0)
        return cli_error(c, CLI_CONFIG, "REDIS_KEY_PREFIX is too long");
    /* A server that hangs up while we write must be an error we report
     * (EPIPE), not a silent death by SIGPIPE: libuv writes with write(2). */
    signal(SIGPIPE, SIG_IGN);
    int rc = uv_loop_init(&c->loop);
    if (rc < 0)
        return cli_error(c, CLI_SOFTWARE, "cannot create an event loop: %s", uv_strerror(rc));
    uv_timer_init(&c->loop, &c->timer);
    c->timer.data = c;
    c->loop_ready = true;
    return CLI_OK;
}

static void
on_closed(void *arg) {
    *(bool *)arg = true;
}

int
cli_usage(const struct cli *c, const char *usage, const char *why) {
    if (!why) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    fprintf(stderr, "wordcount %s: %s (see wordcount %s --help)\n", c->cmd, why, c->cmd);
    return CLI_USAGE;
}

void
cli_close(struct cli *c) {
    if (c->loop_ready) {
        if (c->redis) redis_uv_close(c->redis, on_closed, &c->closed_redis);
        if (c->pg) pg_uv_close(c->pg, on_closed, &c->closed_pg);
        c->redis = NULL;
        c->pg = NULL;
        uv_close((uv_handle_t *)&c->timer, NULL);
        uv_run(&c->loop, UV_RUN_DEFAULT);
        int rc = uv_loop_close(&c->loop);
        if (rc < 0) log_error("msg=\"loop not closed cleanly\" error=%s", log_q(uv_strerror(rc)));
        c->loop_ready = false;
    }
    if (c->cfg) config_free(&c->config);
    c->cfg = NULL;
}

static void
on_timeout(uv_timer_t *t) {
    struct cli *c = t->data;
    c->timed_out = true;
}

bool
cli_wait(struct cli *c, const bool *done) {
    c->timed_out = false;
    uv_timer_start(&c->timer, on_timeout, (uint64_t)c->timeout_ms, 0);
    while (!*done && !c->timed_out) uv_run(&c->loop, UV_RUN_ONCE);
    uv_timer_stop(&c->timer);
    return *done;
}

/* --- connections --- */

static void
on_redis_state(redis_uv_t *r, bool connected, void *arg) {
    (void)r;
    if (connected) *(bool *)arg = true;
}

int
cli_redis_for_id(struct cli *c, const char *id) {
    int s = shards_of_id(id, c->cfg->redis_shards);
    c->shard = s < 0 ? 0 : s;
    return cli_redis(c);
}

int
cli_redis(struct cli *c) {
    if (c->redis) return CLI_OK;
    char err[256];
    if (c->shard > 0 && keys_init_shard(&c->keys, c->cfg->key_prefix, c->shard) < 0)
        return cli_error(c, CLI_CONFIG, "no Redis shard %d", c->shard);
    c->redis = redis_uv_new(&c->loop, c->cfg->redis_urls[c->shard], &c->cfg->redis_tls, "redis-cli",
                            c->timeout_ms, err, sizeof err);
    if (!c->redis) return cli_error(c, CLI_CONFIG, "REDIS_URL: %s", err);
    redis_uv_on_state(c->redis, on_redis_state, &c->redis_ready);
    bool ok = cli_wait(c, &c->redis_ready);
    redis_uv_on_state(c->redis, NULL, NULL);
    if (!ok) {
        const char *why = redis_uv_last_error(c->redis);
        return cli_error(c, CLI_UNAVAILABLE, "cannot reach Redis within %d ms: %s", c->timeout_ms,
                         *why ? why : "no answer");
    }
    queue_init(&c->queue, c->redis, &c->keys, c->cfg->result_ttl_s);
    return CLI_OK;
}

struct pg_wait {
    bool done;
    bool ok;
    char err[512];
};

static void
on_pg_ping(pg_uv_t *pg, PGresult *res, const char *errstr, void *arg) {
    (void)pg;
    struct pg_wait *w = arg;
    w->ok = res && PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!w->ok)
        snprintf(w->err, sizeof w->err, "%s",
                 res      ? PQresultErrorMessage(res)
                 : errstr ? errstr
                          : "");
    w->done = true;
}

int
cli_pg(struct cli *c) {
    if (c->pg) return CLI_OK;
    c->pg = pg_uv_new(&c->loop, c->cfg->database_url, "postgres-cli", c->timeout_ms, 64);
    pg_uv_set_prepare(c->pg, c->cfg->database_prepare);
    /* A first query is queued until the connection is up, and fails when
     * connecting fails: it doubles as the readiness check. */
    struct pg_wait w = {0};
    int rc = pg_uv_query(c->pg, "SELECT 1", 0, NULL, on_pg_ping, &w);
    if (rc < 0) snprintf(w.err, sizeof w.err, "%s", uv_strerror(rc));
    else if (!cli_wait(c, &w.done)) snprintf(w.err, sizeof w.err, "no answer");
    if (w.ok) return CLI_OK;
    if (!w.done && rc == 0) {
        /* Still pending: closing the connection calls it back. */
        pg_uv_close(c->pg, on_closed, &c->closed_pg);
        c->pg = NULL;
        cli_wait(c, &w.done);
    }
    const char *last = c->pg ? pg_uv_last_error(c->pg) : "";
    char why[512];
    snprintf(why, sizeof why, "%s", *last ? last : w.err);
    for (char *p = why; *p; p++)
        if (*p == '\n') *p = ' ';
    return cli_error(c, CLI_UNAVAILABLE, "cannot reach Postgres within %d ms: %s", c->timeout_ms,
                     why);
}

/* --- Redis calls --- */

static json_t *
reply_json(const redisReply *r) {
    switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
        return json_stringn(r->str, r->len) ?: json_string("(not UTF-8)");
    case REDIS_REPLY_INTEGER:
        return json_integer(r->integer);
    case REDIS_REPLY_ARRAY: {
        json_t *a = json_array();
        for (size_t i = 0; i < r->elements; i++)
            json_array_append_new(a, reply_json(r->element[i]));
        return a;
    }
    default:
        return json_null();
    }
}

struct call {
    bool done;
    int status;
    json_t *value;
    char err[256];
};

static void
on_reply(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg) {
    (void)r;
    struct call *k = arg;
    if (!reply) {
        k->status = CLI_UNAVAILABLE;
        snprintf(k->err, sizeof k->err, "%s", errstr ? errstr : "no answer");
    } else if (reply->type == REDIS_REPLY_ERROR) {
        k->status = CLI_SOFTWARE;
        snprintf(k->err, sizeof k->err, "%s", reply->str);
    } else {
        k->value = reply_json(reply);
    }
    k->done = true;
}

int
cli_redis_call(struct cli *c, json_t **out, char *errbuf, size_t errlen, int argc,
               const char **argv) {
    enum { MAX_ARGS = 64 };
    *out = NULL;
    if (argc > MAX_ARGS) {
        snprintf(errbuf, errlen, "too many arguments");
        return CLI_SOFTWARE;
    }
    size_t lens[MAX_ARGS];
    for (int i = 0; i < argc; i++) lens[i] = strlen(argv[i]);
    struct call k = {0};
    int rc = redis_uv_command(c->redis, on_reply, &k, argc, argv, lens);
    if (rc < 0) {
        snprintf(errbuf, errlen, "%s", uv_strerror(rc));
        return CLI_UNAVAILABLE;
    }
    if (!cli_wait(c, &k.done)) {
        /* redis_uv fails the command itself after the same timeout. */
        cli_wait(c, &k.done);
        if (!k.done) {
            snprintf(errbuf, errlen, "no answer");
            return CLI_UNAVAILABLE;
        }
    }
    if (k.status) {
        snprintf(errbuf, errlen, "%s", k.err);
        return k.status;
    }
    *out = k.value;
    return CLI_OK;
}

/* --- output --- */

int
cli_error(const struct cli *c, int code, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "wordcount%s%s: %s\n", c && c->cmd ? " " : "", c && c->cmd ? c->cmd : "", msg);
    return code;
}

void
cli_print_json(json_t *v) {
    json_dumpf(v, stdout, JSON_COMPACT);
    fputc('\n', stdout);
    json_decref(v);
}

int
cli_status_code(int status) {
    if (status == UV_ECONNRESET || status == UV_ENOTCONN || status == UV_ECANCELED ||
        status == UV_ETIMEDOUT)
        return CLI_UNAVAILABLE;
    if (status == UV_EINVAL) return CLI_USAGE;
    return CLI_SOFTWARE;
}
