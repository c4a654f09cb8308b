/* Telling clients when a job ends, through the real programs: long-polls
 * (?wait=N and Prefer: wait=N) answered by the job's end, by their
 * deadline and by SIGTERM; a thousand waiters on one web process answered
 * when their jobs end; Server-Sent Events through Debian's nginx with the
 * shipped site file, resumed with Last-Event-ID; and the bad requests. */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/lib/http_client.h"
#include "tests/lib/nginx.h"
#include "tests/lib/raw_http.h"
#include "tests/lib/wcsys.h"

static struct wcsys sys;
/* What the event stream tests read (freed in stop, on every path). */
static struct buf got[3];

static void
start(void) {
    wcsys_init(&sys, NULL);
    for (int i = 0; i < 3; i++) buf_init(&got[i]);
}

static void
stop(void) {
    for (int i = 0; i < 3; i++) buf_free(&got[i]);
    wcsys_free(&sys);
}

TestSuite(push, .init = start, .fini = stop, .timeout = 180);

static int
web_port(void) {
    return atoi(strrchr(sys.base, ':') + 1);
}

/* send_get sends "GET path" with an extra header line (or none) on a new
 * connection to port and returns the socket. */
static int
send_get(int port, const char *path, const char *header) {
    int fd = raw_connect(port);
    cr_assert_geq(fd, 0, "cannot connect to port %d", port);
    char req[1024];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: test\r\n%s%s\r\n", path,
             header ? header : "", header ? "\r\n" : "");
    cr_assert_eq(raw_send_str(fd, req), 0);
    return fd;
}

/* answer_json reads one answer on fd (within timeout_ms) as JSON. */
static json_t *
answer_json(int fd, int timeout_ms, int *status) {
    struct raw_response r;
    cr_assert_eq(raw_read(fd, &r, timeout_ms), 0, "no answer within %d ms", timeout_ms);
    *status = r.status;
    json_t *v = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, NULL);
    raw_response_free(&r);
    return wcsys_keep_json(&sys, v);
}

static const char *
status_of(const json_t *job) {
    return json_string_value(json_object_get(job, "status"));
}

Test(push, long_poll_is_answered_by_the_end_the_deadline_and_sigterm) {
    wcsys_start_web_ready(&sys);
    wcsys_start_worker(&sys, NULL);
    char url[256], path[128];
    char *id = wcsys_keep(&sys, wcsys_submit(&sys, wcsys_page_url(&sys, "/gate", url, sizeof url)));
    wcsys_wait_status(&sys, id, "started", 30000);

    /* Answered by the job's end: the page is let through only after the
     * long-poll was sent, and the wait (60 s) is far from over. */
    snprintf(path, sizeof path, "/api/v1/jobs/%s?wait=60", id);
    int fd = send_get(web_port(), path, NULL);
    cr_assert_not(raw_closed(fd, 0));
    long long sent = wcsys_now_ms();
    page_server_gate_open(sys.pages);
    int status;
    json_t *job = answer_json(fd, 45000, &status);
    long long got = wcsys_now_ms();
    close(fd);
    cr_assert_eq(status, 200);
    cr_assert_str_eq(status_of(job), "finished", "the long-poll answers with the ended job");
    cr_assert_not_null(json_object_get(job, "result"), "with its result summary");
    long long ended = wcsys_time_ms(json_string_value(json_object_get(job, "finished_at")));
    cr_log_info("long-poll answered %lld ms after the job's end (%lld ms after it was sent)",
                got - ended, got - sent);
    cr_assert_lt(got - sent, 30000, "answered by the end, not by the 60 s deadline");

    /* An ended job: at once, with ?wait and with Prefer alike. */
    fd = send_get(web_port(), path, NULL);
    cr_assert_str_eq(status_of(answer_json(fd, 10000, &status)), "finished");
    close(fd);
    snprintf(path, sizeof path, "/api/v1/jobs/%s", id);
    fd = send_get(web_port(), path, "Prefer: respond-async, wait=30");
    cr_assert_str_eq(status_of(answer_json(fd, 10000, &status)), "finished");
    close(fd);

    /* The deadline: a job that never starts (no worker takes it now)
     * is answered as it is when the wait is over, with Retry-After. */
    wcsys_stop_clean(&sys);
    wcsys_env(&sys, "LOG_LEVEL", "debug"); /* "long-poll waiting" */
    wcsys_start_web_ready(&sys);
    char *queued = wcsys_keep(&sys, wcsys_submit(&sys, url));
    snprintf(path, sizeof path, "/api/v1/jobs/%s?wait=1", queued);
    fd = send_get(web_port(), path, NULL);
    struct raw_response r;
    cr_assert_eq(raw_read(fd, &r, 20000), 0);
    char retry[16];
    cr_assert_eq(r.status, 200);
    cr_assert(raw_header(&r, "Retry-After", retry, sizeof retry), "a running job says when to ask");
    cr_assert(strstr(r.body.data, "\"status\":\"queued\""), "%s", r.body.data);
    raw_response_free(&r);
    close(fd);

    /* SIGTERM answers every waiter at once with the job as it is. */
    snprintf(path, sizeof path, "/api/v1/jobs/%s?wait=60", queued);
    fd = send_get(web_port(), path, NULL);
    cr_assert(wcsys_log_nth(sys.web_log, "long-poll waiting", queued, 2, 10000, NULL, 0),
              "the second long-poll of the job did not wait");
    cr_assert_eq(kill(sys.web_pid, SIGTERM), 0);
    cr_assert_str_eq(status_of(answer_json(fd, 10000, &status)), "queued");
    cr_assert_eq(status, 200);
    close(fd);
    int st = proc_wait_exit(sys.web_pid, 15000);
    cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "web exit status %d", st);
    sys.web_pid = 0;
}

Test(push, long_poll_refuses_bad_waits) {
    wcsys_start_web_ready(&sys);
    char url[256], path[160];
    char *id =
        wcsys_keep(&sys, wcsys_submit(&sys, wcsys_page_url(&sys, "/a.html", url, sizeof url)));
    const char *bad[] = {"0", "61", "-1", "1.5", "abc", "", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(path, sizeof path, "/api/v1/jobs/%s?wait=%s", id, bad[i]);
        long status;
        json_t *p = wcsys_keep_json(&sys, wcsys_http(&sys, "GET", path, NULL, &status));
        cr_assert_eq(status, 400, "wait=%s", bad[i]);
        cr_assert_str_eq(json_string_value(json_object_get(p, "title")), "Bad Request");
    }
    /* A Prefer header it cannot read is ignored (RFC 7240): answered at once. */
    snprintf(path, sizeof path, "/api/v1/jobs/%s", id);
    const char *prefers[] = {"wait=abc", "wait=", "wait", "waited=5", "wait=-3"};
    for (size_t i = 0; i < sizeof prefers / sizeof prefers[0]; i++) {
        char h[64];
        snprintf(h, sizeof h, "Prefer: %s", prefers[i]);
        int fd = send_get(web_port(), path, h);
        int status;
        cr_assert_str_eq(status_of(answer_json(fd, 5000, &status)), "queued", "%s", h);
        close(fd);
    }
    /* An unknown job is a 404 whether it waits or not. */
    long status;
    wcsys_keep_json(&sys, wcsys_http(&sys, "GET",
                                     "/api/v1/jobs/0192f3a1-7c2e-7abc-8def-0123456789ab?wait=5",
                                     NULL, &status));
    cr_assert_eq(status, 404);
}

#define WAITERS 1000

/* A thousand clients wait on one web process, each on its own job; the
 * jobs end (canceled: no worker needed) and every client is answered. */
Test(push, a_thousand_waiters_on_one_process) {
    wcsys_env(&sys, "LOG_LEVEL", "debug");
    wcsys_env(&sys, "WEB_CONCURRENCY", "1");
    wcsys_env(&sys, "HTTP_MAX_CONNECTIONS", "4096");
    wcsys_start_web_ready(&sys);
    char url[256], path[128];
    wcsys_page_url(&sys, "/a.html", url, sizeof url);
    static char ids[WAITERS][40];
    static int fds[WAITERS];
    for (int i = 0; i < WAITERS; i++) {
        char *id = wcsys_submit(&sys, url);
        snprintf(ids[i], sizeof ids[i], "%s", id);
        free(id);
    }
    for (int i = 0; i < WAITERS; i++) {
        snprintf(path, sizeof path, "/api/v1/jobs/%.36s?wait=60", ids[i]);
        fds[i] = send_get(web_port(), path, NULL);
    }
    /* Every waiter has read its job once and waits. */
    for (int i = 0; i < 600 && wcsys_log_count(sys.web_log, "long-poll waiting", NULL) < WAITERS;
         i++)
        usleep(50 * 1000);
    cr_assert_eq(wcsys_log_count(sys.web_log, "long-poll waiting", NULL), WAITERS);
    for (int i = 0; i < WAITERS; i++) {
        snprintf(path, sizeof path, "/api/v1/jobs/%.36s", ids[i]);
        long status;
        wcsys_drop(&sys, wcsys_keep_json(&sys, wcsys_http(&sys, "DELETE", path, NULL, &status)));
        cr_assert_eq(status, 200);
    }
    for (int i = 0; i < WAITERS; i++) {
        int status;
        json_t *job = answer_json(fds[i], 20000, &status);
        cr_assert_eq(status, 200);
        cr_assert_str_eq(status_of(job), "canceled", "waiter %d", i);
        cr_assert_str_eq(json_string_value(json_object_get(job, "id")), ids[i]);
        wcsys_drop(&sys, job);
        close(fds[i]);
    }
}

/* --- Server-Sent Events --- */

/* read_until reads fd into b until needle is in it (from offset from) or
 * the connection ends; returns whether needle came within timeout_ms. */
static bool
read_until(int fd, struct buf *b, size_t from, const char *needle, int timeout_ms) {
    long long until = wcsys_now_ms() + timeout_ms;
    while (!(b->len > from && strstr(b->data + from, needle))) {
        long long left = until - wcsys_now_ms();
        if (left <= 0) return false;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0) return false;
        char chunk[4096];
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n <= 0) return b->len > from && strstr(b->data + from, needle);
        buf_append(b, chunk, (size_t)n);
    }
    return true;
}

/* last_event_id copies the last "id: " line's value of b into out. */
static void
last_event_id(const struct buf *b, char *out, size_t n) {
    const char *p = b->data, *last = NULL;
    while ((p = strstr(p, "\nid: "))) last = p += 5;
    cr_assert_not_null(last, "no event id in %s", b->data);
    size_t len = strcspn(last, "\r\n");
    cr_assert_lt(len, n);
    memcpy(out, last, len);
    out[len] = '\0';
}

static int
count(const char *hay, const char *needle) {
    int c = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) c++;
    return c;
}

Test(push, events_through_nginx_resume_with_last_event_id) {
    wcsys_start_web_ready(&sys);
    wcsys_start_worker(&sys, NULL);
    char ndir[160], upstream[64], base[64], err[512];
    snprintf(ndir, sizeof ndir, "%s/nginx", sys.dir);
    cr_assert_eq(mkdir(ndir, 0700), 0);
    snprintf(upstream, sizeof upstream, "127.0.0.1:%d", web_port());
    pid_t nginx = nginx_launch(ndir, upstream, sys.pages_dir, base, sizeof base, err, sizeof err);
    cr_assert_gt(nginx, 0, "%s", err);
    int nport = atoi(strrchr(base, ':') + 1);

    char url[256], path[160], header[128], last[64];
    char *id = wcsys_keep(&sys, wcsys_submit(&sys, wcsys_page_url(&sys, "/gate", url, sizeof url)));
    snprintf(path, sizeof path, "/api/v1/jobs/%s/events", id);
    int fd = send_get(nport, path, "Accept: text/event-stream");
    bool started = read_until(fd, &got[0], 0, "event: started", 30000);
    close(fd);
    cr_assert(started, "no started event through nginx: %s", got[0].data ? got[0].data : "");
    cr_assert(strstr(got[0].data, "HTTP/1.1 200"), "%s", got[0].data);
    cr_assert(strcasestr(got[0].data, "Content-Type: text/event-stream"), "%s", got[0].data);
    cr_assert(strstr(got[0].data, "event: queued"), "the stream starts with the job's first event");
    cr_assert(strstr(got[0].data, "retry: "), "the stream tells browsers when to reconnect");
    last_event_id(&got[0], last, sizeof last);

    /* The job ends while no one listens; the client comes back. */
    page_server_gate_open(sys.pages);
    wcsys_wait_status(&sys, id, "finished", 30000);
    snprintf(header, sizeof header, "Last-Event-ID: %s", last);
    fd = send_get(nport, path, header);
    bool finished = read_until(fd, &got[1], 0, "event: finished", 10000);
    cr_assert(finished, "no finished event after resuming: %s", got[1].data ? got[1].data : "");
    cr_assert_null(strstr(got[1].data, "event: started"), "events before Last-Event-ID come again");
    cr_assert_null(strstr(got[1].data, "event: queued"));
    cr_assert(strstr(got[1].data, "\"total_words\""), "finished carries the summary: %s",
              got[1].data);
    /* The stream ends after the terminal event (chunked end, keep-alive). */
    cr_assert(read_until(fd, &got[1], 0, "\r\n0\r\n\r\n", 10000), "the stream did not end: %s",
              got[1].data);
    close(fd);
    /* Back after the last event: 204, so an EventSource stops reconnecting. */
    last_event_id(&got[1], last, sizeof last);
    snprintf(header, sizeof header, "Last-Event-ID: %s", last);
    fd = send_get(nport, path, header);
    struct raw_response done;
    cr_assert_eq(raw_read_head(fd, &done, 10000), 0);
    cr_assert_eq(done.status, 204);
    raw_response_free(&done);
    close(fd);

    /* From the start: every event, in order, then the end. */
    fd = send_get(nport, path, NULL);
    bool all = read_until(fd, &got[2], 0, "\r\n0\r\n\r\n", 10000);
    close(fd);
    cr_assert(all, "%s", got[2].data ? got[2].data : "");
    const char *q = strstr(got[2].data, "event: queued"),
               *s = strstr(got[2].data, "event: started"),
               *f = strstr(got[2].data, "event: finished");
    cr_assert(q && s && f && q < s && s < f, "%s", got[2].data);
    cr_assert_eq(count(got[2].data, "event: "), 3, "one event per state change: %s", got[2].data);
    proc_stop(nginx, SIGQUIT, 5000);
}

Test(push, events_of_unknown_jobs_and_bad_ids) {
    wcsys_start_web_ready(&sys);
    long status;
    wcsys_keep_json(&sys, wcsys_http(&sys, "GET",
                                     "/api/v1/jobs/0192f3a1-7c2e-7abc-8def-0123456789ab/events",
                                     NULL, &status));
    cr_assert_eq(status, 404);
    wcsys_keep_json(&sys, wcsys_http(&sys, "GET", "/api/v1/jobs/nope/events", NULL, &status));
    cr_assert_eq(status, 404);
    char url[256], path[200];
    char *id =
        wcsys_keep(&sys, wcsys_submit(&sys, wcsys_page_url(&sys, "/a.html", url, sizeof url)));
    const char *bad[] = {"x", "1-", "-1", "1-2-3", "12345678901234567890123-1", "1 -2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char h[96];
        snprintf(h, sizeof h, "Last-Event-ID: %s", bad[i]);
        snprintf(path, sizeof path, "/api/v1/jobs/%s/events", id);
        int fd = send_get(web_port(), path, h);
        struct raw_response r;
        cr_assert_eq(raw_read(fd, &r, 5000), 0);
        cr_assert_eq(r.status, 400, "Last-Event-ID %s", bad[i]);
        raw_response_free(&r);
        close(fd);
    }
    /* A queued job's stream begins with its one event and stays open;
     * canceling it ends the stream with the canceled event. */
    snprintf(path, sizeof path, "/api/v1/jobs/%s/events", id);
    int fd = send_get(web_port(), path, NULL);
    bool queued = read_until(fd, &got[0], 0, "event: queued", 10000);
    cr_assert(queued, "%s", got[0].data ? got[0].data : "");
    snprintf(path, sizeof path, "/api/v1/jobs/%s", id);
    wcsys_keep_json(&sys, wcsys_http(&sys, "DELETE", path, NULL, &status));
    cr_assert_eq(status, 200);
    cr_assert(read_until(fd, &got[0], 0, "\r\n0\r\n\r\n", 10000), "%s", got[0].data);
    cr_assert(strstr(got[0].data, "event: canceled"), "%s", got[0].data);
    close(fd);
}
