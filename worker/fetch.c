#include "worker/fetch.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr_class.h"
#include "common/addr_policy.h"
#include "common/url_check.h"
#include "common/xalloc.h"

struct fetch {
    curl_uv_t *cu;
    const struct config *cfg;
    const struct fetch_sink *sink;
    void *arg;
    CURL *easy;
    uv_timer_t timer;  /* FETCH_TIMEOUT, stopped while paused */
    uint64_t deadline; /* uv_now at which the fetch times out, while the timer runs */
    uint64_t left_ms;  /* time left, while paused */
    bool timed_out;
    char errbuf[CURL_ERROR_SIZE];
    bool head_taken; /* on_head ran and took the body */
    bool paused;     /* may_take said wait: the download is paused */
    size_t bytes;
    long http_status;
    /* the last address refused at socket open, if the last one was */
    bool blocked;
    enum addr_class blocked_class;
    char blocked_addr[INET6_ADDRSTRLEN + 16];
    /* why a callback stopped the transfer, if one did */
    char stop_code[48];
    char stop_msg[256];
    char content_type[128];
    char charset[64];
    struct curl_slist *conditions; /* If-None-Match, If-Modified-Since, or NULL */
    bool not_modified;
    char etag[FETCH_VALIDATOR_MAX + 1];
    char last_modified[FETCH_VALIDATOR_MAX + 1];
    char *redirect; /* the next hop's URL (stop_at_redirects), or NULL */
};

bool
fetch_addr_allowed(const struct config *cfg, const struct sockaddr *sa) {
    return addr_policy_allowed(cfg, sa);
}

int
fetch_refuse(fetch_t *f, const char *code, const char *fmt, ...) {
    snprintf(f->stop_code, sizeof f->stop_code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->stop_msg, sizeof f->stop_msg, fmt, ap);
    va_end(ap);
    return -1;
}

/* parse_content_type splits "text/html; charset=UTF-8" into lower-case
 * type and charset. */
static void
parse_content_type(struct fetch *f, const char *ct) {
    size_t n = strcspn(ct, ";");
    while (n > 0 && ct[n - 1] == ' ') n--;
    snprintf(f->content_type, sizeof f->content_type, "%.*s", (int)n, ct);
    for (char *p = f->content_type; *p; p++) *p = (char)tolower((unsigned char)*p);
    const char *cs = strcasestr(ct, "charset=");
    if (cs) {
        cs += 8;
        if (*cs == '"') cs++;
        size_t m = strcspn(cs, "\"; ");
        snprintf(f->charset, sizeof f->charset, "%.*s", (int)m, cs);
    }
}

/* take_redirect resolves a redirect's Location against the URL fetched
 * and checks it as a URL to fetch: 1 with f->redirect set (the
 * transfer then stops), 0 when there is no Location (the answer is a
 * plain 3xx), or -1 after fetch_refuse (bad_redirect, blocked_address). */
static int
take_redirect(struct fetch *f) {
    struct curl_header *loc = NULL;
    char *here = NULL, *next = NULL, err[256];
    if (curl_easy_header(f->easy, "Location", 0, CURLH_HEADER, -1, &loc) != CURLHE_OK ||
        !loc->value[0])
        return 0;
    curl_easy_getinfo(f->easy, CURLINFO_EFFECTIVE_URL, &here);
    CURLU *u = curl_url();
    int rc = -1;
    /* As curl resolves a Location it follows: relative to the URL
     * fetched, spaces and other bytes a URL may not hold encoded. */
    if (!u || !here || curl_url_set(u, CURLUPART_URL, here, 0) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_URL, loc->value, CURLU_URLENCODE | CURLU_ALLOW_SPACE) !=
            CURLUE_OK ||
        curl_url_get(u, CURLUPART_URL, &next, 0) != CURLUE_OK) {
        fetch_refuse(f, "bad_redirect", "the server redirected to %.200s, which is not a URL",
                     loc->value);
    } else if (url_check(next, err, sizeof err) < 0) {
        fetch_refuse(f, "bad_redirect", "the server redirected to %.200s: %s", next, err);
    } else if (addr_policy_url(f->cfg, next, err, sizeof err) < 0) {
        /* Before any hop reaches the gate (and asks that host for its
         * robots.txt); worded as the check at connect time is. */
        fetch_refuse(f, "blocked_address", "the server redirected to %.200s: %s%s", next, err,
                     strstr(err, "FETCH_ALLOW_PRIVATE")
                         ? ""
                         : " (only FETCH_ALLOW_ADDRESSES can let such an address through)");
    } else {
        f->redirect = xstrdup(next);
        fetch_refuse(f, "redirect", "the server redirected to %.200s", next);
        rc = 1;
    }
    curl_free(next);
    curl_url_cleanup(u);
    return rc;
}

/* take_head checks the answer's status and hands its media type (none:
 * HTML, as browsers sniff it) to the sink. Returns 0 when the sink takes
 * the body. */
static int
take_head(struct fetch *f) {
    curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &f->http_status);
    if (f->http_status == 304 && f->conditions) {
        f->not_modified = true; /* the page we have is current */
        return 0;
    }
    if (f->sink->stop_at_redirects && f->http_status >= 300 && f->http_status < 400 &&
        take_redirect(f) != 0)
        return -1;
    if (f->http_status < 200 || f->http_status >= 300) {
        char code[32];
        snprintf(code, sizeof code, "http_%ld", f->http_status);
        return fetch_refuse(f, code, "the server answered HTTP %ld", f->http_status);
    }
    const char *ct = NULL;
    curl_easy_getinfo(f->easy, CURLINFO_CONTENT_TYPE, &ct);
    parse_content_type(f, ct ? ct : "text/html");
    struct fetch_head head = {
        .content_type = f->content_type, .charset = f->charset[0] ? f->charset : NULL, .size = -1};
    /* An encoded body's length says nothing of its decoded size. */
    curl_off_t len = -1;
    struct curl_header *enc = NULL;
    if (curl_easy_getinfo(f->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len) == CURLE_OK &&
        len >= 0 &&
        curl_easy_header(f->easy, "Content-Encoding", 0, CURLH_HEADER, -1, &enc) != CURLHE_OK)
        head.size = (long long)len;
    if (f->sink->on_head(f, &head, f->arg) < 0) return -1;
    f->head_taken = true;
    return 0;
}

static size_t
on_write(char *data, size_t size, size_t nmemb, void *arg) {
    struct fetch *f = arg;
    size_t len = size * nmemb;
    if (!f->head_taken && take_head(f) < 0) return 0; /* curl fails with CURLE_WRITE_ERROR */
    /* FETCH_MAX_BYTES counts decoded bytes, so a compressed bomb stops too. */
    if (f->bytes + len > f->cfg->fetch_max_bytes) {
        fetch_refuse(f, "too_large", "the page is larger than FETCH_MAX_BYTES (%zu bytes)",
                     f->cfg->fetch_max_bytes);
        return 0;
    }
    if (f->sink->may_take && !f->sink->may_take(f, len, f->arg)) {
        if (f->stop_code[0]) return 0; /* refused (fetch_refuse): the transfer ends */
        f->paused = true;
        /* The wait is not the site's: its clock stops. */
        uint64_t now = uv_now(curl_uv_loop(f->cu));
        f->left_ms = f->deadline > now ? f->deadline - now : 1;
        uv_timer_stop(&f->timer);
        return CURL_WRITEFUNC_PAUSE; /* the same bytes come again after fetch_resume */
    }
    f->bytes += len;
    if (f->sink->on_body(f, data, len, f->arg) < 0) return 0;
    return len;
}

static curl_socket_t
on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *addr) {
    struct fetch *f = arg;
    (void)purpose;
    if (!fetch_addr_allowed(f->cfg, &addr->addr)) {
        f->blocked = true;
        f->blocked_class = addr_class(&addr->addr);
        const void *ip = addr->family == AF_INET6
                             ? (const void *)&((const struct sockaddr_in6 *)&addr->addr)->sin6_addr
                             : (const void *)&((const struct sockaddr_in *)&addr->addr)->sin_addr;
        if (!inet_ntop(addr->family, ip, f->blocked_addr, sizeof f->blocked_addr))
            snprintf(f->blocked_addr, sizeof f->blocked_addr, "(family %d)", addr->family);
        return CURL_SOCKET_BAD;
    }
    /* Another address of the name may be refused before or after this
     * one; the error then is this connection's, not blocked_address. */
    f->blocked = false;
    return curl_uv_open_socket(f->cu, addr);
}

/* blocked_message says why the address was refused and what lets it through. */
static void
blocked_message(const struct fetch *f, char *msg, size_t n) {
    if (f->blocked_class == ADDR_LOOPBACK || f->blocked_class == ADDR_PRIVATE)
        snprintf(msg, n, "the address %s is %s (FETCH_ALLOW_PRIVATE is off)", f->blocked_addr,
                 addr_class_name(f->blocked_class));
    else
        snprintf(msg, n,
                 "the address %s is %s (only FETCH_ALLOW_ADDRESSES can let such an address "
                 "through)",
                 f->blocked_addr, addr_class_name(f->blocked_class));
}

/* transfer_error names a failed transfer's error: code, message and
 * whether it is worth retrying. */
static void
transfer_error(struct fetch *f, CURLcode rc, struct fetch_result *r, char *msg, size_t n) {
    snprintf(msg, n, "%s", f->errbuf[0] ? f->errbuf : curl_easy_strerror(rc));
    r->error = msg;
    r->transient = true;
    if (f->blocked) {
        blocked_message(f, msg, n);
        r->error_code = "blocked_address";
        r->transient = false;
    } else if (f->timed_out) {
        snprintf(msg, n,
                 "the fetch took longer than FETCH_TIMEOUT (%d ms, waits for memory not "
                 "counted)",
                 f->cfg->fetch_timeout_ms);
        r->error_code = "timeout";
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        r->error_code = "timeout";
    } else if (rc == CURLE_COULDNT_RESOLVE_HOST) {
        r->error_code = "dns";
    } else if (rc == CURLE_COULDNT_CONNECT) {
        r->error_code = "connect";
    } else if (rc == CURLE_TOO_MANY_REDIRECTS) {
        r->error_code = "too_many_redirects";
        r->transient = false;
    } else if (rc == CURLE_UNSUPPORTED_PROTOCOL) {
        /* The URL was checked before: a redirect led elsewhere. */
        r->error_code = "bad_redirect";
        r->transient = false;
    } else if (rc == CURLE_FILESIZE_EXCEEDED) {
        snprintf(msg, n, "the page is larger than FETCH_MAX_BYTES (%zu bytes)",
                 f->cfg->fetch_max_bytes);
        r->error_code = "too_large";
        r->transient = false;
    } else if (rc == CURLE_BAD_CONTENT_ENCODING) {
        r->error_code = "bad_encoding";
        r->transient = false;
    } else {
        r->error_code = "fetch";
    }
}

/* max_age_ms reads the last answer's Cache-Control max-age (ms), or -1. */
static int64_t
max_age_ms(CURL *easy) {
    struct curl_header *h = NULL;
    if (curl_easy_header(easy, "Cache-Control", 0, CURLH_HEADER, -1, &h) != CURLHE_OK) return -1;
    const char *m = strcasestr(h->value, "max-age=");
    if (!m) return -1;
    char *end;
    long long s = strtoll(m + 8, &end, 10);
    if (end == m + 8 || s < 0) return -1;
    return s > 365LL * 86400 ? 365LL * 86400 * 1000 : s * 1000;
}

static void
on_timer_closed(uv_handle_t *h) {
    struct fetch *f = h->data;
    free(f->redirect);
    free(f);
}

/* validator copies the last answer's header name into out ("" when it
 * sent none, or one too long to be sent back). */
static const char *
validator(CURL *easy, const char *name, char *out, size_t n) {
    struct curl_header *h = NULL;
    out[0] = '\0';
    if (curl_easy_header(easy, name, 0, CURLH_HEADER, -1, &h) == CURLHE_OK && strlen(h->value) < n)
        memcpy(out, h->value, strlen(h->value) + 1);
    return out[0] ? out : NULL;
}

/* finish builds the result, calls back once, and frees the fetch. */
static void
finish(struct fetch *f, CURLcode rc, bool canceled) {
    uv_timer_stop(&f->timer);
    struct fetch_result r = {.status = -1, .bytes = f->bytes, .retry_after_ms = -1};
    curl_off_t retry_after = 0;
    if (curl_easy_getinfo(f->easy, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK &&
        retry_after > 0)
        r.retry_after_ms = (int64_t)retry_after * 1000;
    r.max_age_ms = max_age_ms(f->easy);
    r.etag = validator(f->easy, "ETag", f->etag, sizeof f->etag);
    r.last_modified =
        validator(f->easy, "Last-Modified", f->last_modified, sizeof f->last_modified);
    char msg[CURL_ERROR_SIZE + 128];
    char *final_url = NULL;
    double total = 0;
    curl_easy_getinfo(f->easy, CURLINFO_EFFECTIVE_URL, &final_url);
    curl_easy_getinfo(f->easy, CURLINFO_TOTAL_TIME, &total);
    curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &f->http_status);
    r.final_url = final_url;
    r.fetch_ms = (int)(total * 1000);
    r.http_status = f->http_status;
    /* An empty body never reached on_write: its head is judged here. */
    if (!canceled && rc == CURLE_OK && !f->head_taken) take_head(f);
    if (canceled) {
        r.error_code = "canceled";
        r.error = "the fetch was canceled";
    } else if (f->stop_code[0]) {
        r.error_code = f->stop_code;
        r.error = f->stop_msg;
        r.transient = f->http_status == 429 || f->http_status >= 500;
        r.redirect_url = f->redirect;
    } else if (rc != CURLE_OK) {
        transfer_error(f, rc, &r, msg, sizeof msg);
    } else {
        r.status = 0;
        r.not_modified = f->not_modified;
    }
    if (f->content_type[0]) {
        r.content_type = f->content_type;
        r.charset = f->charset[0] ? f->charset : NULL;
    }
    f->sink->on_done(f, &r, f->arg);
    curl_easy_cleanup(f->easy);
    curl_slist_free_all(f->conditions); /* curl is done with them */
    f->conditions = NULL;
    f->easy = NULL;
    uv_close((uv_handle_t *)&f->timer, on_timer_closed);
}

/* on_fetch_timeout: FETCH_TIMEOUT of transfer time is over. */
static void
on_fetch_timeout(uv_timer_t *timer) {
    struct fetch *f = timer->data;
    f->timed_out = true;
    curl_uv_remove(f->cu, f->easy);
    finish(f, CURLE_OPERATION_TIMEDOUT, false);
}

static void
start_clock(struct fetch *f, uint64_t ms) {
    f->deadline = uv_now(curl_uv_loop(f->cu)) + ms;
    uv_timer_start(&f->timer, on_fetch_timeout, ms, 0);
}

static void
on_transfer_done(CURL *easy, CURLcode rc, void *arg) {
    (void)easy;
    finish(arg, rc, false);
}

/* add_condition appends "name: value" to *list when value is usable (no
 * line breaks, at most FETCH_VALIDATOR_MAX bytes). */
static void
add_condition(struct curl_slist **list, const char *name, const char *value) {
    if (!value || !*value || strlen(value) > FETCH_VALIDATOR_MAX || strpbrk(value, "\r\n")) return;
    char line[FETCH_VALIDATOR_MAX + 32];
    snprintf(line, sizeof line, "%s: %s", name, value);
    struct curl_slist *l = curl_slist_append(*list, line);
    if (l) *list = l;
}

int
fetch_start(curl_uv_t *cu, const struct config *cfg, const char *url,
            const struct fetch_validators *v, const struct fetch_sink *sink, void *arg,
            fetch_t **out) {
    char err[256];
    *out = NULL;
    if (url_check(url, err, sizeof err) < 0) return UV_EINVAL;
    CURL *e = curl_easy_init();
    if (!e) return UV_ENOMEM;
    struct fetch *f = xcalloc(1, sizeof *f);
    f->cu = cu;
    f->cfg = cfg;
    f->sink = sink;
    f->arg = arg;
    f->easy = e;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, sink->stop_at_redirects ? 0L : 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)cfg->fetch_max_redirects);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->fetch_connect_timeout_ms);
    /* FETCH_TIMEOUT is the fetch's own timer (start_clock), not curl's
     * CURLOPT_TIMEOUT_MS: curl's would count the time paused too. */
    /* Every encoding this libcurl decodes (gzip, deflate, br, zstd on
     * Debian). FETCH_MAX_BYTES counts decoded bytes, so a small
     * compressed body that inflates without end stops at the limit; a
     * Content-Length above the limit fails before any body is read. */
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cfg->fetch_max_bytes);
    curl_easy_setopt(e, CURLOPT_USERAGENT, cfg->fetch_user_agent);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, f->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, f);
    if (v) {
        add_condition(&f->conditions, "If-None-Match", v->etag);
        add_condition(&f->conditions, "If-Modified-Since", v->last_modified);
        if (f->conditions) curl_easy_setopt(e, CURLOPT_HTTPHEADER, f->conditions);
    }
    int rc = curl_uv_add(cu, e, on_transfer_done, f);
    if (rc < 0) {
        curl_easy_cleanup(e);
        curl_slist_free_all(f->conditions);
        free(f);
        return rc;
    }
    uv_timer_init(curl_uv_loop(cu), &f->timer);
    f->timer.data = f;
    start_clock(f, (uint64_t)cfg->fetch_timeout_ms);
    *out = f;
    return 0;
}

void
fetch_resume(fetch_t *f) {
    if (!f->paused) return;
    f->paused = false;
    start_clock(f, f->left_ms);
    curl_easy_pause(f->easy, CURLPAUSE_CONT);
}

void
fetch_cancel(fetch_t *f) {
    curl_uv_remove(f->cu, f->easy);
    finish(f, CURLE_ABORTED_BY_CALLBACK, true);
}
