#include "cli/opts.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "common/config.h"

struct opt *
opts_find(struct opt *opts, size_t nopts, const char *name) {
    for (size_t i = 0; i < nopts; i++)
        if (strcmp(opts[i].name, name) == 0) return &opts[i];
    assert(!"option not in table");
    return NULL;
}

int
opts_int(const char *s, long min, long max, long *out) {
    return config_parse_int(s, min, max, out);
}

static int
fail(struct opts_result *r, const char *what, const char *arg) {
    snprintf(r->error, sizeof r->error, "%s: %.200s", what, arg);
    return -1;
}

int
opts_parse(int argc, char **argv, struct opt *opts, size_t nopts, int max_pos,
           struct opts_result *r) {
    memset(r, 0, sizeof *r);
    for (size_t i = 0; i < nopts; i++) opts[i].seen = false, opts[i].value = NULL;
    if (max_pos > (int)(sizeof r->pos / sizeof r->pos[0]))
        max_pos = (int)(sizeof r->pos / sizeof r->pos[0]);
    bool only_pos = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || strcmp(a, "-") == 0) {
            if (r->npos >= max_pos)
                return fail(r, max_pos ? "too many arguments" : "unexpected argument", a);
            r->pos[r->npos++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            r->help = true;
            continue;
        }
        if (strcmp(a, "--json") == 0) {
            r->json = true;
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        struct opt *o = NULL;
        for (size_t k = 0; k < nopts && !o; k++)
            if (strlen(opts[k].name) == len && strncmp(opts[k].name, a, len) == 0) o = &opts[k];
        if (!o) return fail(r, "unknown option", a);
        if (o->seen) return fail(r, "option given twice", o->name);
        o->seen = true;
        if (!o->takes_value) {
            if (eq) return fail(r, "option takes no value", o->name);
            continue;
        }
        if (eq) o->value = eq + 1;
        else if (i + 1 < argc) o->value = argv[++i];
        else return fail(r, "option needs a value", o->name);
    }
    return 0;
}
