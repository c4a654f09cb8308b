/* digest.c — SHA-256 and SHA-1 through OpenSSL, fetched once. */
#include "common/digest.h"

#include <openssl/evp.h>
#include <pthread.h>

static pthread_once_t fetched = PTHREAD_ONCE_INIT;
static EVP_MD *md_sha256, *md_sha1; /* NULL when the fetch failed: implicit fetches then */

static void
fetch(void) {
    md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    md_sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
}

/* digest_hex writes the hex of data's digest by md (fallback when the
 * fetch failed) to out, which holds 2 * size + 1 bytes. */
static int
digest_hex(const EVP_MD *md, const EVP_MD *fallback, unsigned size, const void *data, size_t len,
           char *out) {
    static const char hex[] = "0123456789abcdef";
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (!EVP_Digest(data, len, d, &n, md ? md : fallback, NULL) || n != size) return -1;
    for (unsigned i = 0; i < n; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[2 * n] = '\0';
    return 0;
}

int
sha256_hex(const void *data, size_t len, char out[65]) {
    pthread_once(&fetched, fetch);
    return digest_hex(md_sha256, EVP_sha256(), 32, data, len, out);
}

int
sha1_hex(const void *data, size_t len, char out[41]) {
    pthread_once(&fetched, fetch);
    return digest_hex(md_sha1, EVP_sha1(), 20, data, len, out);
}
