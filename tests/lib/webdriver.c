#include "tests/lib/webdriver.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "tests/lib/http_client.h"
#include "tests/lib/proc.h"
#include "tests/lib/testenv.h"

#define ELEMENT_KEY "element-6066-11e4-a52e-4f735466cecf"

/* try_call sends one WebDriver command and returns its "value" (new
 * reference) with the HTTP status in *status; an error's value holds
 * "error" and "message". */
static json_t *
try_call(struct wd *wd, const char *method, const char *path, json_t *body, long *status) {
    char url[512];
    snprintf(url, sizeof url, "%s%s", wd->base, path);
    /* A POST always carries a JSON object, if only an empty one. */
    char *text = body                      ? json_dumps(body, JSON_COMPACT)
                 : !strcmp(method, "POST") ? xstrdup("{}")
                                           : NULL;
    struct http_response r;
    int rc = http_request(method, url, text ? "application/json" : NULL, text, NULL, &r);
    free(text);
    cr_assert_eq(rc, 0, "webdriver %s %s: no answer (see %s)", method, path, wd->log);
    json_t *v = json_loads(r.body.data, 0, NULL);
    if (!v) http_response_free(&r);
    cr_assert_not_null(v, "webdriver %s %s: not JSON", method, path);
    json_t *value = json_incref(json_object_get(v, "value"));
    *status = r.status;
    json_decref(v);
    http_response_free(&r);
    return value ? value : json_null();
}

/* call is try_call for a command that must work. */
static json_t *
call(struct wd *wd, const char *method, const char *path, json_t *body) {
    long status;
    json_t *value = try_call(wd, method, path, body, &status);
    if (status != 200) {
        char msg[600];
        snprintf(msg, sizeof msg, "%.500s",
                 json_string_value(json_object_get(value, "message"))
                     ? json_string_value(json_object_get(value, "message"))
                     : "(no message)");
        json_decref(value);
        cr_assert_fail("webdriver %s %s: %ld %s", method, path, status, msg);
    }
    return value;
}

static json_t *
session_call(struct wd *wd, const char *method, const char *suffix, json_t *body) {
    char path[512];
    snprintf(path, sizeof path, "/session/%s%s", wd->session, suffix);
    return call(wd, method, path, body);
}

void
wd_start(struct wd *wd, const char *dir, int width, int height) {
    memset(wd, 0, sizeof *wd);
    snprintf(wd->log, sizeof wd->log, "%s/chromedriver.log", dir);
    bool ready = false;
    for (int attempt = 0; attempt < 3 && !ready; attempt++) {
        wd->port = testenv_free_port();
        cr_assert_gt(wd->port, 0);
        char port_arg[32];
        snprintf(port_arg, sizeof port_arg, "--port=%d", wd->port);
        const char *argv[] = {"/usr/bin/chromedriver", port_arg, NULL};
        wd->driver_pid = proc_start(argv, NULL, wd->log);
        cr_assert_gt(wd->driver_pid, 0,
                     "cannot start chromedriver (apt-get install chromium-driver)");
        snprintf(wd->base, sizeof wd->base, "http://127.0.0.1:%d", wd->port);
        for (int i = 0; i < 100 && !ready && proc_alive(wd->driver_pid); i++) {
            char url[128];
            snprintf(url, sizeof url, "%s/status", wd->base);
            struct http_response r;
            if (http_request("GET", url, NULL, NULL, NULL, &r) == 0) {
                ready = r.status == 200 && strstr(r.body.data, "\"ready\":true");
                http_response_free(&r);
            }
            if (!ready) usleep(100 * 1000);
        }
        if (!ready) {
            proc_stop(wd->driver_pid, SIGTERM, 2000);
            wd->driver_pid = 0;
        }
    }
    cr_assert(ready, "chromedriver did not come up; see %s", wd->log);

    char profile[300], size[64];
    snprintf(profile, sizeof profile, "--user-data-dir=%s/chromium-profile", dir);
    snprintf(size, sizeof size, "--window-size=%d,%d", width, height);
    json_t *caps = json_pack("{s:{s:{s:s, s:{s:s, s:[s, s, s, s, s, s, s, s]}}}}", "capabilities",
                             "alwaysMatch", "browserName", "chrome", "goog:chromeOptions", "binary",
                             "/usr/bin/chromium", "args", "--headless=new", "--no-sandbox",
                             "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                             "--disable-extensions", profile, size);
    json_t *v = call(wd, "POST", "/session", caps);
    json_decref(caps);
    const char *id = json_string_value(json_object_get(v, "sessionId"));
    cr_assert_not_null(id, "no session id");
    snprintf(wd->session, sizeof wd->session, "%s", id);
    json_decref(v);
}

void
wd_stop(struct wd *wd) {
    if (wd->session[0]) {
        char url[512];
        snprintf(url, sizeof url, "%s/session/%s", wd->base, wd->session);
        struct http_response r;
        if (http_request("DELETE", url, NULL, NULL, NULL, &r) == 0) http_response_free(&r);
        wd->session[0] = '\0';
    }
    if (wd->driver_pid > 0) proc_stop(wd->driver_pid, SIGTERM, 5000);
    wd->driver_pid = 0;
}

void
wd_navigate(struct wd *wd, const char *url) {
    json_t *body = json_pack("{s:s}", "url", url);
    json_decref(session_call(wd, "POST", "/url", body));
    json_decref(body);
}

void
wd_window_size(struct wd *wd, int width, int height) {
    json_t *body = json_pack("{s:i, s:i}", "width", width, "height", height);
    json_decref(session_call(wd, "POST", "/window/rect", body));
    json_decref(body);
}

char *
wd_find(struct wd *wd, const char *css) {
    json_t *body = json_pack("{s:s, s:s}", "using", "css selector", "value", css);
    json_t *v = session_call(wd, "POST", "/element", body);
    json_decref(body);
    const char *id = json_string_value(json_object_get(v, ELEMENT_KEY));
    cr_assert_not_null(id, "no element %s", css);
    char *out = xstrdup(id);
    json_decref(v);
    return out;
}

void
wd_click(struct wd *wd, const char *css) {
    /* A page that redraws on a timer (the dashboard rebuilds its tables on
     * every poll) may replace the element between the find and the click;
     * WebDriver then answers "stale element reference", and the element
     * is found again. */
    for (int attempt = 1;; attempt++) {
        char *id = wd_find(wd, css);
        char path[512];
        snprintf(path, sizeof path, "/session/%s/element/%s/click", wd->session, id);
        free(id);
        long status;
        json_t *v = try_call(wd, "POST", path, NULL, &status);
        const char *error = json_string_value(json_object_get(v, "error"));
        bool stale = status != 200 && error && !strcmp(error, "stale element reference");
        json_decref(v);
        if (status == 200) return;
        cr_assert(stale && attempt < 5, "webdriver click %s: %ld %s", css, status,
                  error ? error : "");
    }
}

void
wd_type(struct wd *wd, const char *css, const char *text) {
    char *id = wd_find(wd, css);
    char suffix[256];
    snprintf(suffix, sizeof suffix, "/element/%s/value", id);
    json_t *body = json_pack("{s:s}", "text", text);
    json_decref(session_call(wd, "POST", suffix, body));
    json_decref(body);
    free(id);
}

json_t *
wd_exec(struct wd *wd, const char *script, json_t *args) {
    json_t *a = args ? json_incref(args) : json_array();
    json_t *body = json_pack("{s:s, s:o}", "script", script, "args", a);
    json_t *v = session_call(wd, "POST", "/execute/sync", body);
    json_decref(body);
    return v;
}

char *
wd_exec_str(struct wd *wd, const char *script) {
    json_t *v = wd_exec(wd, script, NULL);
    char *s = xstrdup(json_is_string(v) ? json_string_value(v) : "");
    json_decref(v);
    return s;
}

void
wd_wait(struct wd *wd, const char *script, int timeout_ms, const char *what) {
    for (int waited = 0;; waited += 100) {
        json_t *v = wd_exec(wd, script, NULL);
        bool ok = json_is_true(v);
        json_decref(v);
        if (ok) return;
        if (waited >= timeout_ms) break;
        usleep(100 * 1000);
    }
    char *html =
        wd_exec_str(wd, "return document.body ? document.body.innerText.slice(0, 1500) : ''");
    cr_assert_fail("browser: %s did not happen within %d ms. Page text:\n%s", what, timeout_ms,
                   html);
    free(html);
}

void
wd_screenshot(struct wd *wd, const char *path) {
    json_t *v = session_call(wd, "GET", "/screenshot", NULL);
    const char *b64 = json_string_value(v);
    cr_assert_not_null(b64, "no screenshot");
    size_t len = strlen(b64);
    unsigned char *png = xmalloc(len / 4 * 3 + 3);
    int n = EVP_DecodeBlock(png, (const unsigned char *)b64, (int)len);
    cr_assert_gt(n, 0, "screenshot is not base64");
    /* EVP_DecodeBlock counts the padding as data: drop it. */
    if (len >= 2 && b64[len - 1] == '=') n--;
    if (len >= 2 && b64[len - 2] == '=') n--;
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    cr_assert_eq(fwrite(png, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    free(png);
    json_decref(v);
}
