/* cli/urlfile: reading URL lists, good lines and bad. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/urlfile.h"

static char path[64];

static void
write_list(const char *data, size_t len) {
    snprintf(path, sizeof path, "/tmp/wc-urls-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void
cleanup(void) {
    if (path[0]) unlink(path);
}

TestSuite(urlfile, .fini = cleanup);

Test(urlfile, skips_comments_and_blanks_and_trims) {
    const char data[] =
        "# a list\n\n  https://a.example/x  \r\nhttp://b.example/\t\n   \n#http://c.example/\n"
        "http://d.example/last";
    write_list(data, sizeof data - 1);
    struct urlfile u;
    char err[256];
    cr_assert_eq(urlfile_open(&u, path, err, sizeof err), 0);
    const char *url, *why;
    const char *want[] = {"https://a.example/x", "http://b.example/", "http://d.example/last"};
    long lines[] = {3, 4, 7};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(urlfile_next(&u, &url, &why, err, sizeof err), 1);
        cr_assert_null(why, "%s: %s", url, why);
        cr_assert_str_eq(url, want[i]);
        cr_assert_eq(u.line, lines[i]);
    }
    cr_assert_eq(urlfile_next(&u, &url, &why, err, sizeof err), 0);
    urlfile_close(&u);
}

Test(urlfile, rejects_bad_lines_and_goes_on) {
    struct {
        const char *line;
        const char *why;
    } cases[] = {
        {"ftp://a.example/", "http and https"},
        {"not a url", "not a valid URL"},
        {"http://user:pw@a.example/", "credentials"},
        {"http://", "not a valid URL"},
    };
    char data[1024] = "";
    for (size_t i = 0; i < 4; i++) {
        strcat(data, cases[i].line);
        strcat(data, "\n");
    }
    strcat(data, "http://ok.example/\n");
    write_list(data, strlen(data));
    struct urlfile u;
    char err[256];
    cr_assert_eq(urlfile_open(&u, path, err, sizeof err), 0);
    const char *url, *why;
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(urlfile_next(&u, &url, &why, err, sizeof err), 1);
        cr_assert_not_null(why, "%s accepted", cases[i].line);
        cr_assert(strstr(why, cases[i].why), "%s: %s", cases[i].line, why);
    }
    cr_assert_eq(urlfile_next(&u, &url, &why, err, sizeof err), 1);
    cr_assert_null(why);
    cr_assert_str_eq(url, "http://ok.example/");
    urlfile_close(&u);
}

Test(urlfile, long_lines_and_nul_bytes_are_rejected_whole) {
    size_t n = URL_CHECK_MAX + 500;
    char *data = malloc(n + 64);
    memcpy(data, "http://a.example/", 17);
    memset(data + 17, 'a', n - 17);
    size_t len = n;
    memcpy(data + len, "\nhttp://x\0y.example/\nhttp://ok.example/\n", 40);
    len += 40;
    write_list(data, len);
    free(data);
    struct urlfile u;
    char err[256];
    cr_assert_eq(urlfile_open(&u, path, err, sizeof err), 0);
    const char *url, *why;
    cr_assert_eq(urlfile_next(&u, &url, &why, err, sizeof err), 1);
    cr_assert(why && strstr(why, "longer than"), "%s", why ? why : "accepted");
    cr_assert_eq(urlfile_next(&u, &url, &why, err, sizeof err), 1);
    cr_assert(why && strstr(why, "NUL"), "%s", why ? why : "accepted");
    cr_assert_eq(urlfile_next(&u, &url, &why, err, sizeof err), 1);
    cr_assert_null(why);
    cr_assert_str_eq(url, "http://ok.example/");
    cr_assert_eq(u.line, 3);
    cr_assert_eq(urlfile_next(&u, &url, &why, err, sizeof err), 0);
    urlfile_close(&u);
}

Test(urlfile, missing_file) {
    struct urlfile u;
    char err[256];
    cr_assert_eq(urlfile_open(&u, "/nonexistent/urls.txt", err, sizeof err), -1);
    cr_assert(strstr(err, "No such file"), "%s", err);
}

Test(urlfile, empty_file) {
    write_list("", 0);
    struct urlfile u;
    char err[256];
    cr_assert_eq(urlfile_open(&u, path, err, sizeof err), 0);
    const char *url, *why;
    cr_assert_eq(urlfile_next(&u, &url, &why, err, sizeof err), 0);
    urlfile_close(&u);
}
