/* batch_parse — the body of POST /api/v1/batches turned into a batch's
 * lines, each checked and normalised as a single submit's URL is
 * (common/url_norm.h).
 *
 * Three forms:
 *   application/json  {"urls": [...], "max_age": N, "fresh": B}; an
 *                     element that is not a string is an invalid line;
 *   text/plain        one URL per line (LF or CRLF); blank lines and
 *                     lines starting with '#' are skipped, as in the
 *                     CLI's URL files; surrounding blanks are trimmed;
 *   text/csv          RFC 4180 (libcsv: quoted fields, "" escapes, CRLF
 *                     or LF); the first record is the header, which must
 *                     have a "url" column (any case); other columns are
 *                     ignored; a record without that field is an invalid
 *                     line.
 * A line's index is its position among the batch's lines, from 0 (the
 * array index for JSON). An invalid line keeps its text and the reason
 * and does not stop the others.
 *
 * Owns: struct batch_input's lines and their strings (batch_input_free).
 * Pure functions: no I/O. */
#ifndef WC_BATCH_PARSE_H
#define WC_BATCH_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/batch.h"

struct batch_input {
    struct batch_line *lines; /* strings malloc'd (cached_id: the caller's) */
    size_t n, cap;
    size_t valid;
    bool fresh;
    long max_age_s;
};

/* What is wrong with a body as a whole: an HTTP status (400 malformed,
 * 413 too many lines, 422 unusable) with a title and detail. */
struct batch_parse_error {
    int status;
    const char *title;
    char detail[256];
};

enum batch_format { BATCH_JSON, BATCH_TEXT, BATCH_CSV };

/* batch_parse reads body in format into in (zeroed first). Returns 0, or
 * -1 with e filled (in is then empty). A body with no line at all is an
 * error; one whose lines are all invalid is not (the caller decides). */
int batch_parse(enum batch_format format, const char *body, size_t len, struct batch_input *in,
                struct batch_parse_error *e);
void batch_input_free(struct batch_input *in);

#endif
