/* h_health — liveness (/healthz: the process answers) and readiness
 * (/readyz: Redis and Postgres are connected, else 503 so a load balancer
 * sends traffic elsewhere). */
#include <stdbool.h>

#include "common/json.h"
#include "web/app.h"
#include "web/handlers.h"

void
h_healthz(struct req *req) {
    struct response r;
    response_init(&r, 200);
    json_t *v = json_pack("{s:s}", "status", "ok");
    response_json(&r, 200, v);
    json_decref(v);
    req_send(req, &r);
}

void
h_readyz(struct req *req) {
    struct app *a = req->app;
    bool redis = a->redis && redis_uv_connected(a->redis);
    bool pg = a->pg && pg_uv_connected(a->pg);
    int status = redis && pg ? 200 : 503;
    struct response r;
    response_init(&r, status);
    json_t *v = json_pack("{s:s, s:s, s:s}", "status", status == 200 ? "ready" : "not ready",
                          "redis", redis ? "up" : "down", "postgres", pg ? "up" : "down");
    response_json(&r, status, v);
    json_decref(v);
    req_send(req, &r);
}
