/* exits — how the programs exit: one list for web, worker, migrate and
 * the CLI.
 *
 * The codes are sysexits.h's (BSD's, shipped with glibc), which tell an
 * operator or a supervisor (systemd, compose) what to look at. This
 * header includes it and adds the one code it lacks: every program
 * answers a bad command line with 2, as the shell and GNU tools do (so
 * EX_USAGE, 64, is not used). Header only; nothing to free.
 *
 *   EX_OK           0   done
 *   EXIT_USAGE      2   bad command line (all four programs)
 *   EX_DATAERR     65   migrate: bad migration files
 *   EX_NOINPUT     66   CLI: an input file is missing or unreadable
 *   EX_UNAVAILABLE 69   CLI and migrate: Redis or Postgres unreachable
 *   EX_SOFTWARE    70   an internal error: a loop that cannot start or
 *                       close cleanly, an answer that cannot be (the CLI),
 *                       a migration that failed
 *   EX_OSERR       71   the system refused: no listening socket (web)
 *   EX_CONFIG      78   bad configuration (every program; it names the
 *                       variable)
 *
 * The CLI adds 1 (did not apply) and 3 (not found), migrate 1 (check
 * failed): answers of their commands, in cli/cli.h and
 * migrations/migrate.h. */
#ifndef WC_EXITS_H
#define WC_EXITS_H

#include <sysexits.h>

/* EXIT_USAGE: the exit status for a bad command line. */
#define EXIT_USAGE 2

#endif
