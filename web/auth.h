/* auth — who may call the operator routes: bearer tokens checked in one
 * place.
 *
 *   admin (the failed set, web/h_admin.c): "Authorization: Bearer
 *     $ADMIN_TOKEN". Without an ADMIN_TOKEN, open in development and
 *     refused (403) elsewhere.
 *   statistics (GET /api/v1/stats, GET /metrics): open when STATS_PUBLIC
 *     is on (the default in development and testing); otherwise the
 *     ADMIN_TOKEN or the read-only METRICS_TOKEN (what a Prometheus
 *     scrape config sends), and 403 when neither is set.
 *
 * A missing or wrong token gets 401 with WWW-Authenticate and one warn
 * line (no token in it). Tokens are compared in constant time.
 *
 * Owns nothing. Each auth_* function returns true when the request may
 * go on, or answers it (401/403, so req is gone) and returns false. */
#ifndef WC_AUTH_H
#define WC_AUTH_H

#include <stdbool.h>

#include "web/conn.h"

/* auth_admin lets admin requests through. */
bool auth_admin(struct req *req);
/* auth_stats lets statistics requests through. */
bool auth_stats(struct req *req);
/* auth_same_secret compares given with want without stopping at the
 * first difference, so the time taken says nothing about the match. */
bool auth_same_secret(const char *given, const char *want);

#endif
