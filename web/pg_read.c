/* pg_read.c — reads on the replica, again on the primary when it cannot
 * answer; see pg_read.h. */
#include "web/pg_read.h"

#include <stdlib.h>

#include "common/log.h"
#include "common/xalloc.h"

struct call {
    struct app *app;
    enum pg_read_want want;
    pg_uv_cb cb;
    void *arg;
    char *sql;
    int nparams;
    char **params;
};

static void
call_free(struct call *c) {
    for (int i = 0; i < c->nparams; i++) free(c->params[i]);
    free(c->params);
    free(c->sql);
    free(c);
}

static void
on_replica(pg_uv_t *pg, PGresult *res, const char *errstr, void *arg) {
    struct call *c = arg;
    bool ok = res && PQresultStatus(res) == PGRES_TUPLES_OK;
    bool missing = ok && c->want == PG_READ_ROW && PQntuples(res) == 0;
    /* The primary's answer goes straight to the caller (not when closing:
     * then the replica's failure is the answer). */
    if ((!ok || missing) && app_pg_query(c->app, APP_DB_PRIMARY, c->sql, c->nparams,
                                         (const char *const *)c->params, c->cb, c->arg) == 0) {
        if (!ok)
            log_warn("msg=\"read replica failed, asked the primary\" error=%s",
                     log_q(errstr ? errstr : PQresultErrorMessage(res)));
        else log_debug("msg=\"row not on the read replica yet, asked the primary\"");
        call_free(c);
        return;
    }
    c->cb(pg, res, errstr, c->arg);
    call_free(c);
}

int
pg_read_query(struct app *a, enum pg_read_want want, const char *sql, int nparams,
              const char *const *params, pg_uv_cb cb, void *arg) {
    if (!app_has_replica(a)) return app_pg_query(a, APP_DB_PRIMARY, sql, nparams, params, cb, arg);
    struct call *c = xcalloc(1, sizeof *c);
    c->app = a;
    c->want = want;
    c->cb = cb;
    c->arg = arg;
    c->sql = xstrdup(sql);
    c->nparams = nparams;
    c->params = xcalloc((size_t)(nparams > 0 ? nparams : 1), sizeof *c->params);
    for (int i = 0; i < nparams; i++) c->params[i] = params[i] ? xstrdup(params[i]) : NULL;
    int rc = app_pg_query(a, APP_DB_READ, sql, nparams, params, on_replica, c);
    if (rc < 0) {
        call_free(c);
        /* The replica is known to be down (or its queue is full): the
         * primary answers meanwhile, at no wait. */
        if (rc != UV_ECANCELED) rc = app_pg_query(a, APP_DB_PRIMARY, sql, nparams, params, cb, arg);
    }
    return rc;
}
