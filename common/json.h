/* json — jansson helpers shared by web and worker.
 *
 * Owns: strict decoding (one object, no duplicate keys, type-checked
 * fields), the problem+json body (RFC 9457), and the job's JSON form.
 * Functions returning json_t* return a new reference the caller must
 * json_decref; json_dump_append writes compact JSON into a buf. */
#ifndef WC_JSON_H
#define WC_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/job.h"

/* json_decode_object parses data as exactly one JSON object. Returns the
 * object, or NULL with a human message in err (position included). */
json_t *json_decode_object(const char *data, size_t len, char *err, size_t errlen);
/* json_get_string returns the string member key, or NULL when absent or not a string. */
const char *json_get_string(const json_t *obj, const char *key);
/* json_problem builds {"type","title","status","detail"}; type defaults to about:blank. */
json_t *json_problem(int status, const char *title, const char *detail);
/* json_job renders a job as the API shows it (times as RFC 3339, null when unset). */
json_t *json_job(const struct job *j);
/* json_dump_append appends compact JSON; returns 0 or -1. */
int json_dump_append(const json_t *v, struct buf *out);

#endif
