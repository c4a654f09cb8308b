/* cmd_result — `wordcount result URL|ID`: the top words of a job's result,
 * or of the newest result for a URL, read from Postgres. For a job with
 * no result yet, its Redis state says why. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/opts.h"
#include "common/clock.h"
#include "common/results.h"
#include "common/url_check.h"
#include "common/url_norm.h"

static const char usage_text[] =
    "usage: wordcount result [--json] [--top N] URL|ID\n"
    "\n"
    "Prints the N most frequent words without stop words (default 10, at most 100)\n"
    "and the totals of a job's result (by job ID), or of the newest result for a\n"
    "URL (in any spelling: it is normalised as at submit). Results are read from\n"
    "Postgres, so they outlive the jobs' Redis state.\n"
    "\n"
    "exit codes: 0 ok, 1 the job has no result yet (or failed), 2 usage, 3 no such\n"
    "job or result, 69 Redis or Postgres unavailable, 70 unexpected answer,\n"
    "78 bad configuration\n";

/* The columns shown (common/results.h); the row is read by name. */
static const enum results_col COLS[] = {
    RESULTS_JOB_ID,       RESULTS_URL,           RESULTS_CREATED_AT,     RESULTS_TOTAL_WORDS,
    RESULTS_UNIQUE_WORDS, RESULTS_TOTAL_NO_STOP, RESULTS_UNIQUE_NO_STOP, RESULTS_TOP_WORDS,
};
static const char BY_JOB[] = " FROM results WHERE job_id = $1::uuid";
/* By the normalised URL (any spelling of the page), as the API's history. */
static const char BY_URL[] =
    " FROM results r WHERE r.url_key = $1 ORDER BY r.created_at DESC, r.id DESC LIMIT 1";

struct row_wait {
    bool done;
    int status;
    char err[512];
    json_t *row; /* the result as JSON, or NULL when there is none */
};

static void
on_row(pg_uv_t *pg, PGresult *res, const char *errstr, void *arg) {
    (void)pg;
    struct row_wait *w = arg;
    w->done = true;
    if (!res) {
        w->status = CLI_UNAVAILABLE;
        snprintf(w->err, sizeof w->err, "%s", errstr ? errstr : "no answer");
        return;
    }
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        w->status = CLI_SOFTWARE;
        snprintf(w->err, sizeof w->err, "%s", PQresultErrorMessage(res));
        return;
    }
    if (PQntuples(res) == 0) return;
    const char *top_text = results_text(res, 0, RESULTS_TOP_WORDS);
    json_t *top = top_text ? json_loads(top_text, 0, NULL) : NULL;
    if (!json_is_array(top)) {
        json_decref(top);
        w->status = CLI_SOFTWARE;
        snprintf(w->err, sizeof w->err, "results.top_words is not a JSON list");
        return;
    }
    char created[32];
    clock_format_rfc3339(results_int(res, 0, RESULTS_CREATED_AT), created);
    const char *id = results_text(res, 0, RESULTS_JOB_ID), *url = results_text(res, 0, RESULTS_URL);
    w->row =
        json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:o}", "id", id ? id : "", "url",
                  url ? url : "", "created_at", created, "total_words",
                  (json_int_t)results_int(res, 0, RESULTS_TOTAL_WORDS), "unique_words",
                  (json_int_t)results_int(res, 0, RESULTS_UNIQUE_WORDS), "total_words_no_stop",
                  (json_int_t)results_int(res, 0, RESULTS_TOTAL_NO_STOP), "unique_words_no_stop",
                  (json_int_t)results_int(res, 0, RESULTS_UNIQUE_NO_STOP), "top", top);
}

struct state_wait {
    bool done;
    int status;
    char err[256];
    bool found;
    char state[16];
    char error[512];
};

static void
on_job(int status, const struct job *job, const char *errstr, void *arg) {
    struct state_wait *w = arg;
    w->done = true;
    w->status = status;
    if (status) snprintf(w->err, sizeof w->err, "%s", errstr ? errstr : "");
    if (!job) return;
    w->found = true;
    snprintf(w->state, sizeof w->state, "%s", job_state_name(job->state));
    if (job->error) snprintf(w->error, sizeof w->error, "%s", job->error);
}

/* pending explains a job id with no result row, from its Redis state. */
static int
pending(struct cli *c, const char *id) {
    int rc = cli_redis_for_id(c, id);
    if (rc) return rc;
    struct state_wait w = {0};
    int r = queue_get(&c->queue, id, on_job, &w);
    if (r < 0) return cli_error(c, cli_status_code(r), "get: %s", uv_strerror(r));
    if (!cli_wait(c, &w.done)) return cli_error(c, CLI_UNAVAILABLE, "get: Redis did not answer");
    if (w.status) return cli_error(c, cli_status_code(w.status), "get: %s", w.err);
    if (c->json)
        cli_print_json(json_pack("{s:s, s:o, s:o}", "id", id, "status",
                                 w.found ? json_string(w.state) : json_null(), "result",
                                 json_null()));
    if (!w.found) return cli_error(c, CLI_NOTFOUND, "no job %s and no result for it", id);
    if (!strcmp(w.state, "failed") || !strcmp(w.state, "canceled"))
        return cli_error(c, CLI_NOOP, "job %s is %s%s%s", id, w.state, *w.error ? ": " : "",
                         w.error);
    return cli_error(c, CLI_NOOP, "job %s has no result yet: it is %s", id, w.state);
}

static void
print_text(json_t *row, long top) {
    printf("%s\n", json_string_value(json_object_get(row, "url")));
    printf("job %s, counted %s\n", json_string_value(json_object_get(row, "id")),
           json_string_value(json_object_get(row, "created_at")));
    printf("%lld words (%lld unique); without stop words %lld (%lld unique)\n",
           (long long)json_integer_value(json_object_get(row, "total_words")),
           (long long)json_integer_value(json_object_get(row, "unique_words")),
           (long long)json_integer_value(json_object_get(row, "total_words_no_stop")),
           (long long)json_integer_value(json_object_get(row, "unique_words_no_stop")));
    json_t *words = json_object_get(row, "top");
    size_t i;
    json_t *w;
    json_array_foreach(words, i, w) {
        if ((long)i >= top) break;
        printf("%4zu  %-30s %lld\n", i + 1, json_string_value(json_object_get(w, "word")),
               (long long)json_integer_value(json_object_get(w, "count")));
    }
}

int
cmd_result(struct cli *c, int argc, char **argv) {
    struct opt opts[] = {{.name = "--top", .takes_value = true}};
    struct opts_result o;
    if (opts_parse(argc, argv, opts, 1, 1, &o) < 0) return cli_usage(c, usage_text, o.error);
    if (o.help) return cli_usage(c, usage_text, NULL);
    c->json = c->json || o.json;
    long top = 10;
    if (opts[0].seen && opts_int(opts[0].value, 1, 100, &top) < 0)
        return cli_usage(c, usage_text, "--top needs a number from 1 to 100");
    if (o.npos != 1) return cli_usage(c, usage_text, "give a job ID or a URL");
    const char *arg = o.pos[0];
    bool by_id = job_id_valid(arg);
    char why[256];
    if (!by_id && url_check(arg, why, sizeof why) < 0) {
        char msg[320];
        snprintf(msg, sizeof msg, "neither a job ID nor a URL (%s)", why);
        return cli_usage(c, usage_text, msg);
    }
    int rc = cli_start(c);
    if (!rc) rc = cli_pg(c);
    if (rc) return rc;

    char sql[1024];
    if (results_select_sql(sql, sizeof sql, COLS, sizeof COLS / sizeof *COLS,
                           by_id ? BY_JOB : BY_URL) < 0)
        return cli_error(c, CLI_SOFTWARE, "query too long");
    struct row_wait w = {0};
    char key[URL_NORM_MAX + 1];
    if (!by_id && url_norm(arg, key, sizeof key, why, sizeof why) < 0)
        return cli_usage(c, usage_text, why);
    const char *params[] = {by_id ? arg : key};
    int r = pg_uv_query(c->pg, sql, 1, params, on_row, &w);
    if (r < 0) return cli_error(c, cli_status_code(r), "query: %s", uv_strerror(r));
    if (!cli_wait(c, &w.done))
        return cli_error(c, CLI_UNAVAILABLE, "query: Postgres did not answer");
    if (w.status) return cli_error(c, w.status, "query: %s", w.err);
    if (!w.row) {
        if (by_id) return pending(c, arg);
        if (c->json) cli_print_json(json_pack("{s:s, s:n}", "url", arg, "result"));
        return cli_error(c, CLI_NOTFOUND, "no result for %s", arg);
    }
    /* top_words holds the 100 most frequent words; keep the first N. */
    json_t *words = json_object_get(w.row, "top");
    while ((long)json_array_size(words) > top) json_array_remove(words, json_array_size(words) - 1);
    if (c->json) cli_print_json(w.row);
    else {
        print_text(w.row, top);
        json_decref(w.row);
    }
    return CLI_OK;
}
