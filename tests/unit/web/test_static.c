/* static: the path rules, lookup inside STATIC_DIR (symlinks out refused),
 * content types and the conditional-request rules. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "web/static.h"

/* Fixed arrays: Criterion copies the parameters into another process. */
struct path_case {
    char path[32];
    bool ok;
};

ParameterizedTestParameters(static_files, path_rules) {
    static struct path_case cases[] = {
        {"index.html", true},
        {"app.css", true},
        {"img/logo.svg", true},
        {"a-b_c.1.js", true},
        {"", false},
        {".", false},
        {"..", false},
        {"../etc/passwd", false},
        {"a/../b", false},
        {"a/./b", false},
        {".hidden", false},
        {"a/.git/config", false},
        {"/etc/passwd", false},
        {"a//b", false},
        {"a/", false},
        {"%2e%2e", false},
        {"..%2fREADME.md", false},
        {"a%00.txt", false},
        {"a\\..\\b", false},
        {"a b", false},
        {"a\nb", false},
        {"caf\xc3\xa9.html", false},
    };
    return cr_make_param_array(struct path_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct path_case *c, static_files, path_rules) {
    cr_assert_eq(static_path_ok(c->path), c->ok, "\"%s\"", c->path);
}

Test(static_files, long_names_are_refused) {
    char name[STATIC_NAME_MAX + 2];
    memset(name, 'a', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    cr_assert_not(static_path_ok(name));
    name[STATIC_NAME_MAX] = '\0';
    cr_assert(static_path_ok(name));
}

static char root[64], outside[96];

static void
write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

static void
make_tree(void) {
    snprintf(root, sizeof root, "/tmp/wc-static-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
    snprintf(outside, sizeof outside, "%s-outside", root);
    cr_assert_eq(mkdir(outside, 0755), 0);
    char p[256], q[256];
    snprintf(p, sizeof p, "%s/index.html", root);
    write_file(p, "<p>hello</p>");
    snprintf(p, sizeof p, "%s/sub", root);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/sub/app.js", root);
    write_file(p, "x = 1;");
    snprintf(p, sizeof p, "%s/secret.txt", outside);
    write_file(p, "secret");
    /* A link out of the folder, a link to a folder outside, a link inside. */
    snprintf(q, sizeof q, "%s/leak.txt", root);
    cr_assert_eq(symlink(p, q), 0);
    snprintf(q, sizeof q, "%s/outdir", root);
    cr_assert_eq(symlink(outside, q), 0);
    snprintf(p, sizeof p, "%s/index.html", root);
    snprintf(q, sizeof q, "%s/alias.html", root);
    cr_assert_eq(symlink(p, q), 0);
}

static void
remove_tree(void) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", root, outside);
    cr_assert_eq(system(cmd), 0);
}

Test(static_files, files_inside_are_served_and_links_out_are_not, .init = make_tree,
     .fini = remove_tree) {
    struct static_file f;
    cr_assert_eq(static_open(root, "index.html", &f), 0);
    cr_assert_str_eq(f.content_type, "text/html; charset=utf-8");
    cr_assert_eq(f.etag[0], '"');
    cr_assert_gt(strlen(f.last_modified), 20);
    struct buf b;
    buf_init(&b);
    cr_assert_eq(static_read(&f, &b), 0);
    cr_assert_str_eq(b.data, "<p>hello</p>");
    buf_free(&b);
    static_file_close(&f);

    cr_assert_eq(static_open(root, "sub/app.js", &f), 0);
    cr_assert_str_eq(f.content_type, "text/javascript; charset=utf-8");
    static_file_close(&f);
    cr_assert_eq(static_open(root, "alias.html", &f), 0, "a link that stays inside is fine");
    static_file_close(&f);

    cr_assert_eq(static_open(root, "leak.txt", &f), UV_ENOENT, "a link out of the folder");
    cr_assert_eq(static_open(root, "outdir/secret.txt", &f), UV_ENOENT, "a folder link out");
    cr_assert_eq(static_open(root, "sub", &f), UV_ENOENT, "a folder is not a file");
    cr_assert_eq(static_open(root, "missing.html", &f), UV_ENOENT);
    cr_assert_eq(static_open(root, "../", &f), UV_ENOENT);
    char rel[128];
    snprintf(rel, sizeof rel, "..%s-outside/secret.txt", strrchr(root, '/'));
    cr_assert_eq(static_open(root, rel, &f), UV_ENOENT);
    cr_assert_eq(static_open("/nonexistent-root", "index.html", &f), UV_ENOENT);
}

Test(static_files, large_files_are_refused, .init = make_tree, .fini = remove_tree) {
    char p[256];
    snprintf(p, sizeof p, "%s/big.bin", root);
    int fd = open(p, O_WRONLY | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, STATIC_MAX_BYTES + 1), 0);
    close(fd);
    struct static_file f;
    cr_assert_eq(static_open(root, "big.bin", &f), UV_EFBIG);
}

Test(static_files, etag_changes_with_the_file, .init = make_tree, .fini = remove_tree) {
    struct static_file a, b;
    cr_assert_eq(static_open(root, "index.html", &a), 0);
    static_file_close(&a);
    char p[256];
    snprintf(p, sizeof p, "%s/index.html", root);
    write_file(p, "<p>hello, again</p>");
    cr_assert_eq(static_open(root, "index.html", &b), 0);
    static_file_close(&b);
    cr_assert_str_neq(a.etag, b.etag);
}

Test(static_files, content_types) {
    cr_assert_str_eq(static_content_type("a.css"), "text/css; charset=utf-8");
    cr_assert_str_eq(static_content_type("a.JS"), "text/javascript; charset=utf-8");
    cr_assert_str_eq(static_content_type("a.svg"), "image/svg+xml");
    cr_assert_str_eq(static_content_type("a.png"), "image/png");
    cr_assert_str_eq(static_content_type("a.json"), "application/json");
    cr_assert_str_eq(static_content_type("README"), "application/octet-stream");
    cr_assert_str_eq(static_content_type("a.tar.gz"), "application/octet-stream");
}

Test(static_files, conditional_requests) {
    const char *etag = "\"abc-1\"";
    time_t mtime = 1700000000; /* Tue, 14 Nov 2023 22:13:20 GMT */
    cr_assert(static_not_modified("\"abc-1\"", NULL, etag, mtime));
    cr_assert(static_not_modified("W/\"abc-1\"", NULL, etag, mtime), "weak comparison");
    cr_assert(static_not_modified("\"x\", \"abc-1\"", NULL, etag, mtime), "in a list");
    cr_assert(static_not_modified("*", NULL, etag, mtime));
    cr_assert_not(static_not_modified("\"abc-2\"", NULL, etag, mtime));
    cr_assert_not(static_not_modified("\"abc-1", NULL, etag, mtime));
    cr_assert_not(static_not_modified("", NULL, etag, mtime));
    /* If-None-Match wins over If-Modified-Since. */
    cr_assert_not(static_not_modified("\"other\"", "Tue, 14 Nov 2023 22:13:20 GMT", etag, mtime));
    cr_assert(static_not_modified(NULL, "Tue, 14 Nov 2023 22:13:20 GMT", etag, mtime));
    cr_assert(static_not_modified(NULL, "Wed, 15 Nov 2023 00:00:00 GMT", etag, mtime));
    cr_assert_not(static_not_modified(NULL, "Tue, 14 Nov 2023 22:13:19 GMT", etag, mtime));
    cr_assert_not(static_not_modified(NULL, "not a date", etag, mtime));
    cr_assert_not(static_not_modified(NULL, NULL, etag, mtime));
}
