/* cli — the session of one `wordcount` admin command: configuration, one
 * libuv loop, and the Redis and Postgres connections it opens on demand
 * through the same async modules the programs use (redis_uv, pg_uv,
 * queue). Commands run one step at a time: start an async call, then
 * cli_wait until its callback has set a flag.
 *
 * Owns: the configuration, the loop, one redis_uv connection per Redis
 * shard (common/shards.h) and the pg_uv connection (all released by
 * cli_close), and the exit codes every command shares. A command about
 * one job talks to the shard its id names; a command about the whole
 * queue (info, requeue --all-failed, purge) goes through every shard and
 * names any shard it cannot reach. Output rule: results go to stdout (one
 * JSON document or JSON lines with --json); diagnostics go to stderr
 * once, through cli_error. */
#ifndef WC_CLI_CLI_H
#define WC_CLI_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <uv.h>

#include "common/config.h"
#include "common/exits.h"
#include "common/keys.h"
#include "common/pg_uv.h"
#include "common/queue.h"
#include "common/redis_uv.h"

/* Exit codes, shared by every command: the programs' codes
 * (common/exits.h) and two answers of the CLI's own. */
enum cli_exit {
    CLI_OK = EX_OK,                   /* done */
    CLI_NOOP = 1,                     /* ran, but (some of) it did not apply: job in another
                                         state, lines rejected */
    CLI_USAGE = EXIT_USAGE,           /* bad command line */
    CLI_NOTFOUND = 3,                 /* no such job or result */
    CLI_NOINPUT = EX_NOINPUT,         /* input file missing or unreadable */
    CLI_UNAVAILABLE = EX_UNAVAILABLE, /* Redis or Postgres unreachable, or stopped answering */
    CLI_SOFTWARE = EX_SOFTWARE,       /* an unexpected answer (a bug, or a foreign key layout) */
    CLI_CONFIG = EX_CONFIG,           /* bad configuration */
};

/* One Redis shard's connection (REDIS_URL lists one server per shard,
 * common/shards.h), opened on demand. */
struct cli_shard {
    struct cli *cli;
    int index;
    redis_uv_t *redis; /* NULL until opened */
    struct keys keys;  /* the shard's own keys (keys_init_shard) */
    struct queue queue;
    bool ready;      /* connected once (a down shard never is) */
    bool closed;     /* its close callback ran */
    char name[160];  /* "Redis" with one shard, else "Redis shard 2 (host:port)" */
    char error[256]; /* why it could not be reached ("" if it was) */
};

struct cli {
    struct config config;     /* loaded by cli_start */
    const struct config *cfg; /* &config once loaded, else NULL */
    bool json;
    int timeout_ms;  /* connect and per-call limit */
    const char *cmd; /* command name, for messages */
    uv_loop_t loop;
    bool loop_ready;
    uv_timer_t timer; /* bounds each cli_wait */
    bool timed_out;
    struct cli_shard *shards; /* cfg->redis_shards of them, from cli_start */
    int nshards;
    int connecting; /* shards still connecting (cli_redis_all) */
    bool all_connected;
    /* The current shard (cli_redis_shard): its connection, keys and
     * queue. NULL until a shard is opened. */
    int shard;
    redis_uv_t *redis;
    const struct keys *keys;
    struct queue *queue;
    pg_uv_t *pg; /* NULL until cli_pg */
    bool closed_pg;
};

/* cli_init prepares c for command cmd; nothing is loaded or opened yet,
 * so a command can answer --help without a valid configuration. */
void cli_init(struct cli *c, const char *cmd, int timeout_ms);
/* cli_start loads the configuration (environment and .env, as the
 * programs do) and creates the loop; CLI_OK or an exit code (reported). */
int cli_start(struct cli *c);
/* cli_usage reports a command-line mistake (CLI_USAGE), or, with why ==
 * NULL, prints the usage text on stdout (CLI_OK). */
int cli_usage(const struct cli *c, const char *usage, const char *why);
/* cli_close closes the connections and the loop, and frees the config. */
void cli_close(struct cli *c);

/* cli_redis_shard connects to shard (0 .. nshards-1; one shard: the one
 * REDIS_URL names) if not yet connected, waits until it is ready and
 * makes it the current one (c->redis, c->keys, c->queue); CLI_OK or
 * CLI_UNAVAILABLE (reported, naming the shard). */
int cli_redis_shard(struct cli *c, int shard);
/* cli_redis_for_id is cli_redis_shard on the shard job (or batch) id
 * names (shard 0 for an id that names none: it is not found there). */
int cli_redis_for_id(struct cli *c, const char *id);
/* cli_redis_all connects to every shard at once and waits (one timeout
 * in all) until each is ready; each that is not is reported by name
 * (with "what" appended, e.g. "nothing changed") and keeps ready false.
 * CLI_OK when every shard is ready, else CLI_UNAVAILABLE. No shard is
 * made current. */
int cli_redis_all(struct cli *c, const char *what);
/* cli_pg connects to DATABASE_URL and waits until ready; CLI_OK or
 * CLI_UNAVAILABLE (reported). Idempotent. */
int cli_pg(struct cli *c);

/* cli_wait runs the loop until *done or the call timeout passes; true when done. */
bool cli_wait(struct cli *c, const bool *done);

/* cli_redis_call sends one command to the current shard and waits for its reply, converted to
 * JSON (strings, integers, arrays, null; status replies as strings) in
 * *out (the caller decrefs). Returns CLI_OK; CLI_UNAVAILABLE when Redis
 * did not answer; CLI_SOFTWARE for an error reply, whose text goes to
 * errbuf (not reported: the caller decides). */
int cli_redis_call(struct cli *c, json_t **out, char *errbuf, size_t errlen, int argc,
                   const char **argv);

/* cli_error prints "wordcount CMD: message" on stderr and returns code. */
int cli_error(const struct cli *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* cli_print_json writes v as one compact line on stdout and decrefs it. */
void cli_print_json(json_t *v);
/* cli_status_code maps a queue/redis_uv status (negative UV_*) to an exit code. */
int cli_status_code(int status);

#endif
