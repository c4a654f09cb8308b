#include "worker/analyze.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/url_check.h"
#include "common/xalloc.h"
#include "worker/charset.h"
#include "worker/fetch.h"
#include "worker/html_text.h"
#include "worker/tokenize.h"

/* Plain text is tokenized in pieces that end at whitespace, so a word is
 * never cut in two between network chunks. */
#define PLAIN_FLUSH_AT 32768

enum body_kind { BODY_UNKNOWN, BODY_HTML, BODY_PLAIN };

struct analysis {
    curl_uv_t *cu;
    const struct config *cfg;
    const struct stopwords *sw;
    analysis_done_cb cb;
    void *arg;
    CURL *easy;
    char errbuf[CURL_ERROR_SIZE];
    enum body_kind kind;
    html_text_t *html;
    struct charset_conv plain_conv; /* text/plain: page charset to UTF-8 */
    struct buf plain;
    struct tokenizer tok;
    struct count_table all, no_stop;
    size_t bytes;
    long http_status;
    bool blocked;
    char blocked_addr[INET6_ADDRSTRLEN + 16];
    /* why the write callback stopped the transfer, if it did */
    char stop_code[48];
    char stop_msg[256];
    char content_type[128];
    char charset[64];
};

static void
on_word(const char *word, size_t len, void *arg) {
    struct analysis *a = arg;
    count_add(&a->all, word, len);
}

static bool
not_stop_word(const char *word, size_t len, void *arg) {
    return !stopwords_contains(arg, word, len);
}

static void
on_text(const char *text, size_t len, void *arg) {
    struct analysis *a = arg;
    tokenize_text(&a->tok, text, len, on_word, a);
}

static void
plain_flush(struct analysis *a, bool all) {
    size_t cut = a->plain.len;
    if (!all) {
        while (cut > 0 && !strchr(" \t\r\n", a->plain.data[cut - 1])) cut--;
        if (cut == 0) return; /* one long word so far: wait for more */
    }
    on_text(a->plain.data, cut, a);
    memmove(a->plain.data, a->plain.data + cut, a->plain.len - cut);
    a->plain.len -= cut;
}

/* parse_content_type splits "text/html; charset=UTF-8" into lower-case
 * type and charset. */
static void
parse_content_type(struct analysis *a, const char *ct) {
    size_t n = strcspn(ct, ";");
    while (n > 0 && ct[n - 1] == ' ') n--;
    snprintf(a->content_type, sizeof a->content_type, "%.*s", (int)n, ct);
    for (char *p = a->content_type; *p; p++) *p = (char)tolower((unsigned char)*p);
    const char *cs = strcasestr(ct, "charset=");
    if (cs) {
        cs += 8;
        if (*cs == '"') cs++;
        size_t m = strcspn(cs, "\"; ");
        snprintf(a->charset, sizeof a->charset, "%.*s", (int)m, cs);
    }
}

/* type_accepted reads the response's Content-Type (none: HTML, as
 * browsers sniff it) and tells whether it is one we count. */
static bool
type_accepted(struct analysis *a) {
    const char *ct = NULL;
    curl_easy_getinfo(a->easy, CURLINFO_CONTENT_TYPE, &ct);
    parse_content_type(a, ct ? ct : "text/html");
    return !strcmp(a->content_type, "text/html") ||
           !strcmp(a->content_type, "application/xhtml+xml") ||
           !strcmp(a->content_type, "text/plain");
}

static size_t
stop(struct analysis *a, const char *code, const char *msg) {
    snprintf(a->stop_code, sizeof a->stop_code, "%s", code);
    snprintf(a->stop_msg, sizeof a->stop_msg, "%s", msg);
    return 0; /* makes curl fail the transfer with CURLE_WRITE_ERROR */
}

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg) {
    struct analysis *a = arg;
    size_t len = size * nmemb;
    if (a->kind == BODY_UNKNOWN) {
        curl_easy_getinfo(a->easy, CURLINFO_RESPONSE_CODE, &a->http_status);
        if (a->http_status < 200 || a->http_status >= 300) {
            char msg[96];
            snprintf(msg, sizeof msg, "the server answered HTTP %ld", a->http_status);
            char code[32];
            snprintf(code, sizeof code, "http_%ld", a->http_status);
            return stop(a, code, msg);
        }
        if (!type_accepted(a)) {
            char msg[200];
            snprintf(msg, sizeof msg, "content type %s is not HTML or plain text", a->content_type);
            return stop(a, "unsupported_type", msg);
        }
        if (strcmp(a->content_type, "text/plain") != 0) {
            a->kind = BODY_HTML;
            a->html = html_text_new(a->charset[0] ? a->charset : NULL, on_text, a);
            if (!a->html) return stop(a, "fetch", "cannot start the HTML parser");
        } else {
            a->kind = BODY_PLAIN;
            char name[CHARSET_NAME_MAX], err[128];
            size_t bom;
            const char *from =
                charset_sniff(data, len, a->charset[0] ? a->charset : NULL, name, &bom);
            if (!strcmp(from, "meta")) /* plain text has no <meta>: what looks like one is text */
                snprintf(name, sizeof name, "utf-8");
            if (charset_conv_open(&a->plain_conv, name, err, sizeof err) < 0)
                return stop(a, "fetch", err);
            snprintf(a->charset, sizeof a->charset, "%s", name);
            data += bom; /* not counted against FETCH_MAX_BYTES either */
            len -= bom;
        }
    }
    /* FETCH_MAX_BYTES counts decoded bytes, so a compressed bomb stops too. */
    if (a->bytes + len > a->cfg->fetch_max_bytes) {
        char msg[128];
        snprintf(msg, sizeof msg, "the page is larger than FETCH_MAX_BYTES (%zu bytes)",
                 a->cfg->fetch_max_bytes);
        return stop(a, "too_large", msg);
    }
    a->bytes += len;
    int rc = a->kind == BODY_HTML ? html_text_feed(a->html, data, len)
                                  : charset_conv_feed(&a->plain_conv, data, len, false, &a->plain);
    if (rc < 0) return stop(a, "fetch", "the page cannot be decoded in its charset");
    if (a->kind == BODY_PLAIN && a->plain.len >= PLAIN_FLUSH_AT) plain_flush(a, false);
    return size * nmemb;
}

static curl_socket_t
on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *addr) {
    struct analysis *a = arg;
    (void)purpose;
    if (!fetch_addr_allowed(a->cfg, &addr->addr)) {
        a->blocked = true;
        const void *ip = addr->family == AF_INET6
                             ? (const void *)&((const struct sockaddr_in6 *)&addr->addr)->sin6_addr
                             : (const void *)&((const struct sockaddr_in *)&addr->addr)->sin_addr;
        if (!inet_ntop(addr->family, ip, a->blocked_addr, sizeof a->blocked_addr))
            snprintf(a->blocked_addr, sizeof a->blocked_addr, "(family %d)", addr->family);
        return CURL_SOCKET_BAD;
    }
    /* Another address of the name may be refused before or after this
     * one; the error then is this connection's, not blocked_address. */
    a->blocked = false;
    return socket(addr->family, addr->socktype, addr->protocol);
}

static void
analysis_free(struct analysis *a) {
    if (a->easy) curl_easy_cleanup(a->easy);
    html_text_free(a->html);
    charset_conv_close(&a->plain_conv);
    buf_free(&a->plain);
    tokenizer_free(&a->tok);
    count_free(&a->all);
    count_free(&a->no_stop);
    free(a);
}

/* finish builds the result, calls back once, and frees the analysis. */
static void
finish(struct analysis *a, CURLcode rc, bool canceled) {
    struct analysis_result r = {.content_type = a->content_type[0] ? a->content_type : NULL,
                                .charset = a->charset[0] ? a->charset : "utf-8",
                                .bytes = a->bytes};
    char msg[CURL_ERROR_SIZE + 64];
    char *final_url = NULL;
    double total = 0;
    curl_easy_getinfo(a->easy, CURLINFO_EFFECTIVE_URL, &final_url);
    curl_easy_getinfo(a->easy, CURLINFO_TOTAL_TIME, &total);
    curl_easy_getinfo(a->easy, CURLINFO_RESPONSE_CODE, &a->http_status);
    r.final_url = final_url;
    r.fetch_ms = (int)(total * 1000);
    r.http_status = a->http_status;
    r.status = -1;
    if (canceled) {
        r.error_code = "canceled";
        r.error = "the fetch was canceled";
    } else if (a->stop_code[0]) {
        r.error_code = a->stop_code;
        r.error = a->stop_msg;
        r.transient = a->http_status == 429 || a->http_status >= 500;
    } else if (rc == CURLE_OK && (a->http_status < 200 || a->http_status >= 300)) {
        snprintf(a->stop_code, sizeof a->stop_code, "http_%ld", a->http_status);
        snprintf(msg, sizeof msg, "the server answered HTTP %ld", a->http_status);
        r.error_code = a->stop_code;
        r.error = msg;
        r.transient = a->http_status == 429 || a->http_status >= 500;
    } else if (rc != CURLE_OK) {
        snprintf(msg, sizeof msg, "%s", a->errbuf[0] ? a->errbuf : curl_easy_strerror(rc));
        r.error = msg;
        r.transient = true;
        if (a->blocked) {
            snprintf(msg, sizeof msg,
                     "the address %s is private, loopback or reserved (FETCH_ALLOW_PRIVATE is off)",
                     a->blocked_addr);
            r.error_code = "blocked_address";
            r.transient = false;
        } else if (rc == CURLE_OPERATION_TIMEDOUT) r.error_code = "timeout";
        else if (rc == CURLE_COULDNT_RESOLVE_HOST) r.error_code = "dns";
        else if (rc == CURLE_COULDNT_CONNECT) r.error_code = "connect";
        else if (rc == CURLE_TOO_MANY_REDIRECTS)
            r.error_code = "too_many_redirects", r.transient = false;
        else if (rc == CURLE_UNSUPPORTED_PROTOCOL) {
            /* The URL was checked before: a redirect led elsewhere. */
            r.error_code = "bad_redirect";
            r.transient = false;
        } else if (rc == CURLE_FILESIZE_EXCEEDED) {
            snprintf(msg, sizeof msg, "the page is larger than FETCH_MAX_BYTES (%zu bytes)",
                     a->cfg->fetch_max_bytes);
            r.error_code = "too_large";
            r.transient = false;
        } else if (rc == CURLE_BAD_CONTENT_ENCODING) {
            r.error_code = "bad_encoding";
            r.transient = false;
        } else r.error_code = "fetch";
    } else if (a->kind == BODY_UNKNOWN && !type_accepted(a)) {
        /* An empty body never reached on_body: judge its type here. */
        snprintf(msg, sizeof msg, "content type %s is not HTML or plain text", a->content_type);
        r.content_type = a->content_type;
        r.error_code = "unsupported_type";
        r.error = msg;
    } else {
        int rc2 = 0;
        if (a->kind == BODY_HTML) {
            rc2 = html_text_finish(a->html);
            if (html_text_charset(a->html))
                snprintf(a->charset, sizeof a->charset, "%s", html_text_charset(a->html));
        } else if (a->kind == BODY_PLAIN) {
            rc2 = charset_conv_feed(&a->plain_conv, "", 0, true, &a->plain);
            plain_flush(a, true);
        }
        if (rc2 < 0) {
            r.error_code = "decode";
            r.error = "the page cannot be decoded in its charset";
        } else {
            /* Without stop words: one lookup per distinct word. */
            count_filter(&a->no_stop, &a->all, not_stop_word, (void *)a->sw);
            r.status = 0;
            r.all = &a->all;
            r.no_stop = &a->no_stop;
            if (!r.content_type) r.content_type = "text/html";
            r.charset = a->charset[0] ? a->charset : "utf-8";
        }
    }
    a->cb(a, &r, a->arg);
    analysis_free(a);
}

static void
on_done(CURL *easy, CURLcode rc, void *arg) {
    (void)easy;
    finish(arg, rc, false);
}

int
analysis_start(curl_uv_t *cu, const struct config *cfg, const struct stopwords *sw, const char *url,
               analysis_done_cb cb, void *arg, analysis_t **out) {
    char err[256];
    *out = NULL;
    if (url_check(url, err, sizeof err) < 0) return UV_EINVAL;
    struct analysis *a = xcalloc(1, sizeof *a);
    a->cu = cu;
    a->cfg = cfg;
    a->sw = sw;
    a->cb = cb;
    a->arg = arg;
    buf_init(&a->plain);
    count_init(&a->all);
    count_init(&a->no_stop);
    if (tokenizer_init(&a->tok, err, sizeof err) < 0 || !(a->easy = curl_easy_init())) {
        analysis_free(a);
        return UV_ENOMEM;
    }
    CURL *e = a->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)cfg->fetch_max_redirects);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->fetch_connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)cfg->fetch_timeout_ms);
    /* Every encoding this libcurl decodes (gzip, deflate, br, zstd on
     * Debian). FETCH_MAX_BYTES counts decoded bytes, so a small
     * compressed body that inflates without end stops at the limit; a
     * Content-Length above the limit fails before any body is read. */
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cfg->fetch_max_bytes);
    curl_easy_setopt(e, CURLOPT_USERAGENT, cfg->fetch_user_agent);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, a->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, a);
    int rc = curl_uv_add(cu, e, on_done, a);
    if (rc < 0) {
        analysis_free(a);
        return rc;
    }
    *out = a;
    return 0;
}

void
analysis_cancel(analysis_t *a) {
    curl_uv_remove(a->cu, a->easy);
    finish(a, CURLE_ABORTED_BY_CALLBACK, true);
}
