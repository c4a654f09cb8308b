/* h_health — liveness (/healthz: the process answers) and readiness
 * (/readyz: Redis, at least one shard of it, and Postgres are connected,
 * else 503 so a load balancer sends traffic elsewhere). */
#include <stdbool.h>
#include <stdio.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/log.h"
#include "web/app.h"
#include "web/handlers.h"

void
h_healthz(struct req *req) {
    req_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

void
h_readyz(struct req *req) {
    struct app *a = req->app;
    /* With several shards, one down makes only its own jobs wait
     * (submissions to it answer 503): the process stays ready while any
     * shard is up, and says which are down. */
    int up = 0, n = a->redis ? app_shards(a) : 0;
    json_t *shards = json_array();
    for (int i = 0; i < n; i++) {
        bool ok = redis_uv_connected(a->redis_of[i]);
        up += ok;
        json_array_append_new(shards, json_string(ok ? "up" : "down"));
    }
    bool redis = up > 0;
    bool pg = a->pg && pg_uv_connected(a->pg);
    int status = redis && pg ? 200 : 503;
    json_t *v =
        json_pack("{s:s, s:s, s:s}", "status", status == 200 ? "ready" : "not ready", "redis",
                  up == n && n > 0 ? "up"
                  : up             ? "degraded"
                                   : "down",
                  "postgres", pg ? "up" : "down");
    if (n > 1) json_object_set_new(v, "redis_shards", shards);
    else json_decref(shards);
    /* A replica that is down does not make the process unready: its reads
     * go to the primary meanwhile (web/pg_read.h). */
    if (a->pg_read)
        json_object_set_new(v, "postgres_read",
                            json_string(pg_uv_connected(a->pg_read) ? "up" : "down"));
    req_json(req, status, v);
}

/* h_openapi serves web/openapi.json, read once per process and kept. */
void
h_openapi(struct req *req) {
    static char *doc;
    static size_t len;
    if (!doc) {
        FILE *f = fopen(req->app->cfg->openapi_file, "rb");
        struct buf b;
        buf_init(&b);
        char chunk[8192];
        size_t n;
        while (f && (n = fread(chunk, 1, sizeof chunk, f)) > 0) buf_append(&b, chunk, n);
        bool ok = f && !ferror(f) && b.len > 0;
        if (f) fclose(f);
        if (!ok) {
            buf_free(&b);
            log_error("msg=\"cannot read the OpenAPI document\" file=%s",
                      log_q(req->app->cfg->openapi_file));
            req_problem(req, 500, "Internal Server Error", "the OpenAPI document is missing");
            return;
        }
        len = b.len;
        doc = buf_steal(&b);
    }
    struct response r;
    response_init(&r, 200);
    response_header(&r, "Content-Type", "application/json");
    buf_append(&r.body, doc, len);
    req_send(req, &r);
}
