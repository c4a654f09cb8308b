/* fetch — the fetch stage: one GET under the fetch policy, on a curl_uv
 * loop, its body handed to a sink as it arrives.
 *
 * The policy: only http and https, for redirects too; at most
 * FETCH_MAX_REDIRECTS (curl follows them, unless the sink takes them:
 * see stop_at_redirects); FETCH_CONNECT_TIMEOUT and FETCH_TIMEOUT; every
 * encoding this libcurl decodes, with FETCH_MAX_BYTES counted on the
 * decoded bytes (a Content-Length above it fails before the body); the
 * User-Agent FETCH_USER_AGENT; no proxy; and the address check when each
 * socket opens (first connection, redirects, every address of a name).
 *
 * fetch_addr_allowed is that check, by the address's class
 * (common/addr_class.h):
 *   public                  always
 *   loopback, private       when FETCH_ALLOW_PRIVATE is on (the default in
 *                           development only)
 *   link-local, reserved    never (169.254.169.254, the cloud metadata
 *                           service, is link-local)
 * and FETCH_ALLOW_ADDRESSES lets the addresses it lists through whatever
 * their class.
 *
 * Conditional GET: given the validators of the page's last stored result
 * (struct fetch_validators), the request carries If-None-Match and
 * If-Modified-Since; a 304 then ends the fetch with status 0 and
 * not_modified set (no head, no body reach the sink). Each answer's ETag
 * and Last-Modified come back in the result, for the next time.
 *
 * Redirects the caller follows (sink->stop_at_redirects): a 3xx (other
 * than a conditional GET's 304) with a Location ends the fetch with
 * error_code "redirect" and redirect_url, the Location resolved against
 * the URL fetched (curl's URL API). A Location that is not an http(s)
 * URL wordcount fetches fails "bad_redirect", one naming an address
 * literal the address policy refuses "blocked_address" (a name is
 * checked when it resolves, on the next hop's connection). The caller
 * counts hops and fails "too_many_redirects" beyond FETCH_MAX_REDIRECTS.
 * A 3xx without a Location fails http_<status>, as any other answer
 * outside 2xx.
 *
 * The sink: on_head runs once, before the first byte of a 2xx answer's
 * body (or at the end when the body is empty), with the media type;
 * on_body gets the decoded body bytes. Either may stop the fetch by
 * returning fetch_refuse(f, code, ...), which records the error the
 * result carries. on_done runs exactly once.
 *
 * Life cycle: fetch_start returns 0 and later calls on_done exactly once
 * (success, failure, or fetch_cancel), or returns a negative UV_* error
 * and calls nothing. The result and the strings it points to are valid
 * only during on_done; the fetch frees itself (the easy handle with it,
 * and once its timer has closed, the rest) after on_done returns: the
 * loop must run on for that. */
#ifndef WC_FETCH_H
#define WC_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/config.h"
#include "worker/curl_uv.h"

typedef struct fetch fetch_t;

struct fetch_head {
    const char *content_type; /* media type, lower case, no parameters; text/html when none */
    const char *charset;      /* the Content-Type's charset parameter, or NULL */
    long long size;           /* the body's decoded size from Content-Length; -1 when not known (no
                       length, or a Content-Encoding) */
};

struct fetch_result {
    int status;             /* 0 = the whole body reached the sink; < 0 = failed */
    const char *error_code; /* when failed: "http_404", "timeout", "blocked_address", ... */
    const char *error;      /* when failed: a message for people */
    bool transient;         /* failed, but worth retrying (timeouts, 5xx, 429, connect) */
    long http_status;
    const char *final_url;    /* after redirects */
    const char *content_type; /* as in fetch_head; NULL when no head was read */
    const char *charset;      /* as in fetch_head */
    size_t bytes;             /* body bytes received (decoded) */
    int fetch_ms;
    /* The answer's Retry-After (seconds or an HTTP date) in ms from now,
     * -1 when it sent none (or 0). */
    int64_t retry_after_ms;
    /* The answer's Cache-Control max-age in ms, -1 when none. */
    int64_t max_age_ms;
    const char *etag;          /* the answer's ETag, or NULL */
    const char *last_modified; /* the answer's Last-Modified, or NULL */
    bool not_modified;         /* a 304 to a conditional GET: nothing was read */
    /* A redirect not followed (stop_at_redirects): the absolute URL of
     * the next hop (status < 0, error_code "redirect"); NULL otherwise. */
    const char *redirect_url;
};

/* The validators a conditional GET sends back (either may be NULL);
 * copied by fetch_start. */
struct fetch_validators {
    const char *etag;
    const char *last_modified;
};

/* The longest validator kept (a longer one is not sent nor stored). */
#define FETCH_VALIDATOR_MAX 256

typedef int (*fetch_head_cb)(fetch_t *f, const struct fetch_head *head, void *arg);
typedef int (*fetch_body_cb)(fetch_t *f, const char *data, size_t len, void *arg);
typedef void (*fetch_done_cb)(fetch_t *f, const struct fetch_result *r, void *arg);

/* may_take, before each piece of body (len bytes) goes to on_body: true
 * to take it now, false to pause the download until fetch_resume (the
 * piece then comes again), or false after fetch_refuse to end it. */
typedef bool (*fetch_take_cb)(fetch_t *f, size_t len, void *arg);

struct fetch_sink {
    fetch_head_cb on_head; /* return 0 to take the body */
    fetch_body_cb on_body; /* return 0 to go on */
    fetch_done_cb on_done;
    fetch_take_cb may_take; /* optional */
    /* true: a redirect ends the fetch (redirect_url) for the caller to
     * follow, hop by hop; false: curl follows it within this fetch. */
    bool stop_at_redirects;
};

/* fetch_start fetches url (checked with url_check first: UV_EINVAL when
 * it is not one we fetch), conditionally when v (may be NULL) has a
 * validator. sink must outlive the fetch. */
int fetch_start(curl_uv_t *cu, const struct config *cfg, const char *url,
                const struct fetch_validators *v, const struct fetch_sink *sink, void *arg,
                fetch_t **out);
/* fetch_resume goes on with a download that may_take paused (curl may
 * hand the held piece over at once, from inside this call). The time a
 * download spends paused does not count against FETCH_TIMEOUT: the fetch
 * keeps its own clock (a timer stopped while paused), not curl's. */
void fetch_resume(fetch_t *f);
/* fetch_cancel stops a running fetch; on_done runs now, with error code
 * "canceled". */
void fetch_cancel(fetch_t *f);
/* fetch_refuse, called from on_head, on_body or may_take, stops the transfer with
 * that error (not retried unless the HTTP status was 429 or 5xx) and
 * returns -1 for the callback to return. */
int fetch_refuse(fetch_t *f, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* fetch_addr_allowed tells whether cfg lets the worker connect to sa. */
bool fetch_addr_allowed(const struct config *cfg, const struct sockaddr *sa);

#endif
