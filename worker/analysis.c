#include "worker/analysis.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "worker/extract.h"
#include "worker/fetch.h"
#include "worker/tally.h"

/* The fetch's outcome, copied: the fetch is gone once it has ended, and
 * the counting may still go on in the pool. */
struct fetched {
    struct fetch_result r;
    char *error_code, *error, *final_url, *content_type, *charset, *etag, *last_modified,
        *redirect_url;
};

/* What the loop found besides the fetch's outcome. */
struct verdict {
    bool feed_failed, finish_failed, canceled;
};

struct analysis {
    fetch_t *fetch;     /* NULL once it has ended */
    cpu_pool_t *pool;   /* NULL: count on the loop */
    extract_t *extract; /* from the head on */
    struct tally tally;
    uv_loop_t *loop;
    struct membudget *mem;       /* NULL: no budget */
    struct membudget_acct *acct; /* the caller's, open in mem */
    size_t reserve;              /* the worst case at the size the head gave; 0: none */
    size_t bytes;                /* taken so far */
    bool waited;                 /* the budget paused the download at least once */
    bool wait_for_memory;        /* ended to wait for memory (analysis.h) */
    bool paused;                 /* paused for memory now, since paused_at */
    uint64_t paused_at, waited_ms;
    size_t bytes_at_text; /* bytes taken when text last reached the tally */
    size_t unique;        /* distinct words counted so far */
    /* Between the loop and the counting (in the pool, or inline): */
    struct buf backlog;  /* taken, not handed to the counting yet */
    bool backlog_paused; /* the download waits for the backlog to go down */
    bool working;        /* a piece is being counted (its on_counted not run yet) */
    bool count_rest;     /* the whole body was taken: finish the extraction */
    bool finishing;      /* the finishing step was handed over */
    bool feed_failed;    /* the page cannot be decoded (while feeding) */
    bool finish_failed;  /* ... or at its end */
    bool canceled;       /* analysis_cancel after the fetch had ended */
    bool in_body;        /* inside on_body (the fetch cannot be canceled there) */
    struct cpu_work work;
    /* Touched only by whoever counts, while working: */
    struct buf piece;  /* the bytes being counted */
    size_t piece_end;  /* bytes taken up to the end of piece */
    size_t text_at;    /* bytes taken when text last reached the tally */
    bool piece_failed; /* extract_feed or extract_finish said the charset is wrong */
    bool fetched;      /* the fetch has ended; done holds its outcome */
    struct fetched done;
    analysis_build_cb build; /* may be NULL */
    analysis_done_cb cb;
    void *arg;
};

/* on_text counts the text's words, noting how much of the page has been
 * read as text by then. Runs where the counting runs. */
static void
on_text(const char *text, size_t len, void *arg) {
    struct analysis *a = arg;
    a->text_at = a->piece_end;
    tally_text(text, len, &a->tally);
}

/* count_piece turns the piece into text and counts it; when finishing,
 * the extraction's rest too, and the counts without stop words. On a pool
 * thread (or inline): it touches only the extraction, the tally and the
 * fields marked as the counting's. */
static void result_of(const struct analysis *a, const struct verdict *v,
                      struct analysis_result *out);

static void
count_piece(void *arg) {
    struct analysis *a = arg;
    a->piece_failed = false;
    if (a->piece.len && extract_feed(a->extract, a->piece.data, a->piece.len) < 0) {
        a->piece_failed = true;
        return;
    }
    if (!a->finishing) return;
    if (extract_finish(a->extract) < 0) {
        a->piece_failed = true;
        return;
    }
    tally_finish(&a->tally);
    if (a->build) {
        /* Counted whole. The loop's flags (a cancel meanwhile) are not
         * read here: deliver judges them once the piece is back. */
        static const struct verdict counted = {0};
        struct analysis_result r;
        result_of(a, &counted, &r);
        a->build(&r, a->arg);
    }
}

static char *
dup_or_null(const char *s) {
    return s ? xstrdup(s) : NULL;
}

/* result_of is what the fetch and the counting came to, given v (valid
 * while the analysis is). */
static void
result_of(const struct analysis *a, const struct verdict *v, struct analysis_result *out) {
    const struct fetch_result *fr = &a->done.r;
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
    if (v->feed_failed) {
        /* As fetch_refuse from on_body would have said it. */
        r.status = -1;
        r.error_code = "fetch";
        r.error = "the page cannot be decoded in its charset";
        r.transient = false;
    } else if (fr->status == 0 && v->canceled) {
        r.status = -1;
        r.error_code = "canceled";
        r.error = "the analysis was canceled";
    } else if (fr->status == 0 && fr->not_modified) {
        /* Nothing was read: the counts are the stored ones. */
    } else if (fr->status == 0 && v->finish_failed) {
        r.status = -1;
        r.error_code = "decode";
        r.error = "the page cannot be decoded in its charset";
    } else if (fr->status == 0) {
        r.all = &a->tally.all;
        r.no_stop = &a->tally.no_stop;
    }
    /* The charset the page was read in, else the one its header named. */
    r.charset = a->extract ? extract_charset(a->extract) : NULL;
    if (!r.charset) r.charset = fr->charset ? fr->charset : "utf-8";
    *out = r;
}

/* deliver calls back once with what the fetch and the counting came to,
 * and frees the analysis. */
static void
deliver(struct analysis *a) {
    struct verdict v = {a->feed_failed, a->finish_failed, a->canceled};
    struct analysis_result r;
    result_of(a, &v, &r);
    a->cb(a, &r, a->arg);
    extract_free(a->extract);
    tally_free(&a->tally);
    buf_free(&a->backlog);
    buf_free(&a->piece);
    struct fetched *d = &a->done;
    free(d->error_code);
    free(d->error);
    free(d->final_url);
    free(d->content_type);
    free(d->charset);
    free(d->etag);
    free(d->last_modified);
    free(d->redirect_url);
    free(a);
}

static void on_counted(void *arg);

/* kick hands the next step to the counting when none is under way: the
 * backlog, or at the end the extraction's rest; with nothing left and the
 * fetch over, it delivers (and a is gone). */
static void
kick(struct analysis *a) {
    if (a->working) return;
    bool stop = a->feed_failed || a->canceled;
    if (a->backlog.len > 0 && !stop) {
        /* In the pool, a page still arriving waits for a bigger piece;
         * its last piece takes the finishing step along. */
        if (a->pool && !a->fetched && a->backlog.len < ANALYSIS_PIECE_MIN) return;
        struct buf t = a->piece; /* empty: swap, so neither buffer is reallocated */
        a->piece = a->backlog;
        a->backlog = t;
        a->piece_end = a->bytes;
        if (a->pool && a->fetched && a->count_rest) a->finishing = true;
    } else if (a->fetched && a->count_rest && !a->finishing && !stop) {
        a->finishing = true;
    } else {
        if (a->fetched) deliver(a);
        return;
    }
    a->working = true;
    if (a->pool) {
        cpu_pool_submit(a->pool, &a->work, count_piece, on_counted, a);
    } else {
        count_piece(a);
        on_counted(a);
    }
}

/* on_counted, on the loop: what the counting found becomes the loop's,
 * the download goes on if it waited for the backlog, and the next step
 * starts. */
static void
on_counted(void *arg) {
    struct analysis *a = arg;
    a->working = false;
    a->bytes_at_text = a->text_at;
    a->unique = count_unique(&a->tally.all);
    buf_reset(&a->piece);
    if (a->piece_failed) {
        if (a->finishing) a->finish_failed = true;
        else a->feed_failed = true;
    }
    if (a->feed_failed && a->fetch && !a->in_body) {
        buf_reset(&a->backlog);
        fetch_cancel(a->fetch); /* on_fetched runs, and delivers: a is gone */
        return;
    }
    if (a->backlog_paused && a->fetch && !a->in_body) {
        a->backlog_paused = false;
        fetch_resume(a->fetch); /* may hand the held piece over at once */
    }
    kick(a);
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

/* may_take asks the counting whether it keeps up (the backlog is below
 * ANALYSIS_BACKLOG_MAX), and the budget for what this piece can cost at
 * most: its bytes, and a new distinct word every other byte. */
static bool
may_take(fetch_t *f, size_t len, void *arg) {
    struct analysis *a = arg;
    if (a->feed_failed) {
        fetch_refuse(f, "fetch", "the page cannot be decoded in its charset");
        return false;
    }
    if (a->working && a->backlog.len > 0 && a->backlog.len + len > ANALYSIS_BACKLOG_MAX) {
        /* Not a wait for memory: JOB_TIMEOUT counts this one. */
        if (a->paused) a->waited_ms += uv_now(a->loop) - a->paused_at;
        a->paused = false;
        a->backlog_paused = true; /* on_counted resumes it */
        return false;
    }
    if (!a->mem) return true;
    /* The parser may hold bytes it has not handed on as text yet (a run
     * of text waits for an element boundary, up to 128 KiB), and the
     * backlog is not counted yet: count those, and this piece, as new
     * words at the rate of a page of random words. */
    size_t need =
        membudget_job_estimate(a->bytes + len, a->unique, a->bytes - a->bytes_at_text + len);
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
    buf_append(&a->backlog, data, len);
    a->in_body = true;
    kick(a); /* counts now when inline; the fetch is running, so a stays */
    a->in_body = false;
    if (a->feed_failed)
        return fetch_refuse(f, "fetch", "the page cannot be decoded in its charset");
    return 0;
}

/* on_fetched keeps the fetch's outcome; the counting finishes (or stops,
 * when the fetch failed), then the analysis delivers. */
static void
on_fetched(fetch_t *f, const struct fetch_result *fr, void *arg) {
    struct analysis *a = arg;
    (void)f;
    a->fetch = NULL;
    a->fetched = true;
    struct fetched *d = &a->done;
    d->r = *fr;
    d->r.error_code = d->error_code = dup_or_null(fr->error_code);
    d->r.error = d->error = dup_or_null(fr->error);
    d->r.final_url = d->final_url = dup_or_null(fr->final_url);
    d->r.content_type = d->content_type = dup_or_null(fr->content_type);
    d->r.charset = d->charset = dup_or_null(fr->charset);
    d->r.etag = d->etag = dup_or_null(fr->etag);
    d->r.last_modified = d->last_modified = dup_or_null(fr->last_modified);
    d->r.redirect_url = d->redirect_url = dup_or_null(fr->redirect_url);
    if (fr->status == 0 && !fr->not_modified) a->count_rest = true;
    else buf_reset(&a->backlog); /* failed: what was not counted never will be */
    kick(a);
}

/* Redirects come back to the caller: each hop goes through the gate of
 * its own host (worker/polite.h). */
static const struct fetch_sink sink = {on_head, on_body, on_fetched, may_take, true};

int
analysis_start(curl_uv_t *cu, cpu_pool_t *pool, const struct config *cfg,
               const struct stopwords *sw, struct membudget *mem, struct membudget_acct *acct,
               const char *url, const struct fetch_validators *v, analysis_build_cb build,
               analysis_done_cb cb, void *arg, analysis_t **out) {
    char err[256];
    *out = NULL;
    struct analysis *a = xcalloc(1, sizeof *a);
    a->build = build;
    a->cb = cb;
    a->arg = arg;
    a->pool = pool;
    buf_init(&a->backlog);
    buf_init(&a->piece);
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
    if (a->fetch) fetch_resume(a->fetch);
}

uint64_t
analysis_waited_ms(const analysis_t *a) {
    return a->waited_ms + (a->paused ? uv_now(a->loop) - a->paused_at : 0);
}

void
analysis_cancel(analysis_t *a) {
    if (a->fetch) {
        fetch_cancel(a->fetch); /* on_fetched runs; delivers now unless a piece is counted */
        return;
    }
    /* The fetch is over and its pieces are being counted: the counting
     * stops after the piece under way, then the analysis delivers. */
    a->canceled = true;
}
