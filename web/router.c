/* router.c — match a method and path against the route table. */
#include "web/router.h"

#include <stdio.h>
#include <string.h>

int
router_path_match(const char *pattern, const char *path, struct router_match *m) {
    size_t np = 0;
    const char *p = pattern, *s = path;
    while (*p) {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            if (!close || np == ROUTER_MAX_PARAMS) return -1;
            size_t n = strcspn(s, "/");
            if (n == 0 || n > ROUTER_PARAM_MAX) return -1;
            memcpy(m->params[np], s, n);
            m->params[np][n] = '\0';
            np++;
            s += n;
            p = close + 1;
        } else if (*p++ != *s++) {
            return -1;
        }
    }
    if (*s) return -1;
    m->nparams = np;
    return 0;
}

static void
allow_add(struct router_match *m, const char *method) {
    size_t n = strlen(m->allow);
    /* Each method once: GET routes also allow HEAD. */
    char probe[16];
    snprintf(probe, sizeof probe, "%s", method);
    const char *a = m->allow;
    size_t len = strlen(probe);
    while ((a = strstr(a, probe)) != NULL) {
        if ((a == m->allow || a[-1] == ' ') && (a[len] == ',' || a[len] == '\0')) return;
        a += len;
    }
    snprintf(m->allow + n, sizeof m->allow - n, "%s%s", n ? ", " : "", method);
}

void
router_match(const struct route *routes, size_t n, const char *method, const char *path,
             struct router_match *m) {
    memset(m, 0, sizeof *m);
    m->status = 404;
    const char *want = strcmp(method, "HEAD") ? method : "GET";
    for (size_t i = 0; i < n; i++) {
        struct router_match tmp;
        if (router_path_match(routes[i].pattern, path, &tmp) < 0) continue;
        if (!strcmp(routes[i].method, want)) {
            m->status = 0;
            m->route = &routes[i];
            m->nparams = tmp.nparams;
            memcpy(m->params, tmp.params, sizeof m->params);
            m->allow[0] = '\0';
            return;
        }
        m->status = 405;
        allow_add(m, routes[i].method);
        if (!strcmp(routes[i].method, "GET")) allow_add(m, "HEAD");
    }
}
