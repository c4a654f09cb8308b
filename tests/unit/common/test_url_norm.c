/* The normalised URL (common/url_norm.c): one key per page. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "common/url_norm.h"

/* Fixed arrays: Criterion copies the parameters into another process. */
struct norm_case {
    char in[64];
    char want[80];
};

ParameterizedTestParameters(url_norm, normalises) {
    static struct norm_case cases[] = {
        /* scheme and host case, default ports */
        {"HTTP://EXAMPLE.COM/", "http://example.com/"},
        {"HtTpS://Example.Com:443/A", "https://example.com/A"},
        {"http://example.com:80/", "http://example.com/"},
        {"https://example.com:80/", "https://example.com:80/"},
        {"http://example.com:443/", "http://example.com:443/"},
        {"http://example.com:8080", "http://example.com:8080/"},
        {"http://example.com:0080/", "http://example.com/"},
        /* empty path, empty query, fragments */
        {"http://example.com", "http://example.com/"},
        {"http://example.com?", "http://example.com/"},
        {"http://example.com/#", "http://example.com/"},
        {"http://example.com/a#frag", "http://example.com/a"},
        {"http://example.com/a?q=1#frag?x", "http://example.com/a?q=1"},
        {"http://example.com/#a/../b", "http://example.com/"},
        /* dot-segments */
        {"http://example.com/a/./b/../c", "http://example.com/a/c"},
        {"http://example.com/../../x", "http://example.com/x"},
        {"http://example.com/a/b/..", "http://example.com/a/"},
        {"http://example.com/./", "http://example.com/"},
        {"http://example.com/a/%2e%2E/b", "http://example.com/b"},
        {"http://example.com/a/%2e/b", "http://example.com/a/b"},
        /* percent-encoding */
        {"http://example.com/%7e%41%61%30%2d%2E%5f", "http://example.com/~Aa0-._"},
        {"http://example.com/a%2fb%2Fc", "http://example.com/a%2Fb%2Fc"},
        {"http://example.com/%e4%b8%AD", "http://example.com/%E4%B8%AD"},
        {"http://example.com/a%zz", "http://example.com/a%25zz"},
        {"http://example.com/100%", "http://example.com/100%25"},
        {"http://example.com/%4", "http://example.com/%254"},
        {"http://example.com/a\"<>\\^`{|}", "http://example.com/a%22%3C%3E%5C%5E%60%7B%7C%7D"},
        {"http://example.com/\xc3\xbc?q=\xc3\xa4", "http://example.com/%C3%BC?q=%C3%A4"},
        {"http://example.com/?q=%7E&r=%3d&s=a+b", "http://example.com/?q=~&r=%3D&s=a+b"},
        {"http://example.com/p?b=2&a=1", "http://example.com/p?b=2&a=1"},
        {"http://example.com/a;b=c,d@e:f!$'()*", "http://example.com/a;b=c,d@e:f!$'()*"},
        {"http://example.com/%00", "http://example.com/%00"},
        /* hosts */
        {"http://ex%41mple.com/", "http://example.com/"},
        {"http://0x7f.1/", "http://127.0.0.1/"},
        {"http://2130706433/", "http://127.0.0.1/"},
        {"http://0177.0.0.1/", "http://127.0.0.1/"},
        {"http://[::FFFF:1.2.3.4]:80/", "http://[::ffff:1.2.3.4]/"},
        {"http://[2001:DB8::1]:8080/x", "http://[2001:db8::1]:8080/x"},
        {"http://example.com./", "http://example.com./"},
        /* idempotent on its own output */
        {"http://example.com/a%2Fb?x=%C3%A4", "http://example.com/a%2Fb?x=%C3%A4"},
    };
    return cr_make_param_array(struct norm_case, cases, sizeof cases / sizeof *cases);
}

ParameterizedTest(struct norm_case *c, url_norm, normalises) {
    char out[URL_NORM_MAX + 1], err[256] = "";
    cr_assert_eq(url_norm(c->in, out, sizeof out, err, sizeof err), 0, "%s: %s", c->in, err);
    cr_expect_str_eq(out, c->want, "%s", c->in);
    /* A normalised URL normalises to itself. */
    char again[URL_NORM_MAX + 1];
    cr_assert_eq(url_norm(out, again, sizeof again, err, sizeof err), 0, "%s: %s", out, err);
    cr_expect_str_eq(again, out, "not idempotent: %s", c->in);
}

Test(url_norm, the_same_page_spelled_many_ways_has_one_key) {
    const char *same[] = {"http://example.com/a/b",       "HTTP://Example.COM:80/a/b",
                          "http://example.com/a/./b#top", "http://example.com/x/../a/b",
                          "http://ex%61mple.com/%61/b",   "http://example.com/a/b?"};
    char first[URL_NORM_MAX + 1], out[URL_NORM_MAX + 1], err[256];
    cr_assert_eq(url_norm(same[0], first, sizeof first, err, sizeof err), 0);
    for (size_t i = 1; i < sizeof same / sizeof *same; i++) {
        cr_assert_eq(url_norm(same[i], out, sizeof out, err, sizeof err), 0, "%s", same[i]);
        cr_expect_str_eq(out, first, "%s", same[i]);
    }
}

Test(url_norm, refuses_what_url_check_refuses) {
    const char *bad[] = {"",
                         "not a url",
                         "ftp://example.com/",
                         "file:///etc/passwd",
                         "http://",
                         "http://user:pw@example.com/",
                         "http://:pw@example.com/",
                         "javascript:alert(1)",
                         "//example.com/",
                         "http://example.com/a b",
                         "http://exa mple.com/",
                         "http://example.com:99999/",
                         "http://example.com:-1/",
                         "http://[::1/",
                         "http://example.com/\r\nX: y",
                         "http://example.com/\t"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char out[URL_NORM_MAX + 1], err[256] = "";
        cr_expect_lt(url_norm(bad[i], out, sizeof out, err, sizeof err), 0, "%s accepted: %s",
                     bad[i], out);
        cr_expect_gt(strlen(err), 0, "%s: no reason", bad[i]);
    }
    cr_expect_lt(url_norm(NULL, (char[8]){0}, 8, (char[64]){0}, 64), 0);
}

Test(url_norm, long_inputs_stay_bounded) {
    /* The longest URL accepted, every byte of its path encoded: three
     * times as long, and still within URL_NORM_MAX. */
    char url[URL_CHECK_MAX + 1] = "http://example.com/";
    size_t at = strlen(url);
    memset(url + at, '"', URL_CHECK_MAX - at);
    url[URL_CHECK_MAX] = '\0';
    char out[URL_NORM_MAX + 1], err[256];
    cr_assert_eq(url_norm(url, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_expect_eq(strlen(out), at + 3 * (URL_CHECK_MAX - at));
    /* A buffer too small is an error, never an overflow. */
    char small[24];
    cr_expect_lt(
        url_norm("http://example.com/abcdefghijklmnop", small, sizeof small, err, sizeof err), 0);
    /* One byte over the limit is refused before curl sees it. */
    char over[URL_CHECK_MAX + 2] = "http://example.com/";
    memset(over + strlen(over), 'a', URL_CHECK_MAX + 1 - strlen(over));
    over[URL_CHECK_MAX + 1] = '\0';
    cr_expect_lt(url_norm(over, out, sizeof out, err, sizeof err), 0);
}

Test(url_norm, host_of_a_normalised_url) {
    char h[64];
    cr_assert_eq(url_norm_host("https://example.com/a/b?c", h, sizeof h), 0);
    cr_assert_str_eq(h, "example.com");
    cr_assert_eq(url_norm_host("http://example.com:8080/", h, sizeof h), 0);
    cr_assert_str_eq(h, "example.com");
    cr_assert_eq(url_norm_host("http://[::1]:8080/x", h, sizeof h), 0);
    cr_assert_str_eq(h, "[::1]");
    cr_assert_eq(url_norm_host("http://127.0.0.1?q", h, sizeof h), 0);
    cr_assert_str_eq(h, "127.0.0.1");
    cr_assert_lt(url_norm_host("no-scheme", h, sizeof h), 0);
    cr_assert_lt(url_norm_host("http:///path", h, sizeof h), 0);
    cr_assert_lt(url_norm_host("http://[::1/", h, sizeof h), 0);
    cr_assert_lt(url_norm_host("https://a-rather-long-host-name.example.com/", h, 8), 0);
    cr_assert_lt(url_norm_host(NULL, h, sizeof h), 0);
}
