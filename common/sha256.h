/* sha256 — the lower-case hex SHA-256 of a buffer (OpenSSL's EVP API).
 * Used for migration checksums and Idempotency-Key body fingerprints. */
#ifndef WC_SHA256_H
#define WC_SHA256_H

#include <stddef.h>

/* sha256_hex writes 64 hex digits and a NUL to out; returns 0, or -1
 * when OpenSSL fails. */
int sha256_hex(const void *data, size_t len, char out[65]);

#endif
