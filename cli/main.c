/* wordcount — the admin command line: a thin dispatcher over the command
 * modules (commands.h). Global options come before the command; each
 * command parses its own. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/opts.h"
#include "common/log.h"

static const char usage_text[] =
    "usage: wordcount [--json] [--timeout SECONDS] COMMAND [OPTIONS] [ARGS]\n"
    "\n"
    "commands:\n"
    "  info                       queue depth, running, retrying, failed by reason, workers\n"
    "  requeue ID | --all-failed  put failed jobs back in the queue\n"
    "  cancel ID                  cancel a job that has not started\n"
    "  purge --failed|--finished  delete failed jobs, or finished jobs' Redis state\n"
    "  enqueue FILE               submit the URLs in FILE, one per line (- for stdin)\n"
    "  result URL|ID              the top words of a job, or of a URL's newest result\n"
    "\n"
    "Every command takes --help and --json (results as JSON on stdout).\n"
    "--timeout: how long to wait for Redis or Postgres to connect or answer (default 5).\n"
    "The settings are the programs' (REDIS_URL, DATABASE_URL, REDIS_KEY_PREFIX, ...,\n"
    "from the environment and .env; see README).\n"
    "\n"
    "exit codes: 0 ok, 1 did not apply (job in another state, lines rejected), 2 usage,\n"
    "3 no such job or result, 66 input file unreadable, 69 Redis or Postgres\n"
    "unavailable, 70 unexpected answer, 78 bad configuration\n";

static const struct {
    const char *name;
    int (*run)(struct cli *c, int argc, char **argv);
} commands[] = {
    {"info", cmd_info},   {"requeue", cmd_requeue}, {"cancel", cmd_cancel},
    {"purge", cmd_purge}, {"enqueue", cmd_enqueue}, {"result", cmd_result},
};

static int
usage(const char *why) {
    if (!why) {
        fputs(usage_text, stdout);
        return CLI_OK;
    }
    fprintf(stderr, "wordcount: %s (see wordcount --help)\n", why);
    return CLI_USAGE;
}

int
main(int argc, char **argv) {
    log_init("cli", LOG_ERROR);
    long timeout_s = 5;
    bool json = false;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(NULL);
        if (!strcmp(a, "--json")) {
            json = true;
            continue;
        }
        const char *v = NULL;
        if (!strncmp(a, "--timeout=", 10)) v = a + 10;
        else if (!strcmp(a, "--timeout") && i + 1 < argc) v = argv[++i];
        else {
            char why[256];
            snprintf(why, sizeof why, "unknown option or missing value: %s", a);
            return usage(why);
        }
        if (opts_int(v, 1, 3600, &timeout_s) < 0)
            return usage("--timeout needs a number of seconds from 1 to 3600");
    }
    if (i >= argc) return usage("no command given");
    for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++) {
        if (strcmp(argv[i], commands[k].name) != 0) continue;
        struct cli c;
        cli_init(&c, commands[k].name, (int)timeout_s * 1000);
        c.json = json;
        int rc = commands[k].run(&c, argc - i, argv + i);
        fflush(stdout);
        cli_close(&c);
        return rc;
    }
    char why[256];
    snprintf(why, sizeof why, "unknown command: %.100s", argv[i]);
    return usage(why);
}
