/* fmt — small text formatting for the admin CLI's human output.
 * Pure functions writing into caller-owned buffers; unit-tested. */
#ifndef WC_CLI_FMT_H
#define WC_CLI_FMT_H

#include <stddef.h>
#include <stdint.h>

/* fmt_age writes a duration in ms as "850ms", "42s", "3m07s", "5h02m" or
 * "3d04h"; a negative one (clock skew) as "0s". Returns out. */
const char *fmt_age(int64_t ms, char *out, size_t n);

#endif
