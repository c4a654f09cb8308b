/* page_server — a small HTTP server for tests, standing in for the
 * internet: it runs its own libuv loop in its own thread on 127.0.0.1
 * (an ephemeral port) and serves the files under root_dir (.html as
 * text/html, .txt as text/plain, .pdf as application/pdf; FILE?ct=TYPE
 * sends TYPE instead), plus these routes:
 *   /status/<code>       that status (?retry_after=V adds "Retry-After: V")
 *   /robots.txt          the file under root_dir, or what
 *                        page_server_set_robots set (as late as
 *                        page_server_set_robots_delay says)
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
 * and pages that let a test catch a job mid-flight or make it fail:
 *   /slow/<ms>          a small HTML page, sent after <ms> milliseconds
 *   /drip/<ms>          an HTML page sent a few bytes every 100 ms for
 *                       <ms> milliseconds (a fetch that stays alive)
 *   /flaky/<n>/<key>    503 for the first <n> requests naming <key>, then
 *                       a small HTML page (at most 256 keys are tracked)
 *   /gate               held until page_server_gate_open, then (and from
 *                       then on at once) a small HTML page: a job stays
 *                       in flight for exactly as long as the test needs
 * For politeness tests it records the connections open at each moment
 * (page_server_open_peak: the most at once) and the time of every
 * request (page_server_requests); one server per loopback address
 * (127.0.0.2, 127.0.0.3, ...) stands for one host.
 * Files are served with an ETag (size and modification time) and a
 * Last-Modified; a request whose If-None-Match names the ETag, or
 * (without one) whose If-Modified-Since is not older than the file, gets
 * 304 with no body (page_server_not_modified counts them).
 * Every answer closes the connection. page_server_streamed counts the
 * body bytes the streamed routes have written (so a test can see a
 * client stopped early). page_server_start ignores SIGPIPE in the whole
 * process. page_server_stop joins the thread and frees everything.
 *
 * The server thread is created by the caller's thread, so it lives in the
 * caller's network namespace: a test that entered a namespace (setns)
 * serves pages inside it. */
#ifndef WC_TEST_PAGE_SERVER_H
#define WC_TEST_PAGE_SERVER_H

#include <stddef.h>
#include <stdint.h>

typedef struct page_server page_server_t;

page_server_t *page_server_start(const char *root_dir);
/* page_server_start_on listens on ip (an IPv4 address, port chosen by the
 * kernel) instead of 127.0.0.1. */
page_server_t *page_server_start_on(const char *root_dir, const char *ip);
int page_server_port(const page_server_t *ps);
uint64_t page_server_streamed(page_server_t *ps);
/* page_server_gate_open answers the requests held at /gate and every later
 * one (callable from any thread; the answers go out shortly after). */
void page_server_gate_open(page_server_t *ps);
void page_server_stop(page_server_t *ps);
/* page_server_set_robots answers /robots.txt with status and body from
 * now on (status 0: the file again). */
void page_server_set_robots(page_server_t *ps, int status, const char *body);
/* page_server_set_robots_delay sends the robots.txt answer set by
 * page_server_set_robots delay_ms after its request (0: at once). */
void page_server_set_robots_delay(page_server_t *ps, int delay_ms);
/* page_server_open_peak is the most connections that were open at once. */
int page_server_open_peak(page_server_t *ps);
/* page_server_requests returns how many requests came, and copies the
 * time of the first max of them (ms since the epoch) to times (may be
 * NULL). */
size_t page_server_requests(page_server_t *ps, int64_t *times, size_t max);

/* page_server_not_modified is how many 304s were sent. */
size_t page_server_not_modified(page_server_t *ps);

#endif
