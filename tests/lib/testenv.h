/* testenv — helpers shared by the Criterion tests.
 *
 * Owns nothing long-lived. The real servers come from tests/run.sh, which
 * starts a private redis-server and Postgres on free loopback ports and
 * exports WC_TEST_REDIS_URL and WC_TEST_DATABASE_URL (a fresh database per
 * run). Tests that need them call testenv_redis_url()/testenv_database_url(),
 * which fail the test with a clear message when the variable is missing.
 * Each test takes its own key prefix (testenv_prefix) or Postgres schema
 * (testenv_schema) so test binaries can run in parallel. */
#ifndef WC_TESTENV_H
#define WC_TESTENV_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

/* testenv_redis_url returns $WC_TEST_REDIS_URL or fails the current test. */
const char *testenv_redis_url(void);
/* testenv_database_url returns $WC_TEST_DATABASE_URL or fails the current test. */
const char *testenv_database_url(void);
/* testenv_prefix writes a unique Redis key prefix ("t:<pid>:<n>:<rand>:"). */
void testenv_prefix(char *out, size_t n);
/* testenv_name writes a unique lower-case identifier ("t_<pid>_<n>_<rand>"). */
void testenv_name(char *out, size_t n);
/* testenv_run_until runs loop until *flag is true or timeout_ms pass;
 * returns true when the flag was set. */
bool testenv_run_until(uv_loop_t *loop, const bool *flag, int timeout_ms);
/* testenv_run_until_pred runs loop until pred(arg) is true or timeout_ms
 * pass (pred is asked after every turn of the loop); returns pred's last
 * answer. */
bool testenv_run_until_pred(uv_loop_t *loop, bool (*pred)(void *arg), void *arg, int timeout_ms);
/* testenv_run_ms runs loop for ms milliseconds, for a test that lets time
 * pass on purpose (backoffs, a quiet period in which nothing may happen). */
void testenv_run_ms(uv_loop_t *loop, int ms);
/* testenv_on_closed is a close callback for the modules' _close(cb, arg)
 * functions: arg is a bool, set to true. */
void testenv_on_closed(void *arg);
/* testenv_loop_close runs the loop until no handles are left (bounded) and
 * returns uv_loop_close's result (0 when nothing leaked). */
int testenv_loop_close(uv_loop_t *loop);
/* testenv_bin returns "$BIN_DIR/<name>" (default: ./bin/<name>) in a static buffer. */
const char *testenv_bin(const char *name);
/* testenv_write_file writes content to path or fails the current test. */
void testenv_write_file(const char *path, const char *content);
/* testenv_free_port asks the kernel for a free loopback port (another
 * program may take it before the caller binds it), or returns -1. */
int testenv_free_port(void);
/* testenv_remove_dir removes the folder dir names (unless KEEP_TMP=1) and
 * empties dir; nothing when it is already empty. */
void testenv_remove_dir(char *dir);
/* testenv_srcdir returns the source tree's root (compiled in). */
const char *testenv_srcdir(void);

#endif
