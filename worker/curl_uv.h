/* curl_uv — libcurl's multi interface driven by a libuv loop.
 *
 * Owns: the CURLM handle, one uv_timer_t for curl's timeout, and one
 * heap-allocated uv_poll_t per socket curl asks us to watch (attached to
 * the socket with curl_multi_assign, closed on CURL_POLL_REMOVE).
 * Per-transfer state rides in CURLOPT_PRIVATE.
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
/* curl_uv_remove stops a transfer; its done_cb is not called. */
void curl_uv_remove(curl_uv_t *cu, CURL *easy);
/* curl_uv_close: every transfer must be done or removed first. */
void curl_uv_close(curl_uv_t *cu, void (*cb)(void *arg), void *arg);

#endif
