/* upkeep.c — the results table's partitions, from the worker; see upkeep.h. */
#include "worker/upkeep.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/results.h"
#include "common/xalloc.h"

enum step { STEP_MAKE, STEP_RETAIN };

struct upkeep {
    uv_timer_t timer;
    pg_uv_t *pg;
    int retention_days;
    enum step step;
    bool querying, closing, timer_closed, told_schema;
    void (*close_cb)(void *arg);
    void *close_arg;
};

static void on_timer(uv_timer_t *t);

static void
maybe_free(struct upkeep *u) {
    if (!u->closing || !u->timer_closed || u->querying) return;
    void (*cb)(void *) = u->close_cb;
    void *arg = u->close_arg;
    free(u);
    if (cb) cb(arg);
}

/* failed logs why a step did not happen: a schema without the partition
 * functions once, as a warning; anything else each time. */
static void
failed(struct upkeep *u, PGresult *res, const char *errstr) {
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (state && strcmp(state, "42883") == 0) { /* undefined_function */
        if (!u->told_schema)
            log_warn("msg=\"results is not partitioned: run wordcount-migrate upgrade\"");
        u->told_schema = true;
        return;
    }
    const char *why = res ? PQresultErrorMessage(res) : errstr;
    log_warn("msg=\"results upkeep failed, trying again later\" step=%s error=%s",
             u->step == STEP_MAKE ? "partitions" : "retention", log_q(why ? why : "?"));
}

static void
on_answer(pg_uv_t *pg, PGresult *res, const char *errstr, void *arg) {
    struct upkeep *u = arg;
    (void)pg;
    u->querying = false;
    if (u->closing) {
        maybe_free(u);
        return;
    }
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
        failed(u, res, errstr);
        uv_timer_start(&u->timer, on_timer, UPKEEP_RETRY_MS, 0);
        return;
    }
    if (u->step == STEP_MAKE) {
        const char *made = PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "0";
        if (strcmp(made, "0") != 0) log_info("msg=\"results partitions made\" count=%s", made);
        if (u->retention_days > 0) {
            u->step = STEP_RETAIN;
            uv_timer_start(&u->timer, on_timer, 0, 0);
            return;
        }
    } else {
        for (int i = 0; i < PQntuples(res); i++)
            log_info("msg=\"results partition dropped\" partition=%s retention_days=%d",
                     PQgetvalue(res, i, 0), u->retention_days);
    }
    u->step = STEP_MAKE;
    uv_timer_start(&u->timer, on_timer, UPKEEP_INTERVAL_MS, 0);
}

static void
on_timer(uv_timer_t *t) {
    struct upkeep *u = t->data;
    char days[16];
    snprintf(days, sizeof days, "%d", u->retention_days);
    const char *params[] = {days};
    int rc = u->step == STEP_MAKE
                 ? pg_uv_query(u->pg, RESULTS_PARTITIONS_SQL, 0, NULL, on_answer, u)
                 : pg_uv_query(u->pg, RESULTS_RETAIN_SQL, 1, params, on_answer, u);
    if (rc == 0) {
        u->querying = true;
        return;
    }
    /* Not connected (yet), or its queue is full: the next turn. */
    if (rc != UV_ENOTCONN)
        log_warn("msg=\"results upkeep not sent, trying again later\" error=%s",
                 log_q(uv_strerror(rc)));
    uv_timer_start(&u->timer, on_timer, rc == UV_ENOTCONN ? UPKEEP_FIRST_MS : UPKEEP_RETRY_MS, 0);
}

upkeep_t *
upkeep_start(uv_loop_t *loop, pg_uv_t *pg, int retention_days) {
    struct upkeep *u = xcalloc(1, sizeof *u);
    u->pg = pg;
    u->retention_days = retention_days;
    uv_timer_init(loop, &u->timer);
    u->timer.data = u;
    uv_timer_start(&u->timer, on_timer, UPKEEP_FIRST_MS, 0);
    return u;
}

static void
on_timer_closed(uv_handle_t *h) {
    struct upkeep *u = h->data;
    u->timer_closed = true;
    maybe_free(u);
}

void
upkeep_close(upkeep_t *u, void (*cb)(void *arg), void *arg) {
    u->closing = true;
    u->close_cb = cb;
    u->close_arg = arg;
    uv_close((uv_handle_t *)&u->timer, on_timer_closed);
}
