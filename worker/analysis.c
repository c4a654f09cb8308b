#include "worker/analysis.h"

#include <stdlib.h>

#include "common/xalloc.h"
#include "worker/extract.h"
#include "worker/fetch.h"
#include "worker/tally.h"

struct analysis {
    fetch_t *fetch;
    extract_t *extract; /* from the head on */
    struct tally tally;
    analysis_done_cb cb;
    void *arg;
};

/* on_head picks the extractor of the page's content type. */
static int
on_head(fetch_t *f, const struct fetch_head *head, void *arg) {
    struct analysis *a = arg;
    const struct extract_type *type = extract_find(head->content_type);
    if (!type)
        return fetch_refuse(f, "unsupported_type", "content type %s is not HTML or plain text",
                            head->content_type);
    a->extract = extract_open(type, head->charset, tally_text, &a->tally);
    if (!a->extract) return fetch_refuse(f, "fetch", "cannot start the text extractor");
    return 0;
}

static int
on_body(fetch_t *f, const char *data, size_t len, void *arg) {
    struct analysis *a = arg;
    if (extract_feed(a->extract, data, len) < 0)
        return fetch_refuse(f, "fetch", "the page cannot be decoded in its charset");
    return 0;
}

/* on_fetched ends the extraction and the counts, calls back once, and
 * frees the analysis. */
static void
on_fetched(fetch_t *f, const struct fetch_result *fr, void *arg) {
    struct analysis *a = arg;
    (void)f;
    struct analysis_result r = {.status = fr->status,
                                .error_code = fr->error_code,
                                .error = fr->error,
                                .transient = fr->transient,
                                .http_status = fr->http_status,
                                .final_url = fr->final_url,
                                .content_type = fr->content_type,
                                .bytes = fr->bytes,
                                .fetch_ms = fr->fetch_ms,
                                .retry_after_ms = fr->retry_after_ms,
                                .etag = fr->etag,
                                .last_modified = fr->last_modified,
                                .not_modified = fr->not_modified};
    if (fr->status == 0 && fr->not_modified) {
        /* Nothing was read: the counts are the stored ones. */
    } else if (fr->status == 0 && extract_finish(a->extract) < 0) {
        r.status = -1;
        r.error_code = "decode";
        r.error = "the page cannot be decoded in its charset";
    } else if (fr->status == 0) {
        tally_finish(&a->tally);
        r.all = &a->tally.all;
        r.no_stop = &a->tally.no_stop;
    }
    /* The charset the page was read in, else the one its header named. */
    r.charset = a->extract ? extract_charset(a->extract) : NULL;
    if (!r.charset) r.charset = fr->charset ? fr->charset : "utf-8";
    a->cb(a, &r, a->arg);
    extract_free(a->extract);
    tally_free(&a->tally);
    free(a);
}

static const struct fetch_sink sink = {on_head, on_body, on_fetched};

int
analysis_start(curl_uv_t *cu, const struct config *cfg, const struct stopwords *sw, const char *url,
               const struct fetch_validators *v, analysis_done_cb cb, void *arg, analysis_t **out) {
    char err[256];
    *out = NULL;
    struct analysis *a = xcalloc(1, sizeof *a);
    a->cb = cb;
    a->arg = arg;
    if (tally_init(&a->tally, sw, err, sizeof err) < 0) {
        free(a);
        return UV_ENOMEM;
    }
    int rc = fetch_start(cu, cfg, url, v, &sink, a, &a->fetch);
    if (rc < 0) {
        tally_free(&a->tally);
        free(a);
        return rc;
    }
    *out = a;
    return 0;
}

void
analysis_cancel(analysis_t *a) {
    fetch_cancel(a->fetch); /* on_fetched runs and frees a */
}
