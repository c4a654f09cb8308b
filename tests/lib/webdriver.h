/* webdriver — a small W3C WebDriver client for browser tests: starts
 * Debian's chromedriver on a free loopback port, opens one headless
 * Chromium session (/usr/bin/chromium), and drives it over HTTP with
 * JSON (libcurl through http_client, jansson).
 *
 * Owns: the chromedriver process (stopped by pid in wd_stop, after the
 * session is deleted, which closes Chromium) and the session id. Calls
 * that fail (no answer, a WebDriver error) fail the current test with the
 * driver's message; wd_wait polls a script (bounded) and fails the test
 * with the given message when it never becomes true. JSON values returned
 * are new references (json_decref). */
#ifndef WC_TEST_WEBDRIVER_H
#define WC_TEST_WEBDRIVER_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

struct wd {
    pid_t driver_pid;
    int port;
    char base[64];     /* http://127.0.0.1:PORT */
    char session[128]; /* "" until a session is open */
    char log[256];
};

/* wd_start runs chromedriver (logging to dir/chromedriver.log) and opens a
 * headless session with a window of width x height. */
void wd_start(struct wd *wd, const char *dir, int width, int height);
void wd_stop(struct wd *wd);

void wd_navigate(struct wd *wd, const char *url);
void wd_window_size(struct wd *wd, int width, int height);
/* wd_find returns the element id of the first match of css (fails the test if none). */
char *wd_find(struct wd *wd, const char *css);
void wd_click(struct wd *wd, const char *css);
/* wd_type sends keys to the element (WebDriver key codes such as "\xee\x80\x91" work). */
void wd_type(struct wd *wd, const char *css, const char *text);
/* wd_exec runs a script (function body; arguments[0..] from args, may be
 * NULL) and returns its value. */
json_t *wd_exec(struct wd *wd, const char *script, json_t *args);
/* wd_exec_str returns the script's value as a new string ("" if not a string). */
char *wd_exec_str(struct wd *wd, const char *script);
/* wd_wait polls script until it returns true, up to timeout_ms. */
void wd_wait(struct wd *wd, const char *script, int timeout_ms, const char *what);
/* wd_screenshot writes a PNG of the viewport to path. */
void wd_screenshot(struct wd *wd, const char *path);

#endif
