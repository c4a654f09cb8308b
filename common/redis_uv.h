/* redis_uv — one Redis connection driven by a libuv loop, with reconnect,
 * in the clear (redis://) or over TLS (rediss://).
 *
 * Owns: the parsed REDIS_URL (common/redis_url), the TLS context for
 * rediss:// (common/tls, made once and kept across reconnects), the live
 * connection (common/transport), hiredis's reply reader for it, the
 * commands in flight, the reconnect backoff timer and the command timeout
 * timer. Commands are encoded by hiredis's formatter (redisFormatCommand*)
 * and replies decoded by its reader (redisReader): hiredis 0.14, Debian
 * 12's, has no TLS, so its async context and libuv adapter are not used.
 * A Lua script called as EVAL goes whole once per connection and as
 * EVALSHA after that (common/redis_scripts.h); should Redis answer
 * NOSCRIPT (its script cache flushed under a live connection), that one
 * call fails with the error and the next calls send the scripts whole.
 * After (re)connecting it sends AUTH (AUTH user password with a user in the
 * URL, Redis 6 ACLs; AUTH password without) and SELECT when the URL asks
 * for them, before any queued user command.
 *
 * Contract (libuv/hiredis style):
 *  - redis_uv_command returns 0 and later calls cb exactly once, or returns
 *    a negative UV_* error (UV_ENOTCONN while disconnected, UV_ECANCELED
 *    while closing) and never calls cb. Callers see "Redis down" at once.
 *  - cb gets reply == NULL and a message in errstr when the command did not
 *    complete (connection lost, command timeout, close). A Redis error
 *    reply (REDIS_REPLY_ERROR) is a reply, not NULL.
 *  - The reply is freed when cb returns: copy what you keep.
 *  - Every reply answers one command, except pub/sub messages: on a
 *    connection given redis_uv_on_message, a ["message", channel, payload]
 *    array goes to that callback, and the reply to each SUBSCRIBE (one
 *    channel per command) answers the command as usual. Subscriptions end
 *    with the connection: subscribe again from on_state's connect.
 *  - A command that gets no answer within cmd_timeout_ms drops the
 *    connection (every pending command fails with errstr "timeout") and
 *    reconnecting starts. For a blocking command (XREADGROUP BLOCK), use a
 *    dedicated connection whose timeout exceeds the block time. The same
 *    timeout bounds connecting (TCP, TLS handshake) and the AUTH/SELECT
 *    handshake.
 *  - Reconnect: backoff from 100 ms doubling to 5 s, with jitter, forever,
 *    until redis_uv_close. on_state reports each connect and disconnect.
 *    A failed certificate check is a failed connect like any other: it is
 *    logged (with the reason) and retried.
 *  - redis_uv_close(r, cb): pending commands get cb(NULL, "closing") during
 *    the call; the connection and timers close; close_cb runs once the
 *    memory is gone. */
#ifndef WC_REDIS_UV_H
#define WC_REDIS_UV_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "common/tls.h"

typedef struct redis_uv redis_uv_t;

typedef void (*redis_uv_cb)(redis_uv_t *r, redisReply *reply, const char *errstr, void *arg);
typedef void (*redis_uv_state_cb)(redis_uv_t *r, bool connected, void *arg);
typedef void (*redis_uv_close_cb)(void *arg);

/* redis_uv_new parses url (redis_url.h) and starts connecting; a rediss://
 * URL uses tls (NULL: verify against the system's CA store). Returns NULL
 * with a message in err when the URL is invalid or TLS cannot be set up
 * (an unreadable CA file). name is used in log lines ("redis-main"). */
redis_uv_t *redis_uv_new(uv_loop_t *loop, const char *url, const struct tls_opts *tls,
                         const char *name, int cmd_timeout_ms, char *err, size_t errlen);
/* A pub/sub message (valid during the call only). */
typedef void (*redis_uv_message_cb)(redis_uv_t *r, const char *channel, const char *payload,
                                    size_t len, void *arg);

/* redis_uv_on_message makes r a subscriber connection: messages go to cb. */
void redis_uv_on_message(redis_uv_t *r, redis_uv_message_cb cb, void *arg);
/* redis_uv_on_state sets a callback for connect/disconnect events. */
void redis_uv_on_state(redis_uv_t *r, redis_uv_state_cb cb, void *arg);
bool redis_uv_connected(const redis_uv_t *r);
/* redis_uv_command sends argv (binary safe). See the contract above. */
int redis_uv_command(redis_uv_t *r, redis_uv_cb cb, void *arg, int argc, const char **argv,
                     const size_t *argvlen);
/* redis_uv_commandf sends a hiredis format command ("HGETALL %s"). */
int redis_uv_commandf(redis_uv_t *r, redis_uv_cb cb, void *arg, const char *fmt, ...);
/* redis_uv_last_error returns the last connection error text ("" if none). */
const char *redis_uv_last_error(const redis_uv_t *r);
/* redis_uv_close closes asynchronously; r must not be used afterwards. */
void redis_uv_close(redis_uv_t *r, redis_uv_close_cb cb, void *arg);

#endif
