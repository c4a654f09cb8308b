/* opts — the command-line parser every `wordcount` command shares.
 *
 * Owns nothing: it reads argv (argv[0] is the command name) against a
 * caller-owned table of long options and fills it in place. Accepted:
 * "--name", "--name=value", "--name value", "--" (the rest are
 * positional), and "-" as a positional (standard input). "--help"/"-h"
 * and "--json" are understood by every command. Values point into argv. */
#ifndef WC_CLI_OPTS_H
#define WC_CLI_OPTS_H

#include <stdbool.h>
#include <stddef.h>

struct opt {
    const char *name; /* "--all-failed" */
    bool takes_value;
    bool seen;         /* out */
    const char *value; /* out: the value, when takes_value */
};

struct opts_result {
    bool help;          /* --help or -h was given */
    bool json;          /* --json was given */
    const char *pos[8]; /* positional arguments */
    int npos;
    char error[256]; /* why parsing failed */
};

/* opts_parse returns 0, or -1 with a message in r->error for an unknown
 * option, a missing value, a repeated option or more than max_pos
 * positional arguments. */
int opts_parse(int argc, char **argv, struct opt *opts, size_t nopts, int max_pos,
               struct opts_result *r);
/* opts_find returns the table entry called name (it must exist). */
struct opt *opts_find(struct opt *opts, size_t nopts, const char *name);
/* opts_int parses a decimal integer in [min, max]; returns 0 or -1. */
int opts_int(const char *s, long min, long max, long *out);

#endif
