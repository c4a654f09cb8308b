#include "worker/analysis.h"

#include <stdlib.h>
#include <uv.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "worker/extract.h"
#include "worker/fetch.h"
#include "worker/tally.h"

struct analysis {
    fetch_t *fetch;
    extract_t *extract; /* from the head on */
    struct tally tally;
    uv_loop_t *loop;
    struct membudget *mem;       /* NULL: no budget */
    struct membudget_acct *acct; /* the caller's, open in mem */
    size_t reserve;              /* the worst case at the size the head gave; 0: none */
    size_t bytes;                /* taken so far */
    bool waited;                 /* the budget paused the download at least once */
    bool wait_for_memory;        /* ended to wait for memory (analysis.h) */
    bool paused;                 /* paused now, since paused_at */
    uint64_t paused_at, waited_ms;
    size_t bytes_at_text; /* bytes taken when text last reached the tally */
    analysis_done_cb cb;
    void *arg;
};

/* on_text counts the text's words, noting how much of the page has been
 * read as text by then. */
static void
on_text(const char *text, size_t len, void *arg) {
    struct analysis *a = arg;
    a->bytes_at_text = a->bytes;
    tally_text(text, len, &a->tally);
}

/* on_head picks the extractor of the page's content type. */
static int
on_head(fetch_t *f, const struct fetch_head *head, void *arg) {
    struct analysis *a = arg;
    const struct extract_type *type = extract_find(head->content_type);
    if (!type)
        return fetch_refuse(f, "unsupported_type", "content type %s is not HTML or plain text",
                            head->content_type);
    a->extract = extract_open(type, head->charset, on_text, a);
    if (!a->extract) return fetch_refuse(f, "fetch", "cannot start the text extractor");
    /* The size is known: ask for the worst case at once, so a job that
     * must wait does so before it holds anything. */
    if (head->size >= 0)
        a->reserve =
            membudget_estimate((size_t)head->size, (size_t)head->size / MEMBUDGET_WORD_BYTES);
    return 0;
}

/* may_take asks the budget for what this piece can cost at most: its
 * bytes, and a new distinct word every other byte. */
static bool
may_take(fetch_t *f, size_t len, void *arg) {
    struct analysis *a = arg;
    if (!a->mem) return true;
    /* The parser may hold bytes it has not handed on as text yet (libxml2
     * keeps a text run until the next tag): count those, and this piece,
     * as new words at the rate of a page of random words. */
    size_t need = membudget_job_estimate(a->bytes + len, count_unique(&a->tally.all),
                                         a->bytes - a->bytes_at_text + len);
    if (need < a->reserve) need = a->reserve;
    if (membudget_grow(a->mem, a->acct, need) == 0) {
        if (a->paused) a->waited_ms += uv_now(a->loop) - a->paused_at;
        a->paused = false;
        return true;
    }
    if (a->bytes == 0) {
        /* Nothing taken yet: wait without a connection (analysis.h). */
        log_info("msg=\"memory budget full, waiting before the download\" need_kb=%zu "
                 "used_kb=%zu limit_kb=%zu",
                 need / 1024, a->mem->used / 1024, a->mem->limit / 1024);
        a->wait_for_memory = true;
        fetch_refuse(f, "memory_wait", "waiting for memory before the download");
        return false;
    }
    if (!a->waited) /* once per job: a full budget pauses many pieces */
        log_info("msg=\"memory budget full, download paused\" bytes=%zu need_kb=%zu used_kb=%zu "
                 "limit_kb=%zu",
                 a->bytes, need / 1024, a->mem->used / 1024, a->mem->limit / 1024);
    a->waited = true;
    if (!a->paused) a->paused_at = uv_now(a->loop);
    a->paused = true;
    return false;
}

static int
on_body(fetch_t *f, const char *data, size_t len, void *arg) {
    struct analysis *a = arg;
    a->bytes += len;
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
                                .not_modified = fr->not_modified,
                                .redirect_url = fr->redirect_url};
    r.wait_for_memory = a->wait_for_memory && fr->status < 0;
    if (r.wait_for_memory) r.transient = true;
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

/* Redirects come back to the caller: each hop goes through the gate of
 * its own host (worker/polite.h). */
static const struct fetch_sink sink = {on_head, on_body, on_fetched, may_take, true};

int
analysis_start(curl_uv_t *cu, const struct config *cfg, const struct stopwords *sw,
               struct membudget *mem, struct membudget_acct *acct, const char *url,
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
    a->loop = curl_uv_loop(cu);
    a->mem = acct ? mem : NULL;
    a->acct = acct;
    *out = a;
    return 0;
}

void
analysis_resume(analysis_t *a) {
    fetch_resume(a->fetch);
}

uint64_t
analysis_waited_ms(const analysis_t *a) {
    return a->waited_ms + (a->paused ? uv_now(a->loop) - a->paused_at : 0);
}

void
analysis_cancel(analysis_t *a) {
    fetch_cancel(a->fetch); /* on_fetched runs and frees a */
}
