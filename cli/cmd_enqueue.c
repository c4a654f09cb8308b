/* cmd_enqueue — `wordcount enqueue FILE`: submits every URL in a file,
 * with up to WINDOW submissions in flight on the one Redis connection
 * (replies come back in order), and progress on stderr. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/opts.h"
#include "cli/urlfile.h"

static const char usage_text[] =
    "usage: wordcount enqueue [--json] FILE\n"
    "\n"
    "Submits the URLs in FILE (- for standard input), one per line, as the web\n"
    "server's POST /api/v1/jobs does. Blank lines and lines starting with # are\n"
    "skipped; a line that is not an http(s) URL is reported and skipped.\n"
    "Prints \"ID URL\" per job (--json: one JSON object per line, then a summary\n"
    "line); progress and rejected lines go to stderr.\n"
    "\n"
    "exit codes: 0 all submitted, 1 some lines rejected, 2 usage, 66 FILE unreadable,\n"
    "69 Redis unavailable (what was submitted stays submitted), 70 unexpected answer,\n"
    "78 bad configuration\n";

enum { WINDOW = 64, PROGRESS_EVERY = 1000 };

struct enqueue {
    struct cli *c;
    bool tty;
    bool progress; /* a reply arrived since the last wait */
    int inflight;
    long submitted, rejected;
    int fatal; /* exit code once Redis failed */
    char err[600];
    uint64_t shown_at;  /* last progress line (ms) */
    long lines[WINDOW]; /* line numbers in flight, in order (a ring) */
    int head;
};

static void
show_progress(struct enqueue *e, bool last) {
    if (e->tty) {
        uint64_t now = uv_now(&e->c->loop);
        if (!last && now - e->shown_at < 100) return;
        e->shown_at = now;
        fprintf(stderr, "\renqueue: %ld submitted, %ld rejected%s", e->submitted, e->rejected,
                last ? "\n" : "");
    } else if (last || (e->submitted + e->rejected) % PROGRESS_EVERY == 0) {
        fprintf(stderr, "enqueue: %ld submitted, %ld rejected\n", e->submitted, e->rejected);
    }
}

static void
on_submitted(int status, const struct job *job, const char *errstr, void *arg) {
    struct enqueue *e = arg;
    long line = e->lines[e->head];
    e->head = (e->head + 1) % WINDOW;
    e->inflight--;
    e->progress = true;
    if (status || !job) {
        if (!e->fatal) {
            e->fatal = cli_status_code(status ? status : UV_EPROTO);
            snprintf(e->err, sizeof e->err, "line %ld: %s", line, errstr ? errstr : "no job");
        }
        return;
    }
    e->submitted++;
    if (e->c->json)
        cli_print_json(
            json_pack("{s:I, s:s, s:s}", "line", (json_int_t)line, "url", job->url, "id", job->id));
    else printf("%s %s\n", job->id, job->url);
    show_progress(e, false);
}

static void
reject(struct enqueue *e, long line, const char *url, const char *why) {
    e->rejected++;
    if (e->c->json)
        cli_print_json(
            json_pack("{s:I, s:s, s:s}", "line", (json_int_t)line, "url", url, "error", why));
    if (e->tty) fputc('\n', stderr);
    fprintf(stderr, "wordcount enqueue: line %ld rejected: %s: %.200s\n", line, why, url);
    show_progress(e, false);
}

int
cmd_enqueue(struct cli *c, int argc, char **argv) {
    struct opts_result o;
    if (opts_parse(argc, argv, NULL, 0, 1, &o) < 0) return cli_usage(c, usage_text, o.error);
    if (o.help) return cli_usage(c, usage_text, NULL);
    c->json = c->json || o.json;
    if (o.npos != 1) return cli_usage(c, usage_text, "give a FILE of URLs (- for standard input)");
    struct urlfile u;
    char err[512];
    if (urlfile_open(&u, o.pos[0], err, sizeof err) < 0)
        return cli_error(c, CLI_NOINPUT, "%s", err);
    int rc = cli_start(c);
    if (!rc) rc = cli_redis(c);
    if (rc) {
        urlfile_close(&u);
        return rc;
    }

    struct enqueue e = {.c = c, .tty = isatty(STDERR_FILENO)};
    bool eof = false;
    while (!e.fatal && (!eof || e.inflight > 0)) {
        while (!eof && !e.fatal && e.inflight < WINDOW) {
            const char *url, *why;
            int r = urlfile_next(&u, &url, &why, err, sizeof err);
            if (r < 0) {
                e.fatal = CLI_NOINPUT;
                snprintf(e.err, sizeof e.err, "%s", err);
            }
            if (r <= 0) {
                eof = true;
                break;
            }
            if (why) {
                reject(&e, u.line, url, why);
                continue;
            }
            e.lines[(e.head + e.inflight) % WINDOW] = u.line;
            int s = queue_submit(&c->queue, url, NULL, on_submitted, &e);
            if (s < 0) {
                e.fatal = cli_status_code(s);
                snprintf(e.err, sizeof e.err, "line %ld: %s", u.line, uv_strerror(s));
                break;
            }
            e.inflight++;
        }
        if (e.inflight == 0) continue;
        e.progress = false;
        if (!cli_wait(c, &e.progress) && !e.fatal) {
            e.fatal = CLI_UNAVAILABLE;
            snprintf(e.err, sizeof e.err, "Redis did not answer");
        }
    }
    /* After a failure, let what is in flight finish (each is answered). */
    while (e.inflight > 0) {
        e.progress = false;
        if (!cli_wait(c, &e.progress)) break;
    }
    urlfile_close(&u);
    show_progress(&e, true);
    if (c->json)
        cli_print_json(json_pack("{s:I, s:I, s:b}", "submitted", (json_int_t)e.submitted,
                                 "rejected", (json_int_t)e.rejected, "complete", !e.fatal));
    if (e.fatal)
        return cli_error(c, e.fatal, "stopped after %ld submitted: %s", e.submitted, e.err);
    return e.rejected ? CLI_NOOP : CLI_OK;
}
