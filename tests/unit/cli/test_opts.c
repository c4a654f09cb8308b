/* cli/opts: the option parser every wordcount command shares. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "cli/opts.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof(a)[0]))

Test(opts, flags_values_and_positionals) {
    char *argv[] = {"result", "--top=5", "--json", "http://a.example/", "--all", "--name", "x"};
    struct opt opts[] = {{.name = "--top", .takes_value = true},
                         {.name = "--all"},
                         {.name = "--name", .takes_value = true}};
    struct opts_result r;
    cr_assert_eq(opts_parse(ARGC(argv), argv, opts, 3, 1, &r), 0, "%s", r.error);
    cr_assert(r.json);
    cr_assert_not(r.help);
    cr_assert_eq(r.npos, 1);
    cr_assert_str_eq(r.pos[0], "http://a.example/");
    cr_assert(opts[0].seen && opts[1].seen && opts[2].seen);
    cr_assert_str_eq(opts[0].value, "5");
    cr_assert_str_eq(opts[2].value, "x");
}

Test(opts, help_dash_and_double_dash) {
    char *argv[] = {"enqueue", "-h", "--", "--json"};
    struct opts_result r;
    cr_assert_eq(opts_parse(ARGC(argv), argv, NULL, 0, 1, &r), 0, "%s", r.error);
    cr_assert(r.help);
    cr_assert_not(r.json, "--json after -- is an argument");
    cr_assert_str_eq(r.pos[0], "--json");
    char *argv2[] = {"enqueue", "-"};
    cr_assert_eq(opts_parse(2, argv2, NULL, 0, 1, &r), 0);
    cr_assert_str_eq(r.pos[0], "-", "- is standard input, a positional");
}

struct bad_case {
    char args[3][24];
    int nargs;
    char expect[32];
};

static struct bad_case bad_cases[] = {
    {{"--bogus"}, 1, "unknown option"},    {{"--top"}, 1, "needs a value"},
    {{"--all=yes"}, 1, "takes no value"},  {{"--all", "--all"}, 2, "given twice"},
    {{"a", "b"}, 2, "too many arguments"}, {{"-x"}, 1, "unknown option"},
    {{"--topx=3"}, 1, "unknown option"},
};

ParameterizedTestParameters(opts, rejects) {
    return cr_make_param_array(struct bad_case, bad_cases, sizeof bad_cases / sizeof bad_cases[0]);
}

ParameterizedTest(struct bad_case *c, opts, rejects) {
    char *argv[4] = {"cmd"};
    for (int i = 0; i < c->nargs; i++) argv[i + 1] = c->args[i];
    struct opt opts[] = {{.name = "--top", .takes_value = true}, {.name = "--all"}};
    struct opts_result r;
    cr_assert_eq(opts_parse(c->nargs + 1, argv, opts, 2, 1, &r), -1, "accepted %s", c->args[0]);
    cr_assert(strstr(r.error, c->expect), "%s: %s", c->args[0], r.error);
}

Test(opts, no_positionals_allowed) {
    char *argv[] = {"info", "extra"};
    struct opts_result r;
    cr_assert_eq(opts_parse(2, argv, NULL, 0, 0, &r), -1);
    cr_assert(strstr(r.error, "unexpected argument: extra"), "%s", r.error);
}

Test(opts, integers) {
    long v;
    cr_assert_eq(opts_int("10", 1, 100, &v), 0);
    cr_assert_eq(v, 10);
    cr_assert_eq(opts_int("0", 1, 100, &v), -1);
    cr_assert_eq(opts_int("101", 1, 100, &v), -1);
    cr_assert_eq(opts_int("5x", 1, 100, &v), -1);
    cr_assert_eq(opts_int("", 1, 100, &v), -1);
    cr_assert_eq(opts_int("99999999999999999999", 1, 100, &v), -1);
}
