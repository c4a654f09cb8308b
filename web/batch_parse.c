/* batch_parse.c — a batch's body into lines; see batch_parse.h. */
#include "web/batch_parse.h"

#include <csv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/json.h"
#include "common/url_norm.h"
#include "common/xalloc.h"
#include "web/job_submit.h"

static void
error(struct batch_parse_error *e, int status, const char *title, const char *detail) {
    e->status = status;
    e->title = title;
    snprintf(e->detail, sizeof e->detail, "%s", detail);
}

/* add adds the line text[0..len); -1 (413) past BATCH_MAX_LINES. */
static int
add(struct batch_input *in, const char *text, size_t len, const char *not_url,
    struct batch_parse_error *e) {
    if (in->n == BATCH_MAX_LINES) {
        char d[128];
        snprintf(d, sizeof d, "a batch has at most %d lines", BATCH_MAX_LINES);
        error(e, 413, "Too Many URLs", d);
        return -1;
    }
    if (in->n == in->cap) {
        in->cap = in->cap ? 2 * in->cap : 64;
        in->lines = xrealloc(in->lines, in->cap * sizeof *in->lines);
    }
    struct batch_line *l = &in->lines[in->n++];
    memset(l, 0, sizeof *l);
    char *url = xmalloc(len + 1);
    memcpy(url, text, len);
    url[len] = '\0';
    l->url = url;
    char key[URL_NORM_MAX + 1], err[256];
    if (not_url) {
        l->reason = xstrdup(not_url);
    } else if (strlen(url) != len) {
        l->reason = xstrdup("the line holds a NUL byte");
    } else if (url_norm(url, key, sizeof key, err, sizeof err) < 0) {
        /* The reason goes into a tab-separated record: no tabs or newlines. */
        for (char *p = err; *p; p++)
            if (*p == '\t' || *p == '\n' || *p == '\r') *p = ' ';
        l->reason = xstrdup(err);
    } else {
        l->url_key = xstrdup(key);
        in->valid++;
    }
    return 0;
}

void
batch_input_free(struct batch_input *in) {
    for (size_t i = 0; i < in->n; i++) {
        free((char *)in->lines[i].url);
        free((char *)in->lines[i].url_key);
        free((char *)in->lines[i].reason);
    }
    free(in->lines);
    memset(in, 0, sizeof *in);
}

static int
parse_json(const char *body, size_t len, struct batch_input *in, struct batch_parse_error *e) {
    char err[256];
    json_t *v = json_decode_object(body, len, err, sizeof err);
    if (!v) {
        error(e, 400, "Malformed JSON", err);
        return -1;
    }
    json_t *urls = json_object_get(v, "urls");
    const char *why = job_submit_freshness_json(v, &in->fresh, &in->max_age_s);
    int rc = 0;
    if (!json_is_array(urls)) {
        error(e, 422, "Invalid URLs", "the body needs an array field \"urls\"");
        rc = -1;
    } else if (why) {
        error(e, 422, "Invalid Freshness", why);
        rc = -1;
    }
    size_t i;
    json_t *u;
    json_array_foreach(urls, i, u) {
        if (rc < 0) break;
        if (json_is_string(u)) rc = add(in, json_string_value(u), json_string_length(u), NULL, e);
        else rc = add(in, "", 0, "not a string", e);
    }
    json_decref(v);
    return rc;
}

static int
parse_text(const char *body, size_t len, struct batch_input *in, struct batch_parse_error *e) {
    const char *p = body, *end = body + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end, *s = p, *t = eol;
        p = nl ? nl + 1 : end;
        while (s < t && (*s == ' ' || *s == '\t')) s++;
        while (t > s && (t[-1] == ' ' || t[-1] == '\t' || t[-1] == '\r')) t--;
        if (s == t || *s == '#') continue;
        if (add(in, s, (size_t)(t - s), NULL, e) < 0) return -1;
    }
    return 0;
}

/* --- CSV, through libcsv's callbacks --- */

struct csv_state {
    struct batch_input *in;
    struct batch_parse_error *e;
    long record; /* 0: the header */
    long col;    /* field number in the record */
    long url_col;
    bool found; /* this record had the url field */
    int rc;
};

static void
on_field(void *data, size_t len, void *arg) {
    struct csv_state *c = arg;
    long col = c->col++;
    if (c->rc < 0) return;
    if (c->record == 0) {
        if (c->url_col < 0 && data && len == 3 && !strncasecmp(data, "url", 3)) c->url_col = col;
        return;
    }
    if (col != c->url_col) return;
    c->found = true;
    const char *s = data ? data : "";
    while (len > 0 && (*s == ' ' || *s == '\t')) s++, len--;
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
    c->rc = add(c->in, s, len, len == 0 ? "the url field is empty" : NULL, c->e);
}

static void
on_record(int term, void *arg) {
    struct csv_state *c = arg;
    (void)term;
    if (c->rc == 0 && c->record == 0 && c->url_col < 0) {
        error(c->e, 422, "Invalid CSV",
              "the CSV's first record (its header) has no \"url\" column");
        c->rc = -1;
    } else if (c->rc == 0 && c->record > 0 && !c->found) {
        c->rc = add(c->in, "", 0, "the record has no url field", c->e);
    }
    c->record++;
    c->col = 0;
    c->found = false;
}

static int
parse_csv(const char *body, size_t len, struct batch_input *in, struct batch_parse_error *e) {
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) != 0) {
        error(e, 422, "Invalid CSV", "the CSV reader could not start");
        return -1;
    }
    struct csv_state c = {.in = in, .e = e, .url_col = -1};
    size_t used = csv_parse(&p, body, len, on_field, on_record, &c);
    int bad = used != len || csv_fini(&p, on_field, on_record, &c) != 0;
    if (bad && c.rc == 0) {
        char d[200];
        snprintf(d, sizeof d, "the body is not valid CSV (%s, record %ld)",
                 csv_strerror(csv_error(&p)), c.record + 1);
        error(e, 400, "Malformed CSV", d);
        c.rc = -1;
    } else if (c.rc == 0 && c.record == 0) {
        error(e, 422, "Invalid CSV", "the CSV is empty: it needs a header with a \"url\" column");
        c.rc = -1;
    }
    csv_free(&p);
    return c.rc;
}

int
batch_parse(enum batch_format format, const char *body, size_t len, struct batch_input *in,
            struct batch_parse_error *e) {
    memset(in, 0, sizeof *in);
    memset(e, 0, sizeof *e);
    int rc = format == BATCH_JSON   ? parse_json(body, len, in, e)
             : format == BATCH_TEXT ? parse_text(body, len, in, e)
                                    : parse_csv(body, len, in, e);
    if (rc == 0 && in->n == 0) {
        error(e, 422, "No URLs", "the batch has no lines");
        rc = -1;
    }
    if (rc < 0) batch_input_free(in);
    return rc;
}
