/* testdb — a fresh Postgres database per test, on the server that
 * tests/run.sh started (WC_TEST_DATABASE_URL).
 *
 * testdb_create makes an empty database with a unique name and writes a
 * postgresql:// URL for it; testdb_drop removes it (forcing out any
 * connections left). Blocking libpq: this is test set-up. */
#ifndef WC_TEST_TESTDB_H
#define WC_TEST_TESTDB_H

#include <stddef.h>

/* testdb_create returns 0 and fills url/name, or fails the current test. */
int testdb_create(char *url, size_t url_len, char *name, size_t name_len);
void testdb_drop(const char *name);
/* testdb_drop_at drops database name on the server of admin_url (any
 * database of it), forcing out connections left. A drop that fails is
 * tried again for up to 30 s: an autovacuum worker in the database makes
 * DROP ... WITH (FORCE) fail for a user that may not signal it, until it
 * is done. Returns 0 or -1 (logged). */
int testdb_drop_at(const char *admin_url, const char *name);
/* testdb_exec_at runs one command on url; 0, or -1 (logged). */
int testdb_exec_at(const char *url, const char *sql);
/* testdb_exec runs sql on url and returns the first field of the first row
 * as a newly allocated string ("" when no rows), or NULL on error. */
char *testdb_query_value(const char *url, const char *sql);
/* testdb_assert_value fails the current test unless sql's first value on
 * url is want (the message names both). */
void testdb_assert_value(const char *url, const char *sql, const char *want);
/* testdb_results_month writes the name of the results partition of this
 * UTC month + delta ("results_YYYY_MM"), from the clock. */
void testdb_results_month(int delta, char *out, size_t n);

#endif
