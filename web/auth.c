#include "web/auth.h"

#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "web/app.h"
#include "web/req.h"

bool
auth_same_secret(const char *given, const char *want) {
    size_t gl = strlen(given), wl = strlen(want);
    unsigned char diff = gl != wl;
    for (size_t i = 0; i < wl; i++) diff |= (unsigned char)(want[i] ^ given[i < gl ? i : 0]);
    return diff == 0;
}

static bool
set(const char *token) {
    return token && *token;
}

/* bearer returns the request's bearer token, or NULL. */
static const char *
bearer(struct req *req) {
    const char *auth = http_request_header(req->http, "Authorization");
    if (!auth || strncasecmp(auth, "Bearer ", 7)) return NULL;
    return auth + 7;
}

/* check lets the request through when it carries one of the tokens (NULL
 * or empty ones are not offered), else answers 401. */
static bool
check(struct req *req, const char *realm, const char *want, const char *const *tokens,
      int ntokens) {
    const char *given = bearer(req);
    bool ok = false;
    for (int i = 0; i < ntokens; i++)
        if (given && set(tokens[i]) && auth_same_secret(given, tokens[i])) ok = true;
    if (ok) return true;
    log_warn("msg=\"request refused\" path=%s realm=%s reason=%s", log_q(req->http->path), realm,
             given ? "wrong_token" : "no_token");
    char detail[96];
    snprintf(detail, sizeof detail, "send Authorization: Bearer <%s>", want);
    struct response r;
    response_init(&r, 401);
    response_header(&r, "WWW-Authenticate", "Bearer realm=\"%s\"", realm);
    response_problem(&r, 401, "Unauthorized", detail);
    req_send(req, &r);
    return false;
}

bool
auth_admin(struct req *req) {
    const struct config *cfg = req->app->cfg;
    if (!set(cfg->admin_token)) {
        if (cfg->app_env == APP_DEVELOPMENT) return true;
        req_problem(req, 403, "Forbidden",
                    "the admin API is disabled: set ADMIN_TOKEN to enable it");
        return false;
    }
    const char *tokens[] = {cfg->admin_token};
    return check(req, "wordcount-admin", "ADMIN_TOKEN", tokens, 1);
}

bool
auth_stats(struct req *req) {
    const struct config *cfg = req->app->cfg;
    if (cfg->stats_public) return true;
    if (!set(cfg->admin_token) && !set(cfg->metrics_token)) {
        req_problem(req, 403, "Forbidden",
                    "the statistics are private here: set METRICS_TOKEN or ADMIN_TOKEN to read "
                    "them with a token, or STATS_PUBLIC=1 to open them");
        return false;
    }
    const char *tokens[] = {cfg->metrics_token, cfg->admin_token};
    return check(req, "wordcount-metrics", "METRICS_TOKEN or ADMIN_TOKEN", tokens, 2);
}
