/* transport — one outgoing TCP connection on a libuv loop, in the clear or
 * inside TLS (common/tls), carrying bytes for a protocol module (redis_uv
 * formats and parses them itself).
 *
 * Owns: the host name, the resolver request and its address list (each
 * address is tried in turn, as hiredis did), the uv_tcp_t (TCP_NODELAY,
 * keep-alive), the TLS session when a tls_ctx is given (the ctx stays the
 * caller's and must outlive the transport), the outgoing bytes and the one
 * write in flight.
 *
 * Contract:
 *  - transport_new connects to host at once when it is an address
 *    literal, else resolves it first (libuv's thread pool, so a slow DNS
 *    server never blocks the loop). Exactly one of on_connect or on_error
 *    follows, always from a later turn of the loop.
 *  - on_connect: TCP is up and, with TLS, the handshake is done and the
 *    certificate and host name are checked as the ctx says.
 *  - on_read: bytes from the server (decrypted), valid during the call.
 *  - on_error: resolving, connecting, the TLS handshake, a read or a
 *    write failed, or the server closed the connection. It runs at most
 *    once, and no on_connect or on_read runs after it; the owner then
 *    calls transport_close.
 *  - transport_write copies the bytes. Everything written during one turn
 *    of the loop leaves in one write, just before the loop waits again
 *    (a uv_prepare_t), so pipelined commands share syscalls and TLS
 *    records as they did with hiredis.
 *  - Any callback may call transport_close. After transport_close no
 *    callback but close_cb runs; close_cb runs from a later turn of the
 *    loop, once the memory is gone. Bytes not yet written are dropped
 *    (no TLS close_notify: the peers here tolerate a plain close). */
#ifndef WC_TRANSPORT_H
#define WC_TRANSPORT_H

#include <stddef.h>
#include <uv.h>

#include "common/tls.h"

typedef struct transport transport_t;

typedef void (*transport_connect_cb)(transport_t *t, void *arg);
typedef void (*transport_read_cb)(transport_t *t, const char *data, size_t len, void *arg);
typedef void (*transport_error_cb)(transport_t *t, const char *errstr, void *arg);
typedef void (*transport_close_cb)(void *arg);

struct transport_cbs {
    transport_connect_cb on_connect;
    transport_read_cb on_read;
    transport_error_cb on_error;
};

/* transport_new starts connecting to host:port, with TLS when tls is not
 * NULL. See the contract above. */
transport_t *transport_new(uv_loop_t *loop, const char *host, int port, tls_ctx_t *tls,
                           const struct transport_cbs *cbs, void *arg);
/* transport_write queues len bytes: 0, or UV_ENOTCONN before on_connect,
 * after on_error or once closing. */
int transport_write(transport_t *t, const char *data, size_t len);
/* transport_close closes asynchronously; t must not be used afterwards. */
void transport_close(transport_t *t, transport_close_cb cb, void *arg);

#endif
