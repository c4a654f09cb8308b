/* robots.txt parsing and matching (RFC 9309), table cases and the odd
 * inputs real files carry: CR line ends, a BOM, comments, huge lines,
 * bytes split anywhere. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdlib.h>
#include <string.h>

#include "common/robots.h"

static const char *const doc = "# example\r\n"
                               "User-agent: other\n"
                               "Disallow: /\n"
                               "\n"
                               "User-agent: *\n"
                               "Disallow: /all-but-us/\n"
                               "\n"
                               "user-agent: WordCount\n"
                               "User-agent: another\n"
                               "disallow: /private/\n"
                               "Allow: /private/open\n"
                               "Disallow: /*.pdf$\n"
                               "Disallow: /tmp*/x\n"
                               "Allow: /page$\n"
                               "Disallow: /page\n"
                               "Disallow: /%7Euser/\n"
                               "Disallow: /caf%c3%a9\n"
                               "Disallow: /search?q=\n"
                               "Crawl-delay: 1.5 # seconds\n"
                               "Sitemap: https://example.com/sitemap.xml\n"
                               "Disallow: /after-sitemap\n";

/* Parameters are copied between processes: arrays, not pointers. */
struct rcase {
    char path[48];
    bool allowed;
    char rule[48];
};

ParameterizedTestParameters(robots, longest_match_wins) {
    static struct rcase cases[] = {
        {"/", true, ""},
        {"/all-but-us/x", true, ""},
        {"/private/", false, "Disallow: /private/"},
        {"/private/secret.html", false, "Disallow: /private/"},
        {"/private/open", true, "Allow: /private/open"},
        {"/private/opener", true, "Allow: /private/open"},
        {"/doc.pdf", false, "Disallow: /*.pdf$"},
        {"/doc.pdf?x=1", true, ""},
        {"/a/b/c.pdf", false, "Disallow: /*.pdf$"},
        {"/tmp/x", false, "Disallow: /tmp*/x"},
        {"/tmpfiles/deep/x", false, "Disallow: /tmp*/x"},
        {"/tmp/y", true, ""},
        {"/page", true, "Allow: /page$"},
        {"/pages", false, "Disallow: /page"},
        {"/~user/a", false, "Disallow: /~user/"},
        {"/%7euser/a", false, "Disallow: /~user/"},
        {"/caf%C3%A9", false, "Disallow: /caf%C3%A9"},
        {"/caf\xc3\xa9", false, "Disallow: /caf%C3%A9"},
        {"/search?q=words", false, "Disallow: /search?q="},
        {"/search", true, ""},
        {"/after-sitemap", false, "Disallow: /after-sitemap"},
        {"/robots.txt", true, ""},
    };
    return cr_make_param_array(struct rcase, cases, sizeof cases / sizeof *cases);
}

ParameterizedTest(struct rcase *c, robots, longest_match_wins) {
    struct robots *r = robots_parse(doc, strlen(doc), "wordcount");
    struct robots_verdict v;
    robots_check(r, c->path, &v);
    cr_assert_eq(v.allowed, c->allowed, "%s", c->path);
    cr_assert_str_eq(v.rule, c->rule, "%s", c->path);
    cr_assert_eq(robots_crawl_delay_ms(r), 1500);
    robots_free(r);
}

Test(robots, star_group_when_ours_is_absent) {
    struct robots *r = robots_parse(doc, strlen(doc), "somebot");
    struct robots_verdict v;
    robots_check(r, "/all-but-us/x", &v);
    cr_assert_not(v.allowed);
    robots_check(r, "/private/x", &v);
    cr_assert(v.allowed);
    cr_assert_eq(robots_crawl_delay_ms(r), -1);
    robots_free(r);
}

Test(robots, product_token_of_a_user_agent) {
    char t[32];
    robots_agent_token("wordcount/1.0 (+https://github.com/wordcount)", t, sizeof t);
    cr_assert_str_eq(t, "wordcount");
    robots_agent_token("My_Bot-2", t, sizeof t);
    cr_assert_str_eq(t, "My_Bot-");
    robots_agent_token("averyveryverylongname", t, 5);
    cr_assert_str_eq(t, "aver");
    robots_agent_token("", t, sizeof t);
    cr_assert_str_eq(t, "");
}

Test(robots, groups_for_us_merge_and_allow_wins_a_tie) {
    const char *txt = "User-agent: wordcount\nDisallow: /a\n\nUser-agent: *\nDisallow: /\n"
                      "\nUser-agent: wordcount\nAllow: /a\nDisallow: /b\n";
    struct robots *r = robots_parse(txt, strlen(txt), "wordcount");
    struct robots_verdict v;
    robots_check(r, "/a", &v);
    cr_assert(v.allowed, "Allow wins a tie of equal length");
    robots_check(r, "/b", &v);
    cr_assert_not(v.allowed);
    robots_check(r, "/c", &v);
    cr_assert(v.allowed, "the * group does not apply when ours exists");
    cr_assert_eq(robots_nrules(r), 3);
    robots_free(r);
}

Test(robots, empty_disallow_and_garbage_allow_everything) {
    const char *inputs[] = {"User-agent: *\nDisallow:\n", "", "<html><body>not robots</body>",
                            "\xEF\xBB\xBFUser-agent: *\rDisallow: /x\r",
                            "Disallow: /before-any-agent\n"};
    bool x_allowed[] = {true, true, true, false, true};
    for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++) {
        struct robots *r = robots_parse(inputs[i], strlen(inputs[i]), "wordcount");
        struct robots_verdict v;
        robots_check(r, "/x", &v);
        cr_assert_eq(v.allowed, x_allowed[i], "input %zu", i);
        robots_check(r, "/before-any-agent", &v);
        cr_assert(v.allowed, "input %zu", i);
        robots_free(r);
    }
}

Test(robots, a_user_agent_after_rules_starts_a_new_group) {
    const char *txt = "User-agent: wordcount\nDisallow: /a\nUser-agent: other\nDisallow: /b\n";
    struct robots *r = robots_parse(txt, strlen(txt), "wordcount");
    struct robots_verdict v;
    robots_check(r, "/b", &v);
    cr_assert(v.allowed);
    robots_check(r, "/a", &v);
    cr_assert_not(v.allowed);
    robots_free(r);
}

Test(robots, star_patterns_do_not_blow_up) {
    /* A pattern of many stars against a long path that nearly matches:
     * the matcher stays polynomial. */
    char pat[2100], path[3000];
    strcpy(pat, "User-agent: *\nDisallow: /");
    size_t n = strlen(pat);
    for (int i = 0; i < 1000; i++) pat[n++] = '*', pat[n++] = 'a';
    memcpy(pat + n, "b$\n", 4);
    path[0] = '/';
    memset(path + 1, 'a', sizeof path - 2);
    path[sizeof path - 1] = '\0';
    struct robots *r = robots_parse(pat, strlen(pat), "wordcount");
    struct robots_verdict v;
    robots_check(r, path, &v);
    cr_assert(v.allowed);
    robots_free(r);
}

Test(robots, split_anywhere_and_truncated_inputs_never_crash) {
    size_t len = strlen(doc);
    for (size_t cut = 0; cut <= len; cut++) {
        char *copy = malloc(cut ? cut : 1);
        memcpy(copy, doc, cut);
        struct robots *r = robots_parse(copy, cut, "wordcount");
        struct robots_verdict v;
        robots_check(r, "/private/x", &v);
        robots_free(r);
        free(copy);
    }
}

Test(robots, only_the_first_500_kib_count) {
    size_t big = ROBOTS_MAX_BYTES + 100;
    char *txt = malloc(big + 64);
    memset(txt, '#', big);
    memcpy(txt, "User-agent: *\n", 14);
    txt[ROBOTS_MAX_BYTES - 1] = '\n';
    memcpy(txt + ROBOTS_MAX_BYTES, "Disallow: /\n", 12);
    struct robots *r = robots_parse(txt, big, "wordcount");
    struct robots_verdict v;
    robots_check(r, "/x", &v);
    cr_assert(v.allowed, "a rule past 500 KiB is not read");
    robots_free(r);
    free(txt);
}
