/* curl_uv — libcurl's multi interface driven by a libuv loop.
 *
 * Owns: the CURLM handle, one uv_timer_t for curl's timeout, and one
 * heap-allocated uv_poll_t per socket curl asks us to watch, found by
 * the socket's number (a table, not curl_multi_assign: curl forgets a
 * socket's pointer at every CURL_POLL_REMOVE, and a kept connection is
 * removed after every transfer). Per-transfer state rides in
 * CURLOPT_PRIVATE.
 *
 * A socket's poll handle lives as long as the socket: a connection that
 * goes back to curl's cache stays watched (unreferenced, so it keeps no
 * loop alive) and the next transfer on it costs no system call here;
 * the handle closes when curl closes the socket, through
 * CURLOPT_CLOSESOCKETFUNCTION, which curl_uv_add sets (with its data)
 * and which closes the socket itself. That holds for sockets opened by
 * curl_uv_open_socket: curl closes a connection attempt it gives up on,
 * and its resolver's socket pair, without that callback, so any other
 * socket, and one that never got as far as being read, has its handle
 * closed at CURL_POLL_REMOVE as before. A caller that sets
 * CURLOPT_OPENSOCKETFUNCTION opens the socket with curl_uv_open_socket.
 *
 * Easy handles stay owned by the caller: curl_uv_add returns 0 and later
 * calls done_cb exactly once, after removing the handle from the multi
 * (the caller may clean it up inside done_cb); curl_uv_remove takes a
 * handle out early without a callback. curl_global_init is the program's
 * job (worker/main.c). */
#ifndef WC_CURL_UV_H
#define WC_CURL_UV_H

#include <curl/curl.h>
#include <uv.h>

typedef struct curl_uv curl_uv_t;
typedef void (*curl_uv_done_cb)(CURL *easy, CURLcode result, void *arg);

/* curl_uv_new: max_connects > 0 caps the connections curl keeps open
 * (in use and idle, CURLMOPT_MAXCONNECTS); 0 leaves curl's default,
 * four per easy handle added at the time, which closes a connection
 * whenever fewer transfers are running than connections are open. */
curl_uv_t *curl_uv_new(uv_loop_t *loop, long max_connects);
/* curl_uv_loop: the loop it runs on. */
uv_loop_t *curl_uv_loop(const curl_uv_t *cu);
int curl_uv_add(curl_uv_t *cu, CURL *easy, curl_uv_done_cb cb, void *arg);
/* curl_uv_open_socket opens the socket for addr, for a
 * CURLOPT_OPENSOCKETFUNCTION of a transfer on cu (CURL_SOCKET_BAD when
 * it cannot). */
curl_socket_t curl_uv_open_socket(curl_uv_t *cu, const struct curl_sockaddr *addr);
/* curl_uv_remove stops a transfer; its done_cb is not called. */
void curl_uv_remove(curl_uv_t *cu, CURL *easy);
/* curl_uv_watched: how many sockets have a poll handle (tests). */
int curl_uv_watched(const curl_uv_t *cu);
/* curl_uv_close: every transfer must be done or removed first. */
void curl_uv_close(curl_uv_t *cu, void (*cb)(void *arg), void *arg);

#endif
