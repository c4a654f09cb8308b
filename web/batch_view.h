/* batch_view — a batch as the API shows it (GET /api/v1/batches/{id},
 * the list, the answer of a DELETE), and the batch id of a path.
 *
 * Returns new JSON references; owns nothing. */
#ifndef WC_BATCH_VIEW_H
#define WC_BATCH_VIEW_H

#include <jansson.h>
#include <stdint.h>

#include "common/batch.h"
#include "web/conn.h"

/* batch_view_json renders s: ids, totals, counts by state, the done
 * fraction, times (RFC 3339, null when not yet) and an ETA in seconds
 * (null when ended or nothing ended yet) as of now_ms. */
json_t *batch_view_json(const struct batch_status *s, int64_t now_ms);
/* batch_view_id returns the batch id in the path's first parameter, or
 * answers 404 and returns NULL when it is not one. */
const char *batch_view_id(struct req *req);

#endif
