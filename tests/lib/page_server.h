/* page_server — a small HTTP server for tests, standing in for the
 * internet: it runs its own libuv loop in its own thread on 127.0.0.1
 * (an ephemeral port) and serves the files under root_dir (.html as
 * text/html, .txt as text/plain, .pdf as application/pdf), plus
 * /status/<code> (that status) and /hang (accepts, never answers).
 * Every answer closes the connection. page_server_stop joins the thread
 * and frees everything. */
#ifndef WC_TEST_PAGE_SERVER_H
#define WC_TEST_PAGE_SERVER_H

typedef struct page_server page_server_t;

page_server_t *page_server_start(const char *root_dir);
int page_server_port(const page_server_t *ps);
void page_server_stop(page_server_t *ps);

#endif
