/* tls — the client side of TLS, with OpenSSL, for connections whose bytes
 * the caller moves itself (common/transport on libuv).
 *
 * Owns:
 *  - tls_ctx_t: an SSL_CTX set up once per connection owner from struct
 *    tls_opts: TLS 1.2 or newer; unless verify is off, the server's
 *    certificate must chain to the CA file, or to the system store
 *    (Debian's ca-certificates) when there is none.
 *  - tls_session_t: one connection's TLS state, an SSL object between two
 *    memory BIOs. Ciphertext from the network goes in with
 *    tls_session_feed; ciphertext for the network comes out with
 *    tls_session_take; plaintext goes through tls_session_read and
 *    tls_session_write. No socket is touched here, so the same code runs
 *    on any loop and in tests without a network.
 *
 * Host names: a session checks the server's name against the certificate
 * (subject alternative names: DNS names, or IP addresses when the host is
 * an address literal) and sends it as SNI when it is a name. With verify
 * off neither the chain nor the name is checked: the connection is
 * encrypted but not authenticated (providers with self-signed
 * certificates; the README names them).
 *
 * Errors: negative returns are UV_* codes (UV_EPROTO for a TLS failure,
 * UV_EOF when the server closed the TLS session); tls_session_error then
 * says why, e.g. "certificate verify failed: Hostname mismatch".
 * tls_ctx_free may run while sessions made from it live (OpenSSL counts
 * references); tls_session_free frees one session. */
#ifndef WC_TLS_H
#define WC_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* What a connection owner asks of TLS. ca_file NULL: the system store. */
struct tls_opts {
    const char *ca_file;
    bool verify; /* certificate chain and host name; false: neither */
};

typedef struct tls_ctx tls_ctx_t;
typedef struct tls_session tls_session_t;

/* tls_ctx_new loads the CA file (or the system store) as o says; NULL
 * with a message in err when it cannot (unreadable file, no certificate
 * in it). o NULL means verify with the system store. */
tls_ctx_t *tls_ctx_new(const struct tls_opts *o, char *err, size_t errlen);
void tls_ctx_free(tls_ctx_t *c);
/* tls_opts_check is tls_ctx_new and tls_ctx_free: 0, or -1 with err. */
int tls_opts_check(const struct tls_opts *o, char *err, size_t errlen);

/* tls_session_new starts a client session for host (a name or an address
 * literal); NULL with err when OpenSSL refuses. */
tls_session_t *tls_session_new(tls_ctx_t *c, const char *host, char *err, size_t errlen);
void tls_session_free(tls_session_t *s);
/* tls_session_handshake advances the handshake: 0 done, 1 waiting for the
 * server (send what tls_session_take gives, feed its answer), or
 * UV_EPROTO. */
int tls_session_handshake(tls_session_t *s);
/* tls_session_feed hands over ciphertext received from the server. */
void tls_session_feed(tls_session_t *s, const char *data, size_t len);
/* tls_session_read decrypts into buf: the byte count, 0 when it needs more
 * input, UV_EOF when the server closed the session, or UV_EPROTO. */
ssize_t tls_session_read(tls_session_t *s, char *buf, size_t cap);
/* tls_session_write encrypts all of data (after the handshake): 0 or
 * UV_EPROTO. */
int tls_session_write(tls_session_t *s, const char *data, size_t len);
/* tls_session_pending is how many ciphertext bytes wait to be sent. */
size_t tls_session_pending(const tls_session_t *s);
/* tls_session_take moves up to cap waiting ciphertext bytes into buf and
 * returns how many. */
size_t tls_session_take(tls_session_t *s, char *buf, size_t cap);
/* tls_session_error says why the last call failed ("" if none). */
const char *tls_session_error(const tls_session_t *s);

#endif
