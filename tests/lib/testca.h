/* testca — a throwaway certificate authority for the TLS tests, made at
 * test time by tests/lib/testca.sh (the openssl command) in a fresh folder
 * under /tmp.
 *
 * Owns: that folder and the files in it (see testca.sh): the CA, a server
 * certificate it issued for localhost and 127.0.0.1, one it issued for
 * another name only, and a self-signed one. testca_free removes the folder
 * (KEEP_TMP=1 keeps it). testca_make fails the current Criterion test when
 * openssl does. */
#ifndef WC_TEST_TESTCA_H
#define WC_TEST_TESTCA_H

struct testca {
    char dir[64];
    char ca[96];                         /* ca.crt */
    char server_crt[96], server_key[96]; /* localhost, 127.0.0.1 */
    char other_crt[96], other_key[96];   /* other.invalid */
    char self_crt[96], self_key[96];     /* self-signed, localhost and 127.0.0.1 */
};

void testca_make(struct testca *ca);
void testca_free(struct testca *ca);

#endif
