#include "tests/lib/testca.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "tests/lib/run.h"
#include "tests/lib/testenv.h"

static void
path(char *out, size_t n, const struct testca *ca, const char *file) {
    snprintf(out, n, "%s/%s", ca->dir, file);
}

void
testca_make(struct testca *ca) {
    memset(ca, 0, sizeof *ca);
    snprintf(ca->dir, sizeof ca->dir, "/tmp/wc-ca.XXXXXX");
    cr_assert_not_null(mkdtemp(ca->dir), "cannot make a folder for the test CA");
    /* A private Postgres running as user postgres reads the CA too. */
    chmod(ca->dir, 0755);
    char script[4096];
    snprintf(script, sizeof script, "%s/tests/lib/testca.sh", testenv_srcdir());
    const char *argv[] = {script, ca->dir, NULL};
    struct buf err;
    buf_init(&err);
    int rc = run_cmd(argv, NULL, NULL, 60000, NULL, &err);
    cr_assert_eq(rc, 0, "testca.sh failed (%d): %s", rc, err.data);
    buf_free(&err);
    path(ca->ca, sizeof ca->ca, ca, "ca.crt");
    path(ca->server_crt, sizeof ca->server_crt, ca, "server.crt");
    path(ca->server_key, sizeof ca->server_key, ca, "server.key");
    path(ca->other_crt, sizeof ca->other_crt, ca, "other.crt");
    path(ca->other_key, sizeof ca->other_key, ca, "other.key");
    path(ca->self_crt, sizeof ca->self_crt, ca, "self.crt");
    path(ca->self_key, sizeof ca->self_key, ca, "self.key");
}

void
testca_free(struct testca *ca) {
    testenv_remove_dir(ca->dir);
}
