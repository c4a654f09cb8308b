/* urlfile — reads a list of URLs, one per line, for `wordcount enqueue`.
 *
 * Owns the FILE it opens (not standard input) and one fixed line buffer,
 * so a line never costs more than URL_CHECK_MAX bytes of memory: a longer
 * line is consumed and rejected. Blank lines and lines starting with '#'
 * are skipped; surrounding spaces, tabs and a CR are trimmed; every URL
 * goes through url_check, as the web server's submit does. */
#ifndef WC_CLI_URLFILE_H
#define WC_CLI_URLFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/url_check.h"

struct urlfile {
    FILE *f;
    bool owned; /* false for standard input */
    long line;  /* number of the line last returned */
    char buf[URL_CHECK_MAX + 1];
    char why[256];
};

/* urlfile_open opens path ("-": standard input); 0, or -1 with a reason in err. */
int urlfile_open(struct urlfile *u, const char *path, char *err, size_t errlen);
/* urlfile_next returns 1 with the next URL in *url (valid until the next
 * call) and *reject == NULL, or *reject set to why the line cannot be
 * submitted; 0 at the end; -1 on a read error (reason in err). */
int urlfile_next(struct urlfile *u, const char **url, const char **reject, char *err,
                 size_t errlen);
void urlfile_close(struct urlfile *u);

#endif
