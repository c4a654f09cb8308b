/* raw_http.c — blocking loopback HTTP client for server tests. */
#include "tests/lib/raw_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* Bytes read past the end of one response wait here for the next call,
 * keyed by socket (tests use a few sockets at a time). */
#define RAW_MAX_FDS 4096
static struct buf pending[RAW_MAX_FDS];

int
raw_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 || fd >= RAW_MAX_FDS) {
        close(fd);
        return -1;
    }
    buf_reset(&pending[fd]);
    return fd;
}

int
raw_send(int fd, const char *data, size_t len) {
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

int
raw_send_str(int fd, const char *s) {
    return raw_send(fd, s, strlen(s));
}

/* fill reads more bytes into pending[fd]; 1 read, 0 EOF, -1 timeout/error. */
static int
fill(int fd, int timeout_ms) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int rc = poll(&p, 1, timeout_ms);
    if (rc <= 0) return -1;
    char tmp[16384];
    ssize_t n = recv(fd, tmp, sizeof tmp, 0);
    if (n < 0) return errno == ECONNRESET ? 0 : -1;
    if (n == 0) return 0;
    buf_append(&pending[fd], tmp, (size_t)n);
    return 1;
}

static int
read_one(int fd, struct raw_response *r, int timeout_ms, bool head_only) {
    memset(r, 0, sizeof *r);
    buf_init(&r->head);
    buf_init(&r->body);
    struct buf *in = &pending[fd];
    char *end;
    while (!in->data || !(end = memmem(in->data, in->len, "\r\n\r\n", 4)))
        if (fill(fd, timeout_ms) <= 0) return -1;
    size_t head_len = (size_t)(end - in->data) + 4;
    buf_append(&r->head, in->data, head_len);
    if (sscanf(r->head.data, "HTTP/1.%*d %d", &r->status) != 1) return -1;
    char cl[32];
    size_t body_len = 0;
    bool bodyless = head_only || r->status < 200 || r->status == 204 || r->status == 304;
    if (!bodyless && raw_header(r, "Content-Length", cl, sizeof cl))
        body_len = strtoul(cl, NULL, 10);
    while (in->len < head_len + body_len)
        if (fill(fd, timeout_ms) <= 0) return -1;
    buf_append(&r->body, in->data + head_len, body_len);
    if (!r->body.data) buf_append(&r->body, "", 0);
    size_t used = head_len + body_len;
    memmove(in->data, in->data + used, in->len - used);
    in->len -= used;
    return 0;
}

int
raw_read(int fd, struct raw_response *r, int timeout_ms) {
    return read_one(fd, r, timeout_ms, false);
}

int
raw_read_head(int fd, struct raw_response *r, int timeout_ms) {
    return read_one(fd, r, timeout_ms, true);
}

bool
raw_header(const struct raw_response *r, const char *name, char *out, size_t n) {
    size_t nlen = strlen(name);
    for (const char *p = strstr(r->head.data, "\r\n"); p && p[2] != '\r';
         p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (!strncasecmp(line, name, nlen) && line[nlen] == ':') {
            const char *v = line + nlen + 1;
            while (*v == ' ') v++;
            size_t len = strcspn(v, "\r");
            if (len >= n) len = n - 1;
            memcpy(out, v, len);
            out[len] = '\0';
            return true;
        }
    }
    return false;
}

void
raw_response_free(struct raw_response *r) {
    buf_free(&r->head);
    buf_free(&r->body);
}

bool
raw_closed(int fd, int timeout_ms) {
    if (pending[fd].len) return false;
    return fill(fd, timeout_ms) == 0;
}
