/* fmt — small text formatting for the admin CLI's human output.
 * Pure functions writing into caller-owned buffers; unit-tested. */
#ifndef WC_CLI_FMT_H
#define WC_CLI_FMT_H

#include <stddef.h>
#include <stdint.h>

/* fmt_age writes a duration in ms as "850ms", "42s", "3m07s", "5h02m" or
 * "3d04h"; a negative one (clock skew) as "0s". Returns out. */
const char *fmt_age(int64_t ms, char *out, size_t n);
/* fmt_ms writes a duration in ms for a reader: "850 ms", "1.25 s",
 * "42.3 s", then as fmt_age ("3m07s"); a negative one (no data) as "-".
 * Returns out. */
const char *fmt_ms(double ms, char *out, size_t n);
/* fmt_bytes writes a size: "512 B", "12.3 KiB", "4.0 MiB", "1.2 GiB"; a
 * negative one (no data) as "-". Returns out. */
const char *fmt_bytes(double bytes, char *out, size_t n);

#endif
