/* Scale-out across hosts, for real: network namespaces stand in for
 * machines. Namespace "db" holds Redis, Postgres, the web server and the
 * page server on a bridge (10.77.0.1/24); two worker hosts "h1" and "h2"
 * hang off it by veth pairs (10.77.0.11 and .12). The test cuts h1's
 * link while h1 holds jobs: h2 rescues them and stores their results;
 * when the link comes back, h1 learns it lost its leases and writes
 * nothing (a trigger records every INSERT attempt with the client's
 * address, even one that ON CONFLICT skips).
 *
 * Needs root and network namespaces; without them the test is skipped
 * with the reason. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/servers.h"
#include "tests/lib/wcsys.h"

#define DB_ADDR "10.77.0.1"
#define H1_ADDR "10.77.0.11"
#define H2_ADDR "10.77.0.12"

static char ns_db[32], ns_h1[32], ns_h2[32];
static int home_ns = -1; /* the test's own network namespace */
static bool made;
static struct redis_srv redis;
static struct pg_srv pg;
static struct wcsys sys;
static bool sys_up;

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
sh(const char *fmt, ...) {
    char cmd[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    if (rc != 0) cr_log_warn("`%s` failed (%d)", cmd, rc);
    return rc;
}

/* sweep deletes namespaces left by earlier runs whose process is gone
 * (a run killed by its timeout cannot clean up). */
static void
sweep(void) {
    FILE *f = popen("ip netns list 2>/dev/null", "r");
    if (!f) return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        char kind[8];
        int pid;
        if (sscanf(line, "wcnet-%2[a-z0-9]-%d", kind, &pid) == 2 && kill(pid, 0) != 0 &&
            errno == ESRCH)
            sh("ip netns del wcnet-%s-%d 2>/dev/null", kind, pid);
    }
    pclose(f);
}

static bool
make_namespaces(char *why, size_t n) {
    if (geteuid() != 0) {
        snprintf(why, n, "not root");
        return false;
    }
    sweep();
    int pid = (int)getpid();
    snprintf(ns_db, sizeof ns_db, "wcnet-db-%d", pid);
    snprintf(ns_h1, sizeof ns_h1, "wcnet-h1-%d", pid);
    snprintf(ns_h2, sizeof ns_h2, "wcnet-h2-%d", pid);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "ip netns add %s >/dev/null 2>&1", ns_db);
    if (system(cmd) != 0) {
        snprintf(why, n, "`ip netns add` failed (no network namespaces in this container?)");
        return false;
    }
    made = true;
    bool ok = sh("ip netns add %s", ns_h1) == 0 && sh("ip netns add %s", ns_h2) == 0;
    for (int i = 0; ok && i < 3; i++)
        ok = sh("ip -n %s link set lo up", i == 0 ? ns_db : i == 1 ? ns_h1 : ns_h2) == 0;
    ok = ok && sh("ip -n %s link add br0 type bridge", ns_db) == 0 &&
         sh("ip -n %s addr add " DB_ADDR "/24 dev br0", ns_db) == 0 &&
         sh("ip -n %s link set br0 up", ns_db) == 0;
    const char *hosts[] = {ns_h1, ns_h2}, *addrs[] = {H1_ADDR, H2_ADDR};
    for (int i = 0; ok && i < 2; i++) {
        /* port<i> on the bridge, eth0 on the host. */
        ok = sh("ip -n %s link add port%d type veth peer name eth0 netns %s", ns_db, i + 1,
                hosts[i]) == 0 &&
             sh("ip -n %s link set port%d master br0", ns_db, i + 1) == 0 &&
             sh("ip -n %s link set port%d up", ns_db, i + 1) == 0 &&
             sh("ip -n %s addr add %s/24 dev eth0", hosts[i], addrs[i]) == 0 &&
             sh("ip -n %s link set eth0 up", hosts[i]) == 0;
    }
    if (!ok) snprintf(why, n, "could not build the namespaces and links (see the log)");
    return ok;
}

static void
enter(const char *ns) {
    char path[96];
    snprintf(path, sizeof path, "/run/netns/%s", ns);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    cr_assert(fd >= 0 && setns(fd, CLONE_NEWNET) == 0, "cannot enter %s: %s", ns, strerror(errno));
    close(fd);
}

static void
teardown(void) {
    if (sys_up) wcsys_free(&sys);
    sys_up = false;
    redis_srv_free(&redis);
    pg_srv_free(&pg);
    if (home_ns >= 0) {
        setns(home_ns, CLONE_NEWNET);
        close(home_ns);
        home_ns = -1;
    }
    if (made) {
        sh("ip netns del %s", ns_h1);
        sh("ip netns del %s", ns_h2);
        sh("ip netns del %s", ns_db);
    }
    made = false;
}

TestSuite(netns, .fini = teardown, .timeout = 150);

/* cut sets h1's bridge port down or up: packets to and from h1 are
 * dropped silently, as on a broken link (no resets, no errors). */
static void
link_h1(bool up) {
    cr_assert_eq(sh("ip -n %s link set port1 %s", ns_db, up ? "up" : "down"), 0);
}

static long
audit_count(const char *addr) {
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM insert_audit WHERE client = '%s'", addr);
    char *v = wcsys_sql(&sys, sql);
    cr_assert_not_null(v);
    long n = atol(v);
    free(v);
    return n;
}

Test(netns, cut_off_host_loses_its_jobs_and_writes_nothing) {
    char why[256];
    if (!make_namespaces(why, sizeof why)) {
        teardown();
        cr_skip_test("scale-out test skipped: %s", why);
    }
    home_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    cr_assert(home_ns >= 0);
    /* From here this thread (and what it starts) lives in "db". */
    enter(ns_db);
    redis_srv_start(&redis, DB_ADDR);
    pg_srv_start(&pg, DB_ADDR);
    struct wcsys_opts o = {.redis_url = redis.url, .pg_admin_url = pg.url, .page_ip = DB_ADDR};
    wcsys_init(&sys, &o);
    sys_up = true;
    wcsys_env(&sys, "WORKER_PROCESSES", "1");
    wcsys_env(&sys, "JOB_RESCUE_AFTER", "3s");
    wcsys_env(&sys, "HEARTBEAT_INTERVAL", "500ms");
    wcsys_env(&sys, "FETCH_TIMEOUT", "40s");
    wcsys_env(&sys, "JOB_TIMEOUT", "60s");
    char *r = wcsys_sql(&sys, "CREATE TABLE insert_audit (job_id uuid, client inet);"
                              " CREATE FUNCTION audit_insert() RETURNS trigger LANGUAGE plpgsql AS"
                              " $$ BEGIN INSERT INTO insert_audit VALUES (NEW.job_id,"
                              " inet_client_addr()); RETURN NEW; END $$;"
                              " CREATE TRIGGER results_audit BEFORE INSERT ON results FOR EACH ROW"
                              " EXECUTE FUNCTION audit_insert()");
    cr_assert_not_null(r, "audit trigger");
    free(r);
    wcsys_start_web(&sys);

    /* h1 takes every job (their pages wait at the gate, so h1 still holds
     * them when its link is cut, however long h2 takes to start), then h2
     * joins. */
    struct proc_opts on_h1 = {.netns = ns_h1}, on_h2 = {.netns = ns_h2};
    int w1 = wcsys_start_worker(&sys, &on_h1);
    enum { N = 4 };
    char *ids[N], url[160];
    for (int i = 0; i < N; i++)
        ids[i] =
            wcsys_keep(&sys, wcsys_submit(&sys, wcsys_page_url(&sys, "/gate", url, sizeof url)));
    for (int i = 0; i < N; i++) wcsys_job_pid(&sys, ids[i], 1, 20000);
    int w2 = wcsys_start_worker(&sys, &on_h2);

    link_h1(false);
    /* The answers to h1 are lost on the cut link; h2's rescues get theirs. */
    page_server_gate_open(sys.pages);
    for (int i = 0; i < N; i++) {
        json_t *job =
            wcsys_keep_json(&sys, wcsys_wait_status(&sys, ids[i], "finished,failed", 60000));
        cr_assert_str_eq(wcsys_status(job), "finished", "%s", json_dumps(job, 0));
        cr_assert_eq(json_integer_value(json_object_get(job, "attempts")), 2, "%s",
                     json_dumps(job, 0));
        cr_assert_eq(wcsys_rows(&sys, ids[i]), 1);
    }
    /* A job shows finished before its worker logs it: wait for the lines. */
    cr_assert(wcsys_log_nth(sys.worker_logs[w2], "msg=\"job finished\"", NULL, N, 10000, NULL, 0),
              "h2 ran them all");
    cr_assert_eq(wcsys_log_count(sys.worker_logs[w2], "msg=\"job finished\"", NULL), N);
    link_h1(true);

    /* h1's fetches complete once packets flow again; it must find its
     * leases gone before storing anything. */
    for (int i = 0; i < N; i++) {
        char needle[96];
        snprintf(needle, sizeof needle, "job=%s", ids[i]);
        cr_assert(wcsys_log_find(sys.worker_logs[w1], "lease lost", needle, 60000, NULL, 0),
                  "h1 did not notice it lost job %s; see %s", ids[i], sys.worker_logs[w1]);
    }
    cr_assert_eq(wcsys_log_count(sys.worker_logs[w1], "msg=\"job finished\"", NULL), 0);
    cr_assert_eq(audit_count(H1_ADDR), 0, "h1 wrote a stale result");
    cr_assert_eq(audit_count(H2_ADDR), N);
    for (int i = 0; i < N; i++) cr_assert_eq(wcsys_rows(&sys, ids[i]), 1);

    /* Both hosts work again. */
    char *after[N];
    for (int i = 0; i < N; i++)
        after[i] =
            wcsys_keep(&sys, wcsys_submit(&sys, wcsys_page_url(&sys, "/slow/10", url, sizeof url)));
    for (int i = 0; i < N; i++) {
        json_t *job =
            wcsys_keep_json(&sys, wcsys_wait_status(&sys, after[i], "finished,failed", 60000));
        cr_assert_str_eq(wcsys_status(job), "finished");
    }
}
