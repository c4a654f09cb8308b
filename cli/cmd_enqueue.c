/* cmd_enqueue — `wordcount enqueue FILE`: the URLs of a file as one batch
 * (common/batch.h: the same rules as POST /api/v1/batches), then its
 * progress until every job has ended. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/opts.h"
#include "cli/urlfile.h"
#include "common/batch.h"
#include "common/clock.h"
#include "common/shards.h"
#include "common/url_norm.h"
#include "common/xalloc.h"

static const char usage_text[] =
    "usage: wordcount enqueue [--json] [--no-wait] FILE\n"
    "\n"
    "Submits the URLs in FILE (- for standard input), one per line, as one batch\n"
    "(as POST /api/v1/batches does, each line fetched afresh: a page on several\n"
    "lines is one job), then shows the batch's progress until every job has ended\n"
    "(--no-wait: returns once it is created). Blank lines and lines starting with #\n"
    "are skipped; a line that is not an http(s) URL is reported and kept in the\n"
    "batch as an invalid line. At most 10000 lines.\n"
    "Prints \"ID URL\" per line (--json: one JSON object per line, then a summary\n"
    "line); progress and rejected lines go to stderr.\n"
    "\n"
    "exit codes: 0 all submitted, 1 some lines rejected, 2 usage (or too many lines),\n"
    "66 FILE unreadable, 69 Redis unavailable, 70 unexpected answer, 78 bad configuration\n";

/* How often the progress is read while waiting. */
enum { POLL_MS = 500 };

struct enqueue {
    struct cli *c;
    bool tty;
    bool done; /* the call answered */
    int status;
    char err[600];
    char batch[JOB_ID_LEN + 1];
    struct batch_created made;
    char **ids; /* per line, the job answering it (NULL invalid) */
    struct batch_status st;
    bool known;
};

/* lines: what the file holds, kept for the batch and the report. */
struct lines {
    struct batch_line *v;
    long *lineno;
    size_t n, cap;
};

static void
lines_add(struct lines *l, const char *url, const char *key, const char *reason, long lineno) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = xrealloc(l->v, l->cap * sizeof *l->v);
        l->lineno = xrealloc(l->lineno, l->cap * sizeof *l->lineno);
    }
    l->v[l->n] = (struct batch_line){.url = xstrdup(url),
                                     .url_key = key ? xstrdup(key) : NULL,
                                     .reason = reason ? xstrdup(reason) : NULL};
    l->lineno[l->n++] = lineno;
}

static void
lines_free(struct lines *l) {
    for (size_t i = 0; i < l->n; i++) {
        free((char *)l->v[i].url);
        free((char *)l->v[i].url_key);
        free((char *)l->v[i].reason);
    }
    free(l->v);
    free(l->lineno);
}

static void
on_created(int status, const struct batch_created *b, const char *errstr, void *arg) {
    struct enqueue *e = arg;
    e->done = true;
    e->status = status;
    if (status < 0) {
        snprintf(e->err, sizeof e->err, "%s", errstr ? errstr : "batch not created");
        return;
    }
    e->made = *b;
    e->made.job_ids = NULL;
    snprintf(e->batch, sizeof e->batch, "%s", b->id);
    e->ids = xcalloc((size_t)b->total, sizeof *e->ids);
    for (long i = 0; i < b->total; i++) e->ids[i] = b->job_ids[i] ? xstrdup(b->job_ids[i]) : NULL;
}

static void
on_status(int status, const struct batch_status *s, const char *errstr, void *arg) {
    struct enqueue *e = arg;
    e->done = true;
    e->status = status;
    e->known = s != NULL;
    if (status < 0) snprintf(e->err, sizeof e->err, "%s", errstr ? errstr : "no answer");
    else if (s) e->st = *s;
}

static void
show_progress(struct enqueue *e, bool last) {
    const struct batch_status *s = &e->st;
    char eta[32] = "";
    if (!last && s->done > 0 && s->done < s->jobs) {
        /* The pace so far, as GET /api/v1/batches/{id}'s eta_seconds. */
        int64_t from = s->started_at_ms ? s->started_at_ms : s->created_at_ms;
        double per_job = (double)(clock_now_ms() - from) / (double)s->done;
        snprintf(eta, sizeof eta, ", about %.0f s left",
                 per_job * (double)(s->jobs - s->done) / 1000.0 + 0.5);
    }
    fprintf(stderr,
            "%senqueue: batch %s: %ld/%ld done (%ld finished, %ld failed, %ld canceled)%s%s",
            e->tty && !last ? "\r" : "", e->batch, s->done, s->jobs, s->counts[JOB_FINISHED],
            s->counts[JOB_FAILED], s->counts[JOB_CANCELED], eta, e->tty && !last ? "" : "\n");
}

/* wait_done reads the batch's status until every job has ended. */
static int
wait_done(struct enqueue *e) {
    long shown = -1;
    for (;;) {
        e->done = false;
        int rc = batch_status(&e->c->queue, e->batch, on_status, e);
        if (rc < 0) return cli_error(e->c, cli_status_code(rc), "%s", uv_strerror(rc));
        if (!cli_wait(e->c, &e->done))
            return cli_error(e->c, CLI_UNAVAILABLE, "Redis did not answer");
        if (e->status < 0) return cli_error(e->c, cli_status_code(e->status), "%s", e->err);
        if (!e->known) return cli_error(e->c, CLI_SOFTWARE, "batch %s is gone", e->batch);
        bool ended = e->st.done >= e->st.jobs;
        if (ended || e->tty || e->st.done != shown) show_progress(e, ended);
        shown = e->st.done;
        if (ended) return CLI_OK;
        usleep(POLL_MS * 1000);
    }
}

/* read_file collects FILE's lines; CLI_OK or an exit code (reported). */
static int
read_file(struct cli *c, const char *path, struct lines *l, long *rejected) {
    struct urlfile u;
    char err[512], key[URL_NORM_MAX + 1], why[256];
    if (urlfile_open(&u, path, err, sizeof err) < 0) return cli_error(c, CLI_NOINPUT, "%s", err);
    int rc = CLI_OK;
    for (;;) {
        const char *url, *reject;
        int r = urlfile_next(&u, &url, &reject, err, sizeof err);
        if (r < 0) rc = cli_error(c, CLI_NOINPUT, "%s", err);
        if (r <= 0) break;
        if (l->n == BATCH_MAX_LINES) {
            rc = cli_error(c, CLI_USAGE, "more than %d URLs: a batch takes at most %d; split %s",
                           BATCH_MAX_LINES, BATCH_MAX_LINES, path);
            break;
        }
        if (!reject && url_norm(url, key, sizeof key, why, sizeof why) < 0) reject = why;
        if (reject) {
            (*rejected)++;
            if (c->json)
                cli_print_json(json_pack("{s:I, s:s, s:s}", "line", (json_int_t)u.line, "url", url,
                                         "error", reject));
            fprintf(stderr, "wordcount enqueue: line %ld rejected: %s: %.200s\n", u.line, reject,
                    url);
        }
        lines_add(l, url, reject ? NULL : key, reject, u.line);
    }
    urlfile_close(&u);
    return rc;
}

int
cmd_enqueue(struct cli *c, int argc, char **argv) {
    struct opt table[] = {{"--no-wait", false, false, NULL}};
    struct opts_result o;
    if (opts_parse(argc, argv, table, 1, 1, &o) < 0) return cli_usage(c, usage_text, o.error);
    if (o.help) return cli_usage(c, usage_text, NULL);
    c->json = c->json || o.json;
    if (o.npos != 1) return cli_usage(c, usage_text, "give a FILE of URLs (- for standard input)");
    bool wait = !table[0].seen;
    struct lines l = {0};
    long rejected = 0;
    int rc = read_file(c, o.pos[0], &l, &rejected);
    if (!rc && l.n > (size_t)rejected) rc = cli_start(c);
    /* A batch and its jobs go to one shard, drawn (common/shards.h). */
    if (!rc && l.n > (size_t)rejected) c->shard = shards_draw(c->cfg->redis_shards);
    if (!rc && l.n > (size_t)rejected) rc = cli_redis(c);
    struct enqueue e = {.c = c, .tty = isatty(STDERR_FILENO)};
    if (!rc && l.n > (size_t)rejected) {
        /* As before batches: every line a new fetch (a CLI run is a
         * deliberate refresh), one job per page. */
        struct batch_new b = {.lines = l.v, .n = l.n, .fresh = true};
        rc = batch_create(&c->queue, &b, on_created, &e);
        if (rc < 0) rc = cli_error(c, cli_status_code(rc), "%s", uv_strerror(rc));
        else if (!cli_wait(c, &e.done)) rc = cli_error(c, CLI_UNAVAILABLE, "Redis did not answer");
        else if (e.status < 0) rc = cli_error(c, cli_status_code(e.status), "%s", e.err);
        else rc = CLI_OK;
    }
    long submitted = 0;
    for (size_t i = 0; !rc && e.ids && i < l.n; i++) {
        if (!e.ids[i]) continue;
        submitted++;
        if (c->json)
            cli_print_json(json_pack("{s:I, s:s, s:s, s:s}", "line", (json_int_t)l.lineno[i], "url",
                                     l.v[i].url, "id", e.ids[i], "batch", e.batch));
        else printf("%s %s\n", e.ids[i], l.v[i].url);
    }
    if (!rc) {
        fprintf(stderr, "enqueue: %ld submitted, %ld rejected%s%s\n", submitted, rejected,
                e.batch[0] ? ", batch " : "", e.batch);
        fflush(stdout);
    }
    if (!rc && e.batch[0] && wait) rc = wait_done(&e);
    if (c->json && (rc == CLI_OK || e.batch[0])) {
        json_t *v = json_pack("{s:I, s:I, s:b}", "submitted", (json_int_t)submitted, "rejected",
                              (json_int_t)rejected, "complete", rc == CLI_OK);
        if (e.batch[0]) json_object_set_new(v, "batch", json_string(e.batch));
        if (e.known)
            json_object_set_new(v, "jobs",
                                json_pack("{s:I, s:I, s:I, s:I}", "done", (json_int_t)e.st.done,
                                          "finished", (json_int_t)e.st.counts[JOB_FINISHED],
                                          "failed", (json_int_t)e.st.counts[JOB_FAILED], "canceled",
                                          (json_int_t)e.st.counts[JOB_CANCELED]));
        cli_print_json(v);
    }
    for (size_t i = 0; e.ids && i < l.n; i++) free(e.ids[i]);
    free(e.ids);
    lines_free(&l);
    if (rc) return rc;
    return rejected ? CLI_NOOP : CLI_OK;
}
