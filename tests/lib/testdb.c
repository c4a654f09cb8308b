#include "tests/lib/testdb.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/xalloc.h"
#include "tests/lib/testenv.h"

/* exec_at runs sql on url; on failure the error goes to err when given,
 * else to the test's log. */
static int
exec_at(const char *url, const char *sql, char *err, size_t errlen) {
    PGconn *c = PQconnectdb(url);
    int rc = -1;
    char msg[512] = "";
    if (PQstatus(c) != CONNECTION_OK) {
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(c));
    } else {
        PGresult *r = PQexec(c, sql);
        rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
        if (rc) snprintf(msg, sizeof msg, "%s: %s", sql, PQresultErrorMessage(r));
        PQclear(r);
    }
    PQfinish(c);
    if (rc && err) snprintf(err, errlen, "%s", msg);
    else if (rc) cr_log_error("testdb: %s", msg);
    return rc;
}

int
testdb_exec_at(const char *url, const char *sql) {
    return exec_at(url, sql, NULL, 0);
}

static int
exec_admin(const char *sql) {
    return exec_at(testenv_database_url(), sql, NULL, 0);
}

int
testdb_create(char *url, size_t url_len, char *name, size_t name_len) {
    testenv_name(name, name_len);
    char sql[256];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    cr_assert_eq(exec_admin(sql), 0, "cannot create test database %s", name);
    /* Same server and user, another database: replace the URL's path. */
    CURLU *u = curl_url();
    cr_assert_eq(curl_url_set(u, CURLUPART_URL, testenv_database_url(), CURLU_NON_SUPPORT_SCHEME),
                 CURLUE_OK);
    char path[128];
    snprintf(path, sizeof path, "/%s", name);
    cr_assert_eq(curl_url_set(u, CURLUPART_PATH, path, 0), CURLUE_OK);
    char *full = NULL;
    cr_assert_eq(curl_url_get(u, CURLUPART_URL, &full, 0), CURLUE_OK);
    snprintf(url, url_len, "%s", full);
    curl_free(full);
    curl_url_cleanup(u);
    return 0;
}

int
testdb_drop_at(const char *admin_url, const char *name) {
    char sql[256], err[512] = "";
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    for (int i = 0; i < 300; i++) {
        if (exec_at(admin_url, sql, err, sizeof err) == 0) return 0;
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    cr_log_error("testdb: %s", err);
    return -1;
}

void
testdb_drop(const char *name) {
    testdb_drop_at(testenv_database_url(), name);
}

char *
testdb_query_value(const char *url, const char *sql) {
    PGconn *c = PQconnectdb(url);
    char *out = NULL;
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, sql);
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_TUPLES_OK) out = xstrdup(PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
        else if (st == PGRES_COMMAND_OK) out = xstrdup("");
        else cr_log_error("testdb: %s: %s", sql, PQresultErrorMessage(r));
        PQclear(r);
    } else {
        cr_log_error("testdb: %s", PQerrorMessage(c));
    }
    PQfinish(c);
    return out;
}

void
testdb_assert_value(const char *url, const char *sql, const char *want) {
    char *v = testdb_query_value(url, sql);
    cr_assert_not_null(v, "query failed: %s", sql);
    bool same = strcmp(v, want) == 0;
    if (!same) cr_log_error("%s gave %s, want %s", sql, v, want);
    free(v);
    cr_assert(same, "%s: not %s", sql, want);
}

void
testdb_results_month(int delta, char *out, size_t n) {
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    int m = tm.tm_year * 12 + tm.tm_mon + delta;
    snprintf(out, n, "results_%04d_%02d", 1900 + m / 12, m % 12 + 1);
}
