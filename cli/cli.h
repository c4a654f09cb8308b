/* cli — the session of one `wordcount` admin command: configuration, one
 * libuv loop, and the Redis and Postgres connections it opens on demand
 * through the same async modules the programs use (redis_uv, pg_uv,
 * queue). Commands run one step at a time: start an async call, then
 * cli_wait until its callback has set a flag.
 *
 * Owns: the configuration, the loop, the redis_uv and pg_uv connections
 * (all released by cli_close), and the exit codes every command shares. Output rule: results go to stdout (one JSON document or JSON
 * lines with --json); diagnostics go to stderr once, through cli_error. */
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
    redis_uv_t *redis; /* NULL until cli_redis */
    pg_uv_t *pg;       /* NULL until cli_pg */
    struct keys keys;
    struct queue queue;
    int shard; /* the Redis shard cli_redis connects to (common/shards.h); 0 by default */
    bool redis_ready;
    bool closed_redis, closed_pg;
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

/* cli_redis connects to REDIS_URL (with several shards, shard c->shard)
 * and waits until ready; CLI_OK or CLI_UNAVAILABLE (reported).
 * Idempotent. */
int cli_redis(struct cli *c);
/* cli_redis_for_id is cli_redis on the shard job (or batch) id names. */
int cli_redis_for_id(struct cli *c, const char *id);
/* cli_pg connects to DATABASE_URL and waits until ready; CLI_OK or
 * CLI_UNAVAILABLE (reported). Idempotent. */
int cli_pg(struct cli *c);

/* cli_wait runs the loop until *done or the call timeout passes; true when done. */
bool cli_wait(struct cli *c, const bool *done);

/* cli_redis_call sends one command and waits for its reply, converted to
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
