/* sqlsplit — cut an SQL script into statements.
 *
 * Used for migrations marked `-- migrate:no-transaction`: Postgres runs a
 * multi-statement query string as one implicit transaction, so statements
 * such as CREATE INDEX CONCURRENTLY must be sent one at a time. The scanner
 * knows enough of the lexical rules to find the semicolons that end
 * statements: '...' strings (with '' and, for E'...', backslash escapes),
 * "..." identifiers, -- and nested block comments, and $tag$ dollar quotes.
 * SQL-standard function bodies (BEGIN ATOMIC ... END) are not recognised.
 * Pure functions; nothing is allocated. */
#ifndef WC_SQLSPLIT_H
#define WC_SQLSPLIT_H

#include <stdbool.h>
#include <stddef.h>

/* sqlsplit_next finds the statement that starts at or after *pos in sql
 * (NUL-terminated), sets *start and *len to it (leading blanks and comments
 * included, the terminating ';' excluded) and moves *pos past it. Pieces
 * holding only blanks and comments are skipped. Returns true when a
 * statement was found, false at the end. An unterminated string, quote or
 * comment runs to the end of the text (the server reports the error). */
bool sqlsplit_next(const char *sql, size_t *pos, size_t *start, size_t *len);

#endif
