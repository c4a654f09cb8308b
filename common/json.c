#include "common/json.h"

#include <stdio.h>

#include "common/clock.h"

json_t *
json_decode_object(const char *data, size_t len, char *err, size_t errlen) {
    json_error_t je;
    json_t *v = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    if (!v) {
        snprintf(err, errlen, "%s at line %d column %d", je.text, je.line, je.column);
        return NULL;
    }
    if (!json_is_object(v)) {
        snprintf(err, errlen, "expected a JSON object");
        json_decref(v);
        return NULL;
    }
    return v;
}

const char *
json_get_string(const json_t *obj, const char *key) {
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

json_t *
json_problem(int status, const char *title, const char *detail) {
    return json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank", "title", title, "status",
                     status, "detail", detail ? detail : title);
}

static json_t *
time_or_null(int64_t ms) {
    if (ms <= 0) return json_null();
    char s[32];
    clock_format_rfc3339(ms, s);
    return json_string(s);
}

static json_t *
str_or_null(const char *s) {
    return s ? json_string(s) : json_null();
}

json_t *
json_job(const struct job *j) {
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(j->id));
    json_object_set_new(o, "url", str_or_null(j->url));
    if (j->url_key) json_object_set_new(o, "normalized_url", json_string(j->url_key));
    if (j->batch) json_object_set_new(o, "batch", json_string(j->batch));
    json_object_set_new(o, "status", json_string(job_state_name(j->state)));
    json_object_set_new(o, "attempts", json_integer(j->attempts));
    json_object_set_new(o, "created_at", time_or_null(j->created_at_ms));
    json_object_set_new(o, "started_at", time_or_null(j->started_at_ms));
    json_object_set_new(o, "finished_at", time_or_null(j->finished_at_ms));
    if (j->state == JOB_RETRYING || j->state == JOB_WAITING)
        json_object_set_new(o, "next_attempt_at", time_or_null(j->next_attempt_at_ms));
    if (j->state == JOB_WAITING) json_object_set_new(o, "waiting", str_or_null(j->waiting));
    if (j->error || j->error_code) {
        json_object_set_new(o, "error",
                            json_pack("{s:o, s:o}", "code", str_or_null(j->error_code), "message",
                                      str_or_null(j->error)));
    } else {
        json_object_set_new(o, "error", json_null());
    }
    /* Every failed attempt, oldest first, as the queue recorded it. */
    json_t *errors = j->history ? json_loads(j->history, 0, NULL) : NULL;
    if (!json_is_array(errors)) {
        json_decref(errors);
        errors = json_array();
    }
    size_t i;
    json_t *item;
    json_array_foreach(errors, i, item) {
        json_t *at = json_object_get(item, "at");
        if (json_is_number(at))
            json_object_set_new(item, "at", time_or_null((int64_t)json_number_value(at)));
    }
    json_object_set_new(o, "errors", errors);
    return o;
}

static int
dump_cb(const char *chunk, size_t size, void *data) {
    buf_append(data, chunk, size);
    return 0;
}

int
json_dump_append(const json_t *v, struct buf *out) {
    return json_dump_callback(v, dump_cb, out, JSON_COMPACT | JSON_ENCODE_ANY) == 0 ? 0 : -1;
}
