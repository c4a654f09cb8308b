/* URL validation at submit time (curl's URL API). */
#include <criterion/criterion.h>
#include <string.h>

#include "common/url_check.h"

Test(url_check, accepts_http_and_https) {
    const char *good[] = {"http://example.com/", "https://example.com/a/b?c=d#e",
                          "http://127.0.0.1:8080/page.html", "http://[::1]:80/",
                          "HTTP://EXAMPLE.COM/"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char err[256] = "";
        cr_expect_eq(url_check(good[i], err, sizeof err), 0, "%s: %s", good[i], err);
    }
}

Test(url_check, rejects_with_a_reason) {
    const char *bad[] = {"",
                         "not a url",
                         "ftp://example.com/",
                         "file:///etc/passwd",
                         "http://",
                         "http://user:pw@example.com/",
                         "javascript:alert(1)",
                         "gopher://example.com/",
                         "//example.com/"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        cr_expect_lt(url_check(bad[i], err, sizeof err), 0, "%s accepted", bad[i]);
        cr_expect_gt(strlen(err), 0, "%s: no reason", bad[i]);
    }
    char longurl[2100] = "http://example.com/";
    memset(longurl + strlen(longurl), 'a', 2049 - strlen(longurl));
    char err[256];
    cr_expect_lt(url_check(longurl, err, sizeof err), 0);
}
