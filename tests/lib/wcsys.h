/* wcsys — a whole wordcount system for integration tests: a fresh
 * migrated database, a fresh Redis key prefix, a loopback page server,
 * the real wordcount-web and any number of wordcount-worker supervisors
 * (each in its own log, optionally inside a network namespace).
 *
 * Owns: the temporary folder (pages/, logs; kept with KEEP_TMP=1), the
 * page server, the database (dropped at the end), the processes it
 * started (stopped by pid: SIGTERM, then SIGKILL), the environment the
 * programs get, and a blocking Redis connection used as the oracle.
 * Every function fails the current Criterion test when something it
 * needs does not work; wcsys_free never fails. A failed assertion ends a
 * test at once, so what a test allocates should be handed to wcsys_keep
 * (or wcsys_keep_json): wcsys_free releases it on every path.
 *
 * Servers: the shared Redis and Postgres of tests/run.sh unless the test
 * passes its own (a private server it stops and restarts). */
#ifndef WC_TEST_WCSYS_H
#define WC_TEST_WCSYS_H

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "tests/lib/page_server.h"
#include "tests/lib/proc.h"

#define WCSYS_MAX_ENV 48
#define WCSYS_MAX_WORKERS 4
#define WCSYS_MAX_KEPT 64

struct wcsys {
    char dir[64];
    char pages_dir[96];
    char admin_url[512]; /* a URL to the Postgres server, any database */
    char db_url[512];
    char db_name[64];
    char redis_url[256];
    char prefix[96];
    char web_log[128];
    char base[64];      /* http://127.0.0.1:PORT of wordcount-web */
    char page_base[96]; /* http://ADDR:PORT of the page server */
    page_server_t *pages;
    pid_t web_pid;
    pid_t workers[WCSYS_MAX_WORKERS];
    char worker_logs[WCSYS_MAX_WORKERS][128];
    int nworkers;
    char *env[WCSYS_MAX_ENV + 1];
    int nenv;
    redisContext *redis;
    void *kept[WCSYS_MAX_KEPT]; /* freed by wcsys_free (json_t * when kept_json) */
    bool kept_json[WCSYS_MAX_KEPT];
    int nkept;
};

/* Where the system's servers are; NULL fields mean the shared ones. */
struct wcsys_opts {
    const char *redis_url;
    const char *pg_admin_url;
    const char *page_ip; /* the page server's address (default 127.0.0.1) */
};

/* wcsys_init makes the folder, page server, database (migrated) and key
 * prefix, and the default environment (APP_ENV=testing, short rescue and
 * retry times; see wcsys.c). opts may be NULL. */
void wcsys_init(struct wcsys *s, const struct wcsys_opts *opts);
/* wcsys_default_times drops the short times wcsys_init sets (fetch and
 * job timeouts, rescue, heartbeat, retry backoff): programs started later
 * use their own defaults, as a deployment does. */
void wcsys_default_times(struct wcsys *s);
/* wcsys_env sets (or replaces) one variable for programs started later. */
void wcsys_env(struct wcsys *s, const char *key, const char *value);
/* wcsys_start_web starts wordcount-web on a free port and waits for it
 * (stopping the one it started before, if any). */
void wcsys_start_web(struct wcsys *s);
/* wcsys_start_web_ready is wcsys_start_web, then waits until /readyz
 * answers 200 (Redis and Postgres connected): "listening" comes first. */
void wcsys_start_web_ready(struct wcsys *s);
/* wcsys_wait_ready waits until the running web's /readyz answers 200
 * (after a Redis or Postgres restart, its connections come back with
 * a backoff of their own). */
void wcsys_wait_ready(struct wcsys *s);
/* wcsys_start_worker starts a supervisor (optionally in a namespace, opts
 * may be NULL), waits until each of its WORKER_PROCESSES children is
 * ready (a child signalled before that dies of the signal instead of
 * draining) and returns its index. */
int wcsys_start_worker(struct wcsys *s, const struct proc_opts *opts);
/* wcsys_fork_worker runs body(arg) in a forked process, as a program of
 * the system would run: with its environment, SIGTERM and SIGINT held
 * back, and its output in a new worker log; body's return value is the
 * exit status. For tests that set a seam first (worker/task.h). Returns
 * the index; the process is stopped like a started worker. */
int wcsys_fork_worker(struct wcsys *s, int (*body)(void *arg), void *arg);
/* wcsys_stop_worker signals supervisor i (sig 0: none, it waits for an
 * exit that an earlier signal began) and waits up to timeout_ms; returns
 * the wait status (-1: it had to be killed). */
int wcsys_stop_worker(struct wcsys *s, int i, int sig, int timeout_ms);
/* wcsys_stop_clean stops the web and every worker supervisor with
 * SIGTERM and expects each to exit 0 (a failed expectation, not an
 * abort: under ASan a leak makes the exit code non-zero). */
void wcsys_stop_clean(struct wcsys *s);
void wcsys_free(struct wcsys *s);

/* wcsys_keep hands p (from malloc) to s, to be freed by wcsys_free, and
 * returns it; wcsys_keep_json does the same for a JSON value (decref).
 * wcsys_drop frees a kept value early (a loop's, once it is checked). */
void *wcsys_keep(struct wcsys *s, void *p);
json_t *wcsys_keep_json(struct wcsys *s, json_t *v);
void wcsys_drop(struct wcsys *s, void *p);

/* wcsys_write_page writes pages/<name>. */
void wcsys_write_page(struct wcsys *s, const char *name, const char *content);
/* wcsys_page_url formats page_base + path into out (returned). */
const char *wcsys_page_url(const struct wcsys *s, const char *path, char *out, size_t n);

/* wcsys_submit posts url to /api/v1/jobs with "fresh": true (202
 * expected: a new job each time, even while another job of the page is
 * live) and returns the id. */
char *wcsys_submit(struct wcsys *s, const char *url);
/* wcsys_http sends a request to the web (path relative to base) and
 * returns the parsed JSON body (NULL when the body is empty or not JSON);
 * *status gets the HTTP status. */
json_t *wcsys_http(struct wcsys *s, const char *method, const char *path, const char *auth_header,
                   long *status);
/* wcsys_job returns GET /api/v1/jobs/{id} (200 expected). */
json_t *wcsys_job(struct wcsys *s, const char *id);
/* wcsys_wait_status polls the job until its status is one of the
 * comma-separated statuses ("finished,failed") and returns its JSON
 * (a 503 while the web reconnects after an outage is asked again). */
json_t *wcsys_wait_status(struct wcsys *s, const char *id, const char *statuses, int timeout_ms);
/* wcsys_status returns the job's status string (a static copy). */
const char *wcsys_status(const json_t *job);
/* wcsys_rows counts the results rows of a job (-1 on error). */
long wcsys_rows(struct wcsys *s, const char *id);
/* wcsys_sql runs sql on the system's database (test oracle). */
char *wcsys_sql(struct wcsys *s, const char *sql);
/* wcsys_wait_insert_blocked waits up to timeout_ms until a worker's
 * INSERT INTO results waits on a lock (one the test holds). */
bool wcsys_wait_insert_blocked(struct wcsys *s, int timeout_ms);
/* wcsys_redis returns the blocking oracle connection. */
redisContext *wcsys_redis(struct wcsys *s);

/* wcsys_log_find waits up to timeout_ms for a line of path holding both
 * needles (n2 may be NULL) and copies it into out. */
bool wcsys_log_find(const char *path, const char *n1, const char *n2, int timeout_ms, char *out,
                    size_t n);
/* wcsys_log_nth is wcsys_log_find for the nth such line (from 1). */
bool wcsys_log_nth(const char *path, const char *n1, const char *n2, int nth, int timeout_ms,
                   char *out, size_t n);
/* wcsys_log_count counts the lines of path holding both needles. */
int wcsys_log_count(const char *path, const char *n1, const char *n2);
/* wcsys_line_pid returns the pid= of a log line (the process that wrote it). */
pid_t wcsys_line_pid(const char *line);
/* wcsys_time_ms parses the API's times ("2024-05-01T12:00:00.123Z"); -1 if not one. */
long long wcsys_time_ms(const char *t);
/* wcsys_line_ms returns a log line's ts= as ms since the epoch. */
long long wcsys_line_ms(const char *line);
/* wcsys_job_pid waits for "job started" of job id (attempt, or any when
 * 0) in any worker's log and returns the worker process's pid. */
pid_t wcsys_job_pid(struct wcsys *s, const char *id, int attempt, int timeout_ms);
/* wcsys_cpu_ms returns a process's user + system CPU time in ms (-1 when gone). */
long wcsys_cpu_ms(pid_t pid);
/* wcsys_now_ms returns the wall clock in ms since the epoch. */
long long wcsys_now_ms(void);

#endif
