/* Signed webhooks through the real programs and a loopback receiver: a
 * receiver that fails twice and then accepts gets three deliveries with
 * one webhook-id, each signed under both of two secrets (a whsec_ key and
 * a raw one); a receiver that hangs is timed out; a worker killed -9
 * mid-delivery, and a web process killed -9 right after ending a job,
 * lose no delivery; blocked callback addresses are refused at submit (a
 * literal) and at delivery (a name that resolves to one); and the submit
 * checks of callback_url. */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/lib/hook_receiver.h"
#include "tests/lib/http_client.h"
#include "tests/lib/wcsys.h"

static struct wcsys sys;
static hook_receiver_t *rcv;

/* Two secrets: a Standard Webhooks key (its bytes are the base64's) and
 * a raw one, "an-old-secret" (its bytes are the text). */
#define SECRET_WHSEC "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define SECRET_WHSEC_B64 "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

static void
start(void) {
    wcsys_init(&sys, NULL);
    rcv = hook_receiver_start();
    cr_assert_not_null(rcv);
    wcsys_env(&sys, "WEBHOOK_SECRET", SECRET_WHSEC " an-old-secret");
    wcsys_env(&sys, "WEBHOOK_RETRY_BASE", "200ms");
    wcsys_env(&sys, "WEBHOOK_RETRY_MAX", "1s");
    wcsys_env(&sys, "WORKER_PROCESSES", "1");
}

static void
stop(void) {
    wcsys_free(&sys);
    hook_receiver_stop(rcv);
}

TestSuite(webhooks, .init = start, .fini = stop, .timeout = 180);

/* submit posts a job for url with callback; returns the HTTP status and
 * the id (kept) when 202. */
static long
submit(const char *url, const char *callback, char **id) {
    char u[256], body[1024];
    snprintf(u, sizeof u, "%s/api/v1/jobs", sys.base);
    snprintf(body, sizeof body, "{\"url\":\"%s\",\"callback_url\":\"%s\"}", url, callback);
    struct http_response r;
    cr_assert_eq(http_request("POST", u, "application/json", body, NULL, &r), 0);
    long status = r.status;
    json_t *v = wcsys_keep_json(&sys, json_loadb(r.body.data, r.body.len, 0, NULL));
    http_response_free(&r);
    if (id)
        *id = status == 202 ? wcsys_keep(&sys, strdup(json_string_value(json_object_get(v, "id"))))
                            : NULL;
    return status;
}

static const char *
callback(const char *path, char *out, size_t n) {
    snprintf(out, n, "http://127.0.0.1:%d%s", hook_receiver_port(rcv), path);
    return out;
}

/* signed_by tells whether the signature header holds a v1 signature of
 * id.timestamp.body under key. */
static bool
signed_by(const struct hook_request *r, const void *key, size_t keylen) {
    struct buf content;
    buf_init(&content);
    buf_printf(&content, "%s.%s.", r->id, r->timestamp);
    buf_append(&content, r->body, r->len);
    unsigned char mac[32];
    unsigned int len;
    HMAC(EVP_sha256(), key, (int)keylen, (unsigned char *)content.data, content.len, mac, &len);
    buf_free(&content);
    char want[64] = "v1,";
    EVP_EncodeBlock((unsigned char *)want + 3, mac, (int)len);
    for (const char *p = r->signature; *p;) {
        size_t n = strcspn(p, " ");
        if (n == strlen(want) && !strncmp(p, want, n)) return true;
        p += n;
        p += strspn(p, " ");
    }
    return false;
}

static json_t *
deliveries(const char *id) {
    char path[128];
    long status;
    snprintf(path, sizeof path, "/api/v1/jobs/%s/deliveries", id);
    json_t *v = wcsys_keep_json(&sys, wcsys_http(&sys, "GET", path, NULL, &status));
    cr_assert_eq(status, 200);
    json_t *list = json_object_get(v, "deliveries");
    cr_assert(json_is_array(list));
    return list;
}

/* wait_state polls the job's delivery until its state is state. */
static json_t *
wait_state(const char *id, const char *state, int timeout_ms) {
    long long until = wcsys_now_ms() + timeout_ms;
    for (;;) {
        json_t *d = json_array_get(deliveries(id), 0);
        const char *s = json_string_value(json_object_get(d, "state"));
        if (s && !strcmp(s, state)) return d;
        cr_assert_lt(wcsys_now_ms(), until, "delivery of %s not %s (it is %s)", id, state,
                     s ? s : "none");
        usleep(50 * 1000);
    }
}

Test(webhooks, fails_twice_then_accepts_signed_under_both_secrets) {
    wcsys_start_web_ready(&sys);
    wcsys_start_worker(&sys, NULL);
    char page[256], cb[128], *id;
    wcsys_page_url(&sys, "/a.html", page, sizeof page);
    wcsys_write_page(&sys, "a.html", "<p>hello webhooks</p>");
    cr_assert_eq(submit(page, callback("/fail/2/a", cb, sizeof cb), &id), 202);
    cr_assert_eq(hook_receiver_wait(rcv, "/fail/2/a", 3, 30000), 3);

    unsigned char whsec[64];
    int whlen = EVP_DecodeBlock(whsec, (const unsigned char *)SECRET_WHSEC_B64,
                                (int)strlen(SECRET_WHSEC_B64));
    cr_assert_gt(whlen, 0);
    char first_id[160] = "";
    for (int i = 0; i < 3; i++) {
        struct hook_request r;
        cr_assert(hook_receiver_nth(rcv, "/fail/2/a", i, &r));
        wcsys_keep(&sys, r.body);
        if (i == 0) snprintf(first_id, sizeof first_id, "%s", r.id);
        cr_assert_str_eq(r.id, first_id, "webhook-id is stable across retries");
        cr_assert(strstr(r.id, id), "the webhook-id names the job: %s", r.id);
        cr_assert(signed_by(&r, whsec, (size_t)whlen), "attempt %d: no valid whsec_ signature", i);
        cr_assert(signed_by(&r, "an-old-secret", 13), "attempt %d: no valid raw-key signature", i);
        long long ts = atoll(r.timestamp);
        cr_assert_lt(llabs(ts - wcsys_now_ms() / 1000), 120, "webhook-timestamp is now: %s",
                     r.timestamp);
        cr_assert_str_eq(r.content_type, "application/json");
        json_t *job = wcsys_keep_json(&sys, json_loadb(r.body, r.len, 0, NULL));
        cr_assert_str_eq(json_string_value(json_object_get(job, "id")), id);
        cr_assert_str_eq(json_string_value(json_object_get(job, "status")), "finished");
        cr_assert_not_null(json_object_get(job, "result"), "the body is the job with its result");
    }
    json_t *d = wait_state(id, "delivered", 10000);
    cr_assert_eq(json_integer_value(json_object_get(d, "attempts")), 3);
    cr_assert_str_eq(json_string_value(json_object_get(d, "event")), "finished");
    cr_assert_str_eq(json_string_value(json_object_get(d, "webhook_id")), first_id);
    json_t *log = json_object_get(d, "attempts_log");
    cr_assert_eq(json_array_size(log), 3);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(log, 0), "status")), 500);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(log, 0), "error")),
                     "HTTP 500");
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(log, 2), "status")), 204);
    cr_assert(json_is_null(json_object_get(json_array_get(log, 2), "error")) ||
              !json_object_get(json_array_get(log, 2), "error"));
    cr_assert(json_is_integer(json_object_get(json_array_get(log, 2), "latency_ms")));

    /* /metrics counts them by outcome. */
    char url[128];
    snprintf(url, sizeof url, "%s/metrics", sys.base);
    struct http_response m;
    cr_assert_eq(http_request("GET", url, NULL, NULL, NULL, &m), 0);
    char *metrics = wcsys_keep(&sys, strdup(m.body.data ? m.body.data : ""));
    http_response_free(&m);
    cr_assert(strstr(metrics, "wordcount_webhook_deliveries_total{outcome=\"delivered\"} 1"), "%s",
              metrics);
    cr_assert(strstr(metrics, "wordcount_webhook_deliveries_total{outcome=\"retried\"} 2"));
    cr_assert(strstr(metrics, "wordcount_webhook_deliveries_total{outcome=\"failed\"} 0"));
}

Test(webhooks, a_receiver_that_hangs_is_timed_out) {
    wcsys_env(&sys, "WEBHOOK_TIMEOUT", "500ms");
    wcsys_env(&sys, "WEBHOOK_RETRY_FOR", "0s"); /* one attempt */
    wcsys_start_web_ready(&sys);
    wcsys_start_worker(&sys, NULL);
    char page[256], cb[128], *id;
    wcsys_write_page(&sys, "a.html", "<p>hello</p>");
    cr_assert_eq(submit(wcsys_page_url(&sys, "/a.html", page, sizeof page),
                        callback("/hang/h", cb, sizeof cb), &id),
                 202);
    json_t *d = wait_state(id, "failed", 30000);
    json_t *a = json_array_get(json_object_get(d, "attempts_log"), 0);
    const char *err = json_string_value(json_object_get(a, "error"));
    cr_assert(err && strcasestr(err, "timed out"), "the attempt timed out: %s", err ? err : "-");
    cr_assert_lt(json_integer_value(json_object_get(a, "latency_ms")), 10000);
    cr_assert_eq(hook_receiver_wait(rcv, "/hang/h", 1, 1000), 1);
    /* The dashboard's statistics name the failing endpoint. */
    long status;
    json_t *st = wcsys_keep_json(&sys, wcsys_http(&sys, "GET", "/api/v1/stats", NULL, &status));
    json_t *failing = json_object_get(json_object_get(st, "webhooks"), "failing");
    cr_assert(json_is_array(failing) && json_array_size(failing) == 1, "stats: %s",
              json_dumps(st, 0));
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(failing, 0), "url")), cb);
}

Test(webhooks, kill_9_mid_delivery_loses_nothing) {
    wcsys_env(&sys, "WEBHOOK_TIMEOUT", "3s"); /* the lease: 3 s + 5 s after the claim */
    wcsys_start_web_ready(&sys);
    int w = wcsys_start_worker(&sys, NULL);
    char page[256], cb[128], *id, line[1024];
    wcsys_write_page(&sys, "a.html", "<p>hello</p>");
    cr_assert_eq(submit(wcsys_page_url(&sys, "/a.html", page, sizeof page),
                        callback("/hang-once/k", cb, sizeof cb), &id),
                 202);
    cr_assert_eq(hook_receiver_wait(rcv, "/hang-once/k", 1, 30000), 1, "first attempt");
    /* The worker process holding the delivery dies; its supervisor starts
     * another, which delivers once the lease has run out. */
    cr_assert(wcsys_log_find(sys.worker_logs[w], "worker ready", NULL, 1000, line, sizeof line));
    pid_t child = wcsys_line_pid(line);
    cr_assert_eq(kill(child, SIGKILL), 0);
    cr_assert_eq(hook_receiver_wait(rcv, "/hang-once/k", 2, 90000), 2, "delivered again");
    struct hook_request a, b;
    cr_assert(hook_receiver_nth(rcv, "/hang-once/k", 0, &a));
    wcsys_keep(&sys, a.body);
    cr_assert(hook_receiver_nth(rcv, "/hang-once/k", 1, &b));
    wcsys_keep(&sys, b.body);
    cr_assert_str_eq(a.id, b.id, "the same delivery");
    cr_assert_eq(a.len, b.len);
    cr_assert_eq(memcmp(a.body, b.body, a.len), 0, "the same body");
    wait_state(id, "delivered", 10000);

    /* A web process killed -9 just after ending a job (a cancel): the
     * delivery was recorded with the end, and a worker delivers it. */
    char *id2, path[128];
    long status;
    wcsys_stop_worker(&sys, w, SIGTERM, 15000); /* nothing takes the job before the cancel */
    cr_assert_eq(submit("http://127.0.0.1:1/never-fetched", callback("/ok/c", cb, sizeof cb), &id2),
                 202);
    snprintf(path, sizeof path, "/api/v1/jobs/%s", id2);
    wcsys_keep_json(&sys, wcsys_http(&sys, "DELETE", path, NULL, &status));
    cr_assert_eq(status, 200, "canceled");
    cr_assert_eq(kill(sys.web_pid, SIGKILL), 0);
    proc_wait_exit(sys.web_pid, 5000);
    sys.web_pid = 0;
    wcsys_start_worker(&sys, NULL);
    cr_assert_eq(hook_receiver_wait(rcv, "/ok/c", 1, 60000), 1, "delivered after the kill");
}

Test(webhooks, blocked_and_bad_callbacks) {
    /* As in production: private addresses refused, the receiver allowed
     * by name only for the page server's and receiver's ports. */
    char allow[128];
    snprintf(allow, sizeof allow, "127.0.0.1:%d", atoi(strrchr(sys.page_base, ':') + 1));
    wcsys_env(&sys, "FETCH_ALLOW_PRIVATE", "false");
    wcsys_env(&sys, "FETCH_ALLOW_ADDRESSES", allow);
    wcsys_start_web_ready(&sys);
    wcsys_start_worker(&sys, NULL);
    char page[256], cb[128], *id;
    wcsys_write_page(&sys, "a.html", "<p>hello</p>");
    wcsys_page_url(&sys, "/a.html", page, sizeof page);
    const char *refused[] = {"http://127.0.0.1:9/x",
                             "http://169.254.169.254/latest",
                             "http://[::1]:9/x",
                             "http://0x7f.1:9/x",
                             "http://10.0.0.1/x",
                             "ftp://example.com/x",
                             "http://user:pw@example.com/",
                             "not a url"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        cr_assert_eq(submit(page, refused[i], NULL), 422, "%s", refused[i]);
    /* A name that resolves to a refused address is caught at delivery. */
    snprintf(cb, sizeof cb, "http://localhost:%d/ok/blocked", hook_receiver_port(rcv));
    cr_assert_eq(submit(page, cb, &id), 202);
    json_t *d = wait_state(id, "failed", 30000);
    json_t *a = json_array_get(json_object_get(d, "attempts_log"), 0);
    const char *err = json_string_value(json_object_get(a, "error"));
    cr_assert(err && strstr(err, "blocked_address"), "%s", err ? err : "-");
    cr_assert_eq(json_integer_value(json_object_get(d, "attempts")), 1, "not retried");
    cr_assert_eq(hook_receiver_wait(rcv, "/ok/blocked", 1, 200), 0, "nothing reached it");

    /* The body's callback_url must be a string. */
    char u[256];
    snprintf(u, sizeof u, "%s/api/v1/jobs", sys.base);
    struct http_response r;
    cr_assert_eq(http_request("POST", u, "application/json",
                              "{\"url\":\"http://example.com/\",\"callback_url\":5}", NULL, &r),
                 0);
    cr_assert_eq(r.status, 422);
    http_response_free(&r);
}

Test(webhooks, no_secret_no_callbacks) {
    wcsys_env(&sys, "WEBHOOK_SECRET", "");
    wcsys_start_web_ready(&sys);
    char page[256], cb[128];
    cr_assert_eq(submit(wcsys_page_url(&sys, "/a.html", page, sizeof page),
                        callback("/ok/n", cb, sizeof cb), NULL),
                 422);
}
