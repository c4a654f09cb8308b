/* fetch_ceiling — how fast this machine's nginx hands the pages to a
 * libcurl multi client at a given concurrency, bodies discarded: the
 * fetch ceiling of the end-to-end benchmark. Usage:
 *   fetch_ceiling URL_FILE CONCURRENCY REPEAT  -> "pages_per_s mb_per_s" */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static size_t bytes;

static size_t
discard(char *p, size_t s, size_t n, void *arg) {
    (void)p;
    (void)arg;
    bytes += s * n;
    return s * n;
}

static double
now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int
main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s URL_FILE CONCURRENCY REPEAT\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    size_t cap = 4096, n = 0;
    char **urls = malloc(cap * sizeof *urls), line[4096];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0]) continue;
        if (n == cap) urls = realloc(urls, (cap *= 2) * sizeof *urls);
        urls[n++] = strdup(line);
    }
    fclose(f);
    int conc = atoi(argv[2]), repeat = atoi(argv[3]);
    size_t total = n * (size_t)repeat, next = 0, done = 0;
    curl_global_init(CURL_GLOBAL_ALL);
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)conc);
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)conc * 2);
    double t0 = now();
    int running = 0;
    while (done < total) {
        while (next < total && running < conc) {
            CURL *e = curl_easy_init();
            curl_easy_setopt(e, CURLOPT_URL, urls[next % n]);
            curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
            curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
            curl_multi_add_handle(m, e);
            next++;
            running++;
        }
        int still;
        curl_multi_perform(m, &still);
        curl_multi_poll(m, NULL, 0, 100, NULL);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE) continue;
            curl_multi_remove_handle(m, msg->easy_handle);
            curl_easy_cleanup(msg->easy_handle);
            running--;
            done++;
        }
    }
    double dt = now() - t0;
    printf("%.1f %.1f\n", (double)total / dt, (double)bytes / dt / 1e6);
    curl_multi_cleanup(m);
    curl_global_cleanup();
    for (size_t i = 0; i < n; i++) free(urls[i]);
    free(urls);
    return 0;
}
