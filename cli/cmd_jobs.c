/* cmd_jobs — the commands that change jobs: `requeue`, `cancel` and
 * `purge`. Each state change goes through common/queue.h (one Lua script
 * per change, as the web server and the workers do); only purging
 * finished jobs, which nothing else does, has its own small script. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/lua_scripts.h"
#include "cli/opts.h"

/* --- waiting on queue callbacks --- */

struct wait_job {
    bool done;
    int status;
    char err[256];
    bool found;
    enum job_state state;
    long long value;
    char state_name[16];
};

static void
on_done(int status, long long value, const char *errstr, void *arg) {
    struct wait_job *w = arg;
    w->status = status;
    w->value = value;
    if (status) snprintf(w->err, sizeof w->err, "%s", errstr ? errstr : "");
    w->done = true;
}

static void
on_job(int status, const struct job *job, const char *errstr, void *arg) {
    struct wait_job *w = arg;
    w->status = status;
    if (status) snprintf(w->err, sizeof w->err, "%s", errstr ? errstr : "");
    w->found = job != NULL;
    if (job) w->state = job->state;
    w->done = true;
}

static void
on_cancel(int status, const char *state, const char *errstr, void *arg) {
    struct wait_job *w = arg;
    w->status = status;
    if (status) snprintf(w->err, sizeof w->err, "%s", errstr ? errstr : "");
    w->found = state != NULL;
    if (state) snprintf(w->state_name, sizeof w->state_name, "%s", state);
    w->done = true;
}

/* finish waits for a queue call started with result rc; CLI_OK or an
 * exit code (reported). */
static int
finish(struct cli *c, struct wait_job *w, int rc, const char *what) {
    if (rc < 0) return cli_error(c, cli_status_code(rc), "%s: %s", what, uv_strerror(rc));
    if (!cli_wait(c, &w->done))
        return cli_error(c, CLI_UNAVAILABLE, "%s: Redis did not answer", what);
    if (w->status) return cli_error(c, cli_status_code(w->status), "%s: %s", what, w->err);
    return CLI_OK;
}

/* explain looks a job up after an operation did not apply, to say why. */
static int
explain(struct cli *c, const char *id, const char *wanted, json_t *out) {
    struct wait_job w = {0};
    int rc = finish(c, &w, queue_get(&c->queue, id, on_job, &w), "get");
    if (rc) {
        json_decref(out);
        return rc;
    }
    json_object_set_new(out, "status",
                        w.found ? json_string(job_state_name(w.state)) : json_null());
    if (c->json) cli_print_json(out);
    else json_decref(out);
    if (!w.found)
        return cli_error(c, CLI_NOTFOUND, "no job %s (unknown, or its state has expired)", id);
    return cli_error(c, CLI_NOOP, "job %s is %s, not %s", id, job_state_name(w.state), wanted);
}

/* --- requeue --- */

static const char requeue_usage[] =
    "usage: wordcount requeue [--json] ID\n"
    "       wordcount requeue [--json] --all-failed\n"
    "\n"
    "Puts a failed job (or every failed job) back in the queue with a fresh\n"
    "attempt count. Jobs in any other state are left alone. --all-failed takes the\n"
    "jobs failed when it starts, each once (one that fails again meanwhile stays).\n"
    "\n"
    "exit codes: 0 requeued, 1 the job is not failed, 2 usage, 3 no such job,\n"
    "69 Redis unavailable, 70 unexpected answer, 78 bad configuration\n";

enum { REQUEUE_BATCH = 500 };

/* failed_count returns the size of the failed set in *n. */
static int
failed_count(struct cli *c, long long *n) {
    json_t *card = NULL;
    struct keybuf kf;
    const char *argv[] = {"ZCARD", keys_failed(&c->keys, &kf)};
    char err[256];
    int rc = cli_redis_call(c, &card, err, sizeof err, 2, argv);
    if (rc) return cli_error(c, rc, "ZCARD: %s", err);
    *n = json_integer_value(card);
    json_decref(card);
    return CLI_OK;
}

static int
requeue_all(struct cli *c) {
    long long total = 0, before;
    /* The jobs failed when the command starts, each once: a requeued job
     * that fails again while this runs goes back into the set, newest (the
     * set is ordered by failure time, and each batch takes the oldest), so
     * no more than the set held at the start are taken. Each batch takes up
     * to REQUEUE_BATCH ids out of the set (ids whose job has expired are
     * dropped without counting), so it shrinks every round; stop when a
     * round finds nothing or all are done. */
    int rc = failed_count(c, &before);
    if (rc) return rc;
    while (total < before) {
        long long want = before - total < REQUEUE_BATCH ? before - total : REQUEUE_BATCH;
        struct wait_job w = {0};
        rc = finish(c, &w, queue_failed_retry(&c->queue, NULL, (size_t)want, on_done, &w),
                    "requeue");
        if (rc) return rc;
        total += w.value;
        if (w.value > 0) continue;
        long long left;
        if ((rc = failed_count(c, &left))) return rc;
        if (left == 0) break;
    }
    if (c->json) cli_print_json(json_pack("{s:I}", "requeued", (json_int_t)total));
    else printf("requeued %lld failed job%s\n", total, total == 1 ? "" : "s");
    return CLI_OK;
}

int
cmd_requeue(struct cli *c, int argc, char **argv) {
    struct opt opts[] = {{.name = "--all-failed"}};
    struct opts_result o;
    if (opts_parse(argc, argv, opts, 1, 1, &o) < 0) return cli_usage(c, requeue_usage, o.error);
    if (o.help) return cli_usage(c, requeue_usage, NULL);
    c->json = c->json || o.json;
    bool all = opts[0].seen;
    if (all == (o.npos == 1))
        return cli_usage(c, requeue_usage, "give either an ID or --all-failed");
    const char *id = all ? NULL : o.pos[0];
    if (id && !job_id_valid(id)) return cli_usage(c, requeue_usage, "not a job id (a UUID)");
    int rc = cli_start(c);
    if (!rc) rc = id ? cli_redis_for_id(c, id) : cli_redis(c);
    if (rc) return rc;
    if (all) return requeue_all(c);

    struct wait_job w = {0};
    const char *ids[] = {id};
    if ((rc = finish(c, &w, queue_failed_retry(&c->queue, ids, 1, on_done, &w), "requeue")))
        return rc;
    json_t *out = json_pack("{s:s, s:b}", "id", id, "requeued", w.value > 0);
    if (w.value == 0) return explain(c, id, "failed", out);
    json_object_set_new(out, "status", json_string("queued"));
    if (c->json) cli_print_json(out);
    else {
        json_decref(out);
        printf("requeued %s\n", id);
    }
    return CLI_OK;
}

/* --- cancel --- */

static const char cancel_usage[] =
    "usage: wordcount cancel [--json] ID\n"
    "\n"
    "Cancels a job that has not started (queued, or retrying after a failure).\n"
    "A started job runs to its end.\n"
    "\n"
    "exit codes: 0 canceled, 1 the job has started or ended, 2 usage, 3 no such job,\n"
    "69 Redis unavailable, 70 unexpected answer, 78 bad configuration\n";

int
cmd_cancel(struct cli *c, int argc, char **argv) {
    struct opts_result o;
    if (opts_parse(argc, argv, NULL, 0, 1, &o) < 0) return cli_usage(c, cancel_usage, o.error);
    if (o.help) return cli_usage(c, cancel_usage, NULL);
    c->json = c->json || o.json;
    if (o.npos != 1) return cli_usage(c, cancel_usage, "give the job's ID");
    const char *id = o.pos[0];
    if (!job_id_valid(id)) return cli_usage(c, cancel_usage, "not a job id (a UUID)");
    int rc = cli_start(c);
    if (!rc) rc = cli_redis_for_id(c, id);
    if (rc) return rc;

    /* The cancel script answers "canceled" for a job canceled before too;
     * look first, so that case says it did nothing. */
    struct wait_job before = {0};
    if ((rc = finish(c, &before, queue_get(&c->queue, id, on_job, &before), "get"))) return rc;
    struct wait_job w = {0};
    if (before.found && before.state == JOB_CANCELED) {
        w.found = true;
        snprintf(w.state_name, sizeof w.state_name, "%s", job_state_name(before.state));
    } else if ((rc = finish(c, &w, queue_cancel(&c->queue, id, on_cancel, &w), "cancel"))) {
        return rc;
    }
    bool already = before.found && before.state == JOB_CANCELED;
    bool canceled = !already && w.found && strcmp(w.state_name, "canceled") == 0;
    json_t *out = json_pack("{s:s, s:b, s:o}", "id", id, "canceled", canceled, "status",
                            w.found ? json_string(w.state_name) : json_null());
    if (c->json) cli_print_json(out);
    else json_decref(out);
    if (!w.found)
        return cli_error(c, CLI_NOTFOUND, "no job %s (unknown, or its state has expired)", id);
    if (!canceled)
        return cli_error(c, CLI_NOOP, "job %s is %s: only a queued or retrying job can be canceled",
                         id, w.state_name);
    if (!c->json) printf("canceled %s\n", id);
    return CLI_OK;
}

/* --- purge --- */

static const char purge_usage[] =
    "usage: wordcount purge [--json] --failed|--finished\n"
    "\n"
    "--failed    deletes every failed job (its state and its place in the failed set)\n"
    "--finished  deletes the Redis state of finished jobs now instead of after\n"
    "            RESULT_TTL; their results stay in Postgres and are still served\n"
    "Both may be given. Queued, running and retrying jobs are never touched.\n"
    "\n"
    "exit codes: 0 ok, 2 usage, 69 Redis unavailable, 70 unexpected answer,\n"
    "78 bad configuration\n";

enum { PURGE_PAGE = 500, PURGE_EVAL_KEYS = 200 };

struct purge_page {
    bool done;
    int status;
    char err[256];
    long long total;
    size_t n;
    char (*ids)[JOB_ID_LEN + 1];
    size_t pending; /* deletes not yet answered */
    long long deleted;
};

static void
on_failed_page(int status, long long total, const struct job *jobs, size_t n, const char *errstr,
               void *arg) {
    struct purge_page *p = arg;
    p->status = status;
    if (status) snprintf(p->err, sizeof p->err, "%s", errstr ? errstr : "");
    p->total = total;
    p->n = 0;
    for (size_t i = 0; i < n && i < PURGE_PAGE; i++)
        memcpy(p->ids[p->n++], jobs[i].id, JOB_ID_LEN + 1);
    p->done = true;
}

static void
on_deleted(int status, long long value, const char *errstr, void *arg) {
    struct purge_page *p = arg;
    if (status && !p->status) {
        p->status = status;
        snprintf(p->err, sizeof p->err, "%s", errstr ? errstr : "");
    }
    if (!status) p->deleted += value;
    if (--p->pending == 0) p->done = true;
}

static int
purge_failed(struct cli *c, long long *deleted) {
    struct purge_page p = {.ids = calloc(PURGE_PAGE, sizeof *p.ids)};
    int rc = CLI_OK;
    /* Every round removes a page from the failed set; jobs failing while
     * this runs may add more, so the rounds are bounded by the first count. */
    long long max_rounds = -1;
    for (long long round = 0; max_rounds < 0 || round < max_rounds; round++) {
        p.done = false;
        int r = queue_failed_list(&c->queue, 0, PURGE_PAGE, on_failed_page, &p);
        if (r < 0) {
            rc = cli_error(c, cli_status_code(r), "failed list: %s", uv_strerror(r));
            break;
        }
        if (!cli_wait(c, &p.done)) {
            rc = cli_error(c, CLI_UNAVAILABLE, "failed list: Redis did not answer");
            break;
        }
        if (p.status) {
            rc = cli_error(c, cli_status_code(p.status), "failed list: %s", p.err);
            break;
        }
        if (max_rounds < 0) max_rounds = p.total / PURGE_PAGE + 2;
        if (p.n == 0) break;
        /* The deletes go out together (one connection pipelines them). */
        p.done = false;
        p.pending = 0;
        for (size_t i = 0; i < p.n; i++) {
            p.pending++;
            if ((r = queue_failed_delete(&c->queue, p.ids[i], on_deleted, &p)) < 0) {
                p.pending--;
                break;
            }
        }
        if (p.pending && !cli_wait(c, &p.done)) {
            rc = cli_error(c, CLI_UNAVAILABLE, "delete: Redis did not answer");
            break;
        }
        if (r < 0 || p.status) {
            rc = cli_error(c, r < 0 ? cli_status_code(r) : cli_status_code(p.status), "delete: %s",
                           r < 0 ? uv_strerror(r) : p.err);
            break;
        }
    }
    *deleted = p.deleted;
    free(p.ids);
    return rc;
}

static int
purge_finished(struct cli *c, long long *deleted) {
    struct keybuf match;
    const char *pattern = keys_job_match(&c->keys, &match);
    if (!pattern) return cli_error(c, CLI_SOFTWARE, "key prefix too long");
    char cursor[32] = "0";
    char err[256];
    int rc;
    do {
        json_t *page = NULL;
        const char *scan[] = {"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"};
        if ((rc = cli_redis_call(c, &page, err, sizeof err, 6, scan)))
            return cli_error(c, rc, "SCAN: %s", err);
        const char *next = json_string_value(json_array_get(page, 0));
        json_t *keys = json_array_get(page, 1);
        if (!next || !json_is_array(keys)) {
            json_decref(page);
            return cli_error(c, CLI_SOFTWARE, "SCAN: unexpected reply");
        }
        snprintf(cursor, sizeof cursor, "%s", next);
        for (size_t at = 0; at < json_array_size(keys); at += PURGE_EVAL_KEYS) {
            const char *argv[PURGE_EVAL_KEYS + 3];
            char nkeys[16];
            size_t n = json_array_size(keys) - at;
            if (n > PURGE_EVAL_KEYS) n = PURGE_EVAL_KEYS;
            snprintf(nkeys, sizeof nkeys, "%zu", n);
            argv[0] = "EVAL";
            argv[1] = lua_purge_finished;
            argv[2] = nkeys;
            for (size_t i = 0; i < n; i++)
                argv[3 + i] = json_string_value(json_array_get(keys, at + i));
            json_t *count = NULL;
            if ((rc = cli_redis_call(c, &count, err, sizeof err, (int)n + 3, argv))) {
                json_decref(page);
                return cli_error(c, rc, "purge: %s", err);
            }
            *deleted += json_integer_value(count);
            json_decref(count);
        }
        json_decref(page);
    } while (strcmp(cursor, "0") != 0);
    return CLI_OK;
}

int
cmd_purge(struct cli *c, int argc, char **argv) {
    struct opt opts[] = {{.name = "--failed"}, {.name = "--finished"}};
    struct opts_result o;
    if (opts_parse(argc, argv, opts, 2, 0, &o) < 0) return cli_usage(c, purge_usage, o.error);
    if (o.help) return cli_usage(c, purge_usage, NULL);
    c->json = c->json || o.json;
    bool failed = opts[0].seen, finished = opts[1].seen;
    if (!failed && !finished)
        return cli_usage(c, purge_usage, "say what to purge: --failed or --finished");
    int rc = cli_start(c);
    if (!rc) rc = cli_redis(c);
    if (rc) return rc;
    long long nfailed = 0, nfinished = 0;
    if (failed && (rc = purge_failed(c, &nfailed))) return rc;
    if (finished && (rc = purge_finished(c, &nfinished))) return rc;
    json_t *out = json_object();
    if (failed) json_object_set_new(out, "failed_deleted", json_integer(nfailed));
    if (finished) json_object_set_new(out, "finished_deleted", json_integer(nfinished));
    if (c->json) {
        cli_print_json(out);
    } else {
        json_decref(out);
        if (failed) printf("deleted %lld failed job%s\n", nfailed, nfailed == 1 ? "" : "s");
        if (finished)
            printf("deleted the Redis state of %lld finished job%s (results stay in Postgres)\n",
                   nfinished, nfinished == 1 ? "" : "s");
    }
    return CLI_OK;
}
