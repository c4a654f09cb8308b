/* webhook_sig — Standard Webhooks signatures (HMAC-SHA256, "v1").
 *
 * The keys come from WEBHOOK_SECRET: secrets separated by spaces, each
 * either "whsec_" + base64 (what Standard Webhooks tooling hands out; the
 * padding may be left off) or any other text, used as the key as it is.
 * Several keys sign each message with each, so a receiver can move to a
 * new key without a gap (rotation).
 *
 * The signed content is "<webhook-id>.<webhook-timestamp>.<body>"; the
 * webhook-signature header is "v1,<base64 HMAC>" per key, space-separated.
 *
 * Owns nothing on the heap: struct webhook_keys is a fixed array. */
#ifndef WC_WEBHOOK_SIG_H
#define WC_WEBHOOK_SIG_H

#include <stddef.h>

#include "common/buf.h"

#define WEBHOOK_SIG_MAX_KEYS 8
#define WEBHOOK_SIG_MAX_KEY 256

struct webhook_keys {
    size_t n;
    struct {
        unsigned char key[WEBHOOK_SIG_MAX_KEY];
        size_t len;
    } k[WEBHOOK_SIG_MAX_KEYS];
};

/* webhook_keys_parse reads spec (NULL or blank: no keys). Returns 0, or
 * -1 with the reason in err (bad base64 after whsec_, an empty or too
 * long key, too many keys). */
int webhook_keys_parse(const char *spec, struct webhook_keys *out, char *err, size_t errlen);
/* webhook_sign appends the webhook-signature header's value to out.
 * Returns 0, or -1 when OpenSSL fails or there are no keys. */
int webhook_sign(const struct webhook_keys *keys, const char *msg_id, long long timestamp,
                 const char *body, size_t len, struct buf *out);

#endif
