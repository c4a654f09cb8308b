/* page_server — a small HTTP server for tests, standing in for the
 * internet: it runs its own libuv loop in its own thread on 127.0.0.1
 * (an ephemeral port) and serves the files under root_dir (.html as
 * text/html, .txt as text/plain, .pdf as application/pdf; FILE?ct=TYPE
 * sends TYPE instead), plus these routes:
 *   /status/<code>       that status
 *   /hang                accepts, reads the request, never answers
 *   /headers             a page of the request's User-Agent and
 *                        Accept-Encoding, each in its own <p>
 *   /redirect?to=URL     302 to URL (%XX decoded)
 *   /redirect-chain/<n>  302 to /redirect-chain/<n-1>; 0 is a page
 *   /redirect-loop       302 to itself
 *   /empty?ct=TYPE       200, that Content-Type, no body
 *   /big/<n>             a text/html page of n bytes ("word word ..."),
 *                        with Content-Length, written as the socket drains
 *   /endless             "word word ..." with no length, never ending
 *   /trickle             the head, then one byte every 100 ms, forever
 *   /gzip-bomb           Content-Encoding: gzip, a body that never ends
 *                        and inflates about 1000 to 1
 * Every answer closes the connection. page_server_streamed counts the
 * body bytes the streamed routes have written (so a test can see a
 * client stopped early). page_server_start ignores SIGPIPE in the whole
 * process. page_server_stop joins the thread and frees everything. */
#ifndef WC_TEST_PAGE_SERVER_H
#define WC_TEST_PAGE_SERVER_H

#include <stdint.h>

typedef struct page_server page_server_t;

page_server_t *page_server_start(const char *root_dir);
int page_server_port(const page_server_t *ps);
uint64_t page_server_streamed(page_server_t *ps);
void page_server_stop(page_server_t *ps);

#endif
