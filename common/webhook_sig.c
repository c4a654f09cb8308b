/* webhook_sig.c — see webhook_sig.h. */
#include "common/webhook_sig.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* b64_decode decodes standard base64 (padding optional) into out;
 * returns the length, or -1 when it is not base64 or does not fit. */
static int
b64_decode(const char *in, size_t n, unsigned char *out, size_t cap) {
    char padded[WEBHOOK_SIG_MAX_KEY * 2];
    if (n == 0 || n + 3 >= sizeof padded || n % 4 == 1) return -1;
    memcpy(padded, in, n);
    size_t pad = (4 - n % 4) % 4;
    for (size_t i = 0; i < pad; i++) padded[n + i] = '=';
    size_t m = n + pad;
    for (size_t i = 0; i < m; i++) {
        char c = padded[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '+' || c == '/' || (c == '=' && i >= m - 2);
        if (!ok) return -1;
    }
    unsigned char tmp[WEBHOOK_SIG_MAX_KEY * 2];
    int len = EVP_DecodeBlock(tmp, (const unsigned char *)padded, (int)m);
    if (len < 0) return -1;
    /* EVP_DecodeBlock counts the padding as zero bytes. */
    size_t eq = (padded[m - 1] == '=') + (padded[m - 2] == '=');
    size_t real = (size_t)len - eq;
    if (real == 0 || real > cap) return -1;
    memcpy(out, tmp, real);
    return (int)real;
}

int
webhook_keys_parse(const char *spec, struct webhook_keys *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    for (const char *p = spec ? spec : ""; *p;) {
        p += strspn(p, " \t");
        size_t n = strcspn(p, " \t");
        if (n == 0) break;
        if (out->n == WEBHOOK_SIG_MAX_KEYS) {
            snprintf(err, errlen, "at most %d secrets", WEBHOOK_SIG_MAX_KEYS);
            return -1;
        }
        unsigned char *key = out->k[out->n].key;
        if (n > 6 && !strncmp(p, "whsec_", 6)) {
            int len = b64_decode(p + 6, n - 6, key, WEBHOOK_SIG_MAX_KEY);
            if (len < 0) {
                snprintf(err, errlen,
                         "secret %zu: whsec_ must be followed by base64 of 1 to %d bytes",
                         out->n + 1, WEBHOOK_SIG_MAX_KEY);
                return -1;
            }
            out->k[out->n].len = (size_t)len;
        } else {
            if (n > WEBHOOK_SIG_MAX_KEY) {
                snprintf(err, errlen, "secret %zu is longer than %d bytes", out->n + 1,
                         WEBHOOK_SIG_MAX_KEY);
                return -1;
            }
            memcpy(key, p, n);
            out->k[out->n].len = n;
        }
        out->n++;
        p += n;
    }
    return 0;
}

int
webhook_sign(const struct webhook_keys *keys, const char *msg_id, long long timestamp,
             const char *body, size_t len, struct buf *out) {
    if (keys->n == 0) return -1;
    struct buf content;
    buf_init(&content);
    buf_printf(&content, "%s.%lld.", msg_id, timestamp);
    buf_append(&content, body, len);
    int rc = 0;
    for (size_t i = 0; i < keys->n && rc == 0; i++) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int maclen = 0;
        if (!HMAC(EVP_sha256(), keys->k[i].key, (int)keys->k[i].len,
                  (const unsigned char *)content.data, content.len, mac, &maclen)) {
            rc = -1;
            break;
        }
        unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
        EVP_EncodeBlock(b64, mac, (int)maclen);
        buf_printf(out, "%sv1,%s", i ? " " : "", (const char *)b64);
    }
    buf_free(&content);
    return rc;
}
