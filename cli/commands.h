/* commands — the `wordcount` admin commands, one function each.
 *
 * Each takes the session (config loaded, nothing connected yet) and its
 * own argv (argv[0] is the command name), parses its options (every
 * command accepts --help and --json), connects to what it needs through
 * cli.h, prints its result, and returns an exit code (enum cli_exit).
 * Their usage texts live beside them (cmd_*.c). */
#ifndef WC_CLI_COMMANDS_H
#define WC_CLI_COMMANDS_H

#include "cli/cli.h"

int cmd_info(struct cli *c, int argc, char **argv);
int cmd_requeue(struct cli *c, int argc, char **argv);
int cmd_cancel(struct cli *c, int argc, char **argv);
int cmd_purge(struct cli *c, int argc, char **argv);
int cmd_enqueue(struct cli *c, int argc, char **argv);
int cmd_result(struct cli *c, int argc, char **argv);

#endif
