/* The hex digests against the FIPS 180 examples ("abc", and the empty
 * message), and from several threads at once (the algorithms are fetched
 * once, on first use). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "common/digest.h"

Test(digest, sha256_and_sha1_of_the_standard_examples) {
    char h256[65], h1[41];
    cr_assert_eq(sha256_hex("abc", 3, h256), 0);
    cr_assert_str_eq(h256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    cr_assert_eq(sha256_hex("", 0, h256), 0);
    cr_assert_str_eq(h256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    cr_assert_eq(sha1_hex("abc", 3, h1), 0);
    cr_assert_str_eq(h1, "a9993e364706816aba3e25717850c26c9cd0d89d");
    cr_assert_eq(sha1_hex("", 0, h1), 0);
    cr_assert_str_eq(h1, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

static void *
hash_many(void *arg) {
    (void)arg;
    char h[65];
    for (int i = 0; i < 2000; i++)
        if (sha256_hex("abc", 3, h) < 0 ||
            strcmp(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"))
            return (void *)1;
    return NULL;
}

Test(digest, threads_share_the_fetched_algorithm) {
    pthread_t t[4];
    for (int i = 0; i < 4; i++) cr_assert_eq(pthread_create(&t[i], NULL, hash_many, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *bad = NULL;
        cr_assert_eq(pthread_join(t[i], &bad), 0);
        cr_assert_null(bad, "thread %d got a wrong digest", i);
    }
}
