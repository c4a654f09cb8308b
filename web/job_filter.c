/* job_filter.c — a job search's parameters; see job_filter.h. */
#include "web/job_filter.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/job.h"
#include "web/query.h"

static const char *const names[] = {"url",   "host",   "status", "error",
                                    "batch", "cursor", "limit",  "action"};
enum { NAMES = sizeof names / sizeof *names };

/* known returns the index of the parameter name of len bytes, or -1. */
static int
known(const char *name, size_t len, bool bulk) {
    for (int i = 0; i < NAMES; i++)
        if (strlen(names[i]) == len && !memcmp(names[i], name, len))
            return !strcmp(names[i], "action") && !bulk ? -1 : i;
    return -1;
}

/* check_names refuses a parameter that is unknown or given twice. */
static int
check_names(const char *query, bool bulk, char *err, size_t errlen) {
    int seen[NAMES] = {0};
    for (const char *p = query; *p;) {
        size_t len = strcspn(p, "&");
        size_t nlen = strcspn(p, "=&");
        if (len > 0) {
            int i = known(p, nlen, bulk);
            if (i < 0) {
                snprintf(err, errlen,
                         "unknown parameter '%.*s'; the filters are url, host, status, "
                         "error and batch, with cursor and limit%s",
                         (int)(nlen > 64 ? 64 : nlen), p, bulk ? " and action" : "");
                return -1;
            }
            if (seen[i]++) {
                snprintf(err, errlen, "%s is given twice", names[i]);
                return -1;
            }
        }
        p += len;
        if (*p == '&') p++;
    }
    return 0;
}

static void
lower(char *s) {
    for (; *s; s++) *s = (char)tolower((unsigned char)*s);
}

/* take copies parameter name into out (outlen bytes); 1 when present,
 * 0 when absent, -1 (err set) when empty or too long. */
static int
take(const char *query, const char *name, char *out, size_t outlen, char *err, size_t errlen) {
    char *v = query_get(query, strlen(query), name);
    if (!v) return 0;
    int rc = 1;
    if (!*v || strlen(v) >= outlen) {
        snprintf(err, errlen, "%s must be 1 to %zu characters", name, outlen - 1);
        rc = -1;
    } else {
        memcpy(out, v, strlen(v) + 1);
    }
    free(v);
    return rc;
}

/* url_filter reads url= as a page (normalised) or, with a trailing star,
 * a prefix (scheme and host lower-cased). */
static int
url_filter(struct job_filter *o, char *err, size_t errlen) {
    size_t n = strlen(o->prefix);
    if (o->prefix[n - 1] == '*') {
        o->prefix[n - 1] = '\0';
        if (n == 1) {
            snprintf(err, errlen, "url=* is no filter; leave url out to match every URL");
            return -1;
        }
        char *p = strstr(o->prefix, "://");
        char *end = p ? p + 3 + strcspn(p + 3, "/?#") : o->prefix + strlen(o->prefix);
        char keep = *end;
        *end = '\0';
        lower(o->prefix);
        *end = keep;
        o->f.url_prefix = o->prefix;
        return 0;
    }
    char why[256];
    if (url_norm(o->prefix, o->url_key, sizeof o->url_key, why, sizeof why) < 0) {
        snprintf(err, errlen, "url: %s (end it with * to search by prefix)", why);
        return -1;
    }
    o->prefix[0] = '\0';
    o->f.url_key = o->url_key;
    return 0;
}

static bool
all_of(const char *s, const char *set) {
    return strspn(s, set) == strlen(s);
}

int
job_filter_parse(const char *query, bool bulk, long limit_default, long limit_max,
                 struct job_filter *o, char *err, size_t errlen) {
    memset(&o->f, 0, sizeof o->f);
    o->cursor = NULL;
    o->limit = limit_default;
    o->action = JOB_FILTER_NONE;
    o->url_key[0] = o->prefix[0] = o->host[0] = o->status[0] = o->error[0] = o->batch[0] = '\0';
    if (check_names(query, bulk, err, errlen) < 0) return -1;
    int rc;
    if ((rc = take(query, "url", o->prefix, sizeof o->prefix, err, errlen)) < 0) return -1;
    if (rc && url_filter(o, err, errlen) < 0) return -1;
    if ((rc = take(query, "host", o->host, sizeof o->host, err, errlen)) < 0) return -1;
    if (rc) {
        lower(o->host);
        bool v6 = o->host[0] == '[' && o->host[strlen(o->host) - 1] == ']';
        if (!(v6 ? all_of(o->host, "[]:.0123456789abcdef")
                 : all_of(o->host, "abcdefghijklmnopqrstuvwxyz0123456789.-_"))) {
            snprintf(err, errlen, "host must be a host name or address without a port");
            return -1;
        }
        o->f.host = o->host;
    }
    if ((rc = take(query, "status", o->status, sizeof o->status, err, errlen)) < 0) return -1;
    enum job_state st;
    if (rc && job_state_parse(o->status, &st) < 0) {
        snprintf(err, errlen,
                 "status must be one of queued, started, retrying, waiting, "
                 "finished, failed, canceled");
        return -1;
    }
    if (rc) o->f.status = o->status;
    if ((rc = take(query, "error", o->error, sizeof o->error, err, errlen)) < 0) return -1;
    if (rc && !all_of(o->error, "abcdefghijklmnopqrstuvwxyz0123456789_")) {
        snprintf(err, errlen, "error must be an error code: lower-case letters, digits and _");
        return -1;
    }
    if (rc) o->f.error = o->error;
    if ((rc = take(query, "batch", o->batch, sizeof o->batch, err, errlen)) < 0) return -1;
    if (rc && !job_id_valid(o->batch)) {
        snprintf(err, errlen, "batch must be a batch id");
        return -1;
    }
    if (rc) {
        lower(o->batch);
        o->f.batch = o->batch;
    }
    if ((rc = take(query, "cursor", o->cursor_buf, sizeof o->cursor_buf, err, errlen)) < 0)
        return -1;
    if (rc && !job_search_cursor_ok(&o->f, o->cursor_buf)) {
        snprintf(err, errlen, "cursor must be the next_cursor of a previous page of this search");
        return -1;
    }
    if (rc) o->cursor = o->cursor_buf;
    if (query_long(query, "limit", 1, limit_max, &o->limit) < 0) {
        snprintf(err, errlen, "limit must be a whole number from 1 to %ld", limit_max);
        return -1;
    }
    if (!bulk) return 0;
    char action[16] = "";
    if ((rc = take(query, "action", action, sizeof action, err, errlen)) <= 0) {
        if (rc == 0) snprintf(err, errlen, "action is required: retry, cancel or delete");
        return -1;
    }
    static const struct {
        const char *name;
        enum job_filter_action action;
    } actions[] = {
        {"retry", JOB_FILTER_RETRY}, {"cancel", JOB_FILTER_CANCEL}, {"delete", JOB_FILTER_DELETE}};
    for (size_t i = 0; i < sizeof actions / sizeof *actions; i++)
        if (!strcmp(action, actions[i].name)) o->action = actions[i].action;
    if (o->action == JOB_FILTER_NONE) {
        snprintf(err, errlen, "action must be retry, cancel or delete");
        return -1;
    }
    return 0;
}
