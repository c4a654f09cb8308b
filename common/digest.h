/* digest — lower-case hex SHA-256 and SHA-1 of a buffer (OpenSSL's EVP
 * API). SHA-256 names pages in Redis keys (common/keys.h), fingerprints
 * Idempotency-Key bodies and checks migrations; SHA-1 names Lua scripts
 * as Redis does (common/redis_scripts.h). Several of these run on every
 * submit, so each algorithm is fetched from OpenSSL's provider once per
 * process (an implicit fetch per call takes a lock and a table lookup)
 * and the hex is written by table, not by printf. Thread-safe. */
#ifndef WC_DIGEST_H
#define WC_DIGEST_H

#include <stddef.h>

/* sha256_hex writes 64 hex digits and a NUL to out; returns 0, or -1
 * when OpenSSL fails. */
int sha256_hex(const void *data, size_t len, char out[65]);
/* sha1_hex writes 40 hex digits and a NUL to out; returns 0, or -1. */
int sha1_hex(const void *data, size_t len, char out[41]);

#endif
