/* submit_load — the client of the end-to-end benchmark's drains (the
 * queue filled first, and submitting while draining): POSTs N jobs to the
 * API over CONNS keep-alive connections at once (a libcurl multi), as fast
 * as the API answers, so that the client costs little CPU beside the
 * system it measures (a Python client took a large share of one of this
 * machine's two cores). Job k is
 * {"url": "<URL_FILE's line k mod lines>?job=k", "fresh": true}. A
 * submission the API refuses (not 202: 429, 503) or that fails on the way
 * is sent again after a short pause, so exactly N are accepted. Usage:
 *   submit_load API_URL URL_FILE N CONNS -> "accepted refused seconds"
 * Exits 1 when a submission fails 50 times in a row. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CONNS 64
#define BODY_MAX 8192

struct slot {
    CURL *easy;
    long job;
    int tries;
    char body[BODY_MAX];
};

static char **urls;
static size_t nurls;

static size_t
discard(char *p, size_t s, size_t n, void *arg) {
    (void)p;
    (void)arg;
    return s * n;
}

static double
now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void
start(CURLM *m, struct slot *s, long job) {
    s->job = job;
    snprintf(s->body, sizeof s->body, "{\"url\": \"%s?job=%ld\", \"fresh\": true}",
             urls[(size_t)job % nurls], job);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, s->body);
    curl_multi_add_handle(m, s->easy);
}

int
main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s API_URL URL_FILE N CONNS\n", argv[0]);
        return 2;
    }
    long n = atol(argv[3]);
    int conns = atoi(argv[4]);
    if (n < 1 || conns < 1 || conns > MAX_CONNS) {
        fprintf(stderr, "submit_load: N must be positive and CONNS 1 to %d\n", MAX_CONNS);
        return 2;
    }
    FILE *f = fopen(argv[2], "r");
    if (!f) {
        perror(argv[2]);
        return 1;
    }
    size_t cap = 4096;
    char line[4096];
    urls = malloc(cap * sizeof *urls);
    while (urls && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (!*line) continue;
        if (nurls == cap) urls = realloc(urls, (cap *= 2) * sizeof *urls);
        if (urls) urls[nurls++] = strdup(line);
    }
    fclose(f);
    if (!urls || nurls == 0) {
        fprintf(stderr, "submit_load: no URLs in %s\n", argv[2]);
        return 1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)conns);
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    static struct slot slots[MAX_CONNS];
    long next = 0, accepted = 0, refused = 0;
    double t0 = now();
    for (int i = 0; i < conns && next < n; i++) {
        slots[i].easy = curl_easy_init();
        if (!slots[i].easy) {
            fprintf(stderr, "submit_load: curl_easy_init failed\n");
            return 1;
        }
        curl_easy_setopt(slots[i].easy, CURLOPT_URL, argv[1]);
        curl_easy_setopt(slots[i].easy, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(slots[i].easy, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(slots[i].easy, CURLOPT_PRIVATE, &slots[i]);
        curl_easy_setopt(slots[i].easy, CURLOPT_TIMEOUT, 30L);
        start(m, &slots[i], next++);
    }
    int running = 1, status = 0;
    while (running && status == 0) {
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE) continue;
            struct slot *s;
            long code = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
            CURLcode rc = msg->data.result;
            curl_multi_remove_handle(m, s->easy);
            if (rc == CURLE_OK && code == 202) {
                accepted++;
                s->tries = 0;
                if (next < n) start(m, s, next++);
                continue;
            }
            refused++;
            if (++s->tries >= 50) {
                fprintf(stderr, "submit_load: job %ld refused 50 times (last: %s, HTTP %ld)\n",
                        s->job, curl_easy_strerror(rc), code);
                status = 1;
                break;
            }
            struct timespec pause = {0, 20 * 1000 * 1000};
            nanosleep(&pause, NULL);
            start(m, s, s->job);
        }
        if (running || accepted < n) curl_multi_poll(m, NULL, 0, 100, NULL);
        if (accepted < n && status == 0) running = 1;
    }
    printf("%ld %ld %.3f\n", accepted, refused, now() - t0);
    for (int i = 0; i < conns; i++)
        if (slots[i].easy) {
            curl_multi_remove_handle(m, slots[i].easy);
            curl_easy_cleanup(slots[i].easy);
        }
    curl_slist_free_all(hdr);
    curl_multi_cleanup(m);
    curl_global_cleanup();
    for (size_t i = 0; i < nurls; i++) free(urls[i]);
    free(urls);
    return status;
}
