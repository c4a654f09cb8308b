/* Standard Webhooks signatures: the specification's test vector (from
 * its reference libraries' tests), raw-text keys, several keys for
 * rotation, and the secrets WEBHOOK_SECRET refuses. */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "common/webhook_sig.h"

static struct buf out;

static void
setup(void) {
    buf_init(&out);
}

static void
teardown(void) {
    buf_free(&out);
}

TestSuite(webhook_sig, .init = setup, .fini = teardown);

static const char payload[] = "{\"test\": 2432232314}";
static const char msg[] = "msg_p5jXN8AQM9LWM0D4loKWxJek";
static const long long ts = 1614265330;

Test(webhook_sig, the_specification_vector) {
    struct webhook_keys k;
    char err[128];
    cr_assert_eq(webhook_keys_parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &k, err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(k.n, 1);
    cr_assert_eq(webhook_sign(&k, msg, ts, payload, strlen(payload), &out), 0);
    cr_assert_str_eq(out.data, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

Test(webhook_sig, padding_may_be_left_off) {
    struct webhook_keys a, b;
    char err[128];
    cr_assert_eq(webhook_keys_parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", &a, err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(webhook_keys_parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS=", &b, err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(a.k[0].len, b.k[0].len);
    cr_assert_eq(memcmp(a.k[0].key, b.k[0].key, a.k[0].len), 0);
    cr_assert_eq(a.k[0].len, 23);
}

/* expect computes "v1," + base64 HMAC of the signed content with key. */
static void
expect(const char *key, char out64[64]) {
    char content[256];
    int n = snprintf(content, sizeof content, "%s.%lld.%s", msg, ts, payload);
    unsigned char mac[32];
    unsigned int len;
    HMAC(EVP_sha256(), key, (int)strlen(key), (unsigned char *)content, (size_t)n, mac, &len);
    memcpy(out64, "v1,", 3);
    EVP_EncodeBlock((unsigned char *)out64 + 3, mac, (int)len);
}

Test(webhook_sig, raw_text_keys_and_rotation) {
    struct webhook_keys k;
    char err[128];
    cr_assert_eq(webhook_keys_parse("  new-secret   old-secret ", &k, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(k.n, 2);
    cr_assert_eq(webhook_sign(&k, msg, ts, payload, strlen(payload), &out), 0);
    char a[64], b[64], want[160];
    expect("new-secret", a);
    expect("old-secret", b);
    snprintf(want, sizeof want, "%s %s", a, b);
    cr_assert_str_eq(out.data, want, "one signature per key, space-separated, in order");
}

Test(webhook_sig, bad_secrets) {
    struct webhook_keys k;
    char err[128];
    const char *bad[] = {"whsec_!!!!", "whsec_a", "whsec_====", "a b c d e f g h i"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(webhook_keys_parse(bad[i], &k, err, sizeof err), -1, "%s", bad[i]);
    char longkey[300];
    memset(longkey, 'x', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    cr_assert_eq(webhook_keys_parse(longkey, &k, err, sizeof err), -1);
    cr_assert_eq(webhook_keys_parse("", &k, err, sizeof err), 0);
    cr_assert_eq(k.n, 0);
    cr_assert_eq(webhook_sign(&k, msg, ts, payload, strlen(payload), &out), -1,
                 "no key, no signature");
    cr_assert_eq(webhook_keys_parse(NULL, &k, err, sizeof err), 0);
}
