/* luacheck.c — see luacheck.h. */
#include "tests/lib/luacheck.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/testenv.h"

static redisContext *
connect_redis(void) {
    const char *url = testenv_redis_url(); /* redis://127.0.0.1:PORT[/db] */
    const char *hp = strstr(url, "://");
    cr_assert_not_null(hp, "bad redis url %s", url);
    char host[64];
    int port = 6379;
    cr_assert_geq(sscanf(hp + 3, "%63[^:/]:%d", host, &port), 1, "bad redis url %s", url);
    redisContext *c = redisConnect(host, port);
    cr_assert(c && !c->err, "redis at %s: %s", url, c ? c->errstr : "no memory");
    return c;
}

static const struct lua_script *
find(const struct lua_script *scripts, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(scripts[i].name, name)) return &scripts[i];
    return NULL;
}

void
luacheck_scripts(const struct lua_script *scripts, size_t n, const char *dir) {
    cr_assert_gt(n, 0, "no scripts embedded from %s", dir);

    /* Every file has its entry. */
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", testenv_srcdir(), dir);
    DIR *d = opendir(path);
    cr_assert_not_null(d, "cannot open %s", path);
    size_t files = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len <= 4 || strcmp(e->d_name + len - 4, ".lua") != 0) continue;
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(len - 4), e->d_name);
        files++;
        cr_expect_not_null(find(scripts, n, name), "%s/%s is not embedded", dir, e->d_name);
    }
    closedir(d);
    cr_expect_eq(files, n, "%zu files in %s, %zu scripts embedded", files, dir, n);

    /* Every entry is whole and compiles. */
    redisContext *c = connect_redis();
    for (size_t i = 0; i < n; i++) {
        const struct lua_script *s = &scripts[i];
        cr_expect_gt(strlen(s->text), 0, "%s is empty", s->name);
        cr_expect_null(strstr(s->text, "--!include"), "%s: an include was not replaced", s->name);
        redisReply *r = redisCommand(c, "SCRIPT LOAD %s", s->text);
        cr_assert_not_null(r, "redis: %s", c->errstr);
        cr_expect(r->type == REDIS_REPLY_STRING && r->len == 40, "%s does not load: %s", s->name,
                  r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        freeReplyObject(r);
    }
    redisFree(c);
}
