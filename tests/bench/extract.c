/* extract — throughput of the worker's page pipeline against libxml2's
 * bare parse of the same pages (issue 4's benchmark; tests/bench/extract.sh
 * runs it over the PostgreSQL manual).
 *
 * Usage: extract [-r RUNS] [-o results.json] FILE...
 *
 * Every file is read into memory first; each mode then processes all of
 * them, fed in 16 KiB pieces as libcurl hands them over (CURL_MAX_WRITE_SIZE),
 * RUNS rounds (the modes take turns in each), and the median of the CPU time (CLOCK_PROCESS_CPUTIME_ID, so
 * the figure is per core and other load on the machine matters little) is
 * turned into MB/s (10^6 bytes of page per second). Modes:
 *
 *   bare_push   libxml2's HTML push parser with no SAX callbacks at all
 *               (no tree, no text): the ceiling, the stricter one.
 *   bare_tree   htmlReadMemory, libxml2's ordinary parse into a tree.
 *   text        the decode and extract stages (worker/extract.h, the
 *               text/html row): charset, decoding, parse, visible text.
 *   pipeline    what a worker does per page after the fetch
 *               (worker/analysis.c): decode, extract, then the count stage
 *               (worker/tally.h): words, counts, and the counts without
 *               stop words (NLTK list).
 *
 * Nothing is asserted: the figures are printed and written as JSON. The
 * pipeline's word total is printed too, so runs can be compared. */
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "worker/count.h"
#include "worker/extract.h"
#include "worker/stopwords.h"
#include "worker/tally.h"

#define CHUNK 16384
#define MAX_RUNS 99

struct page {
    char *data;
    size_t len;
};

static struct page *pages;
static size_t npages, total_bytes;

static double
cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
load(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    struct buf b;
    buf_init(&b);
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) buf_append(&b, tmp, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        buf_free(&b);
        fprintf(stderr, "%s: read error\n", path);
        return -1;
    }
    pages = xrealloc(pages, (npages + 1) * sizeof *pages);
    pages[npages].len = b.len;
    pages[npages].data = buf_steal(&b);
    total_bytes += pages[npages].len;
    npages++;
    return 0;
}

/* --- modes --- */

static uint64_t
run_bare_push(void) {
    static htmlSAXHandler none; /* every callback NULL: parse only */
    for (size_t i = 0; i < npages; i++) {
        htmlParserCtxtPtr c =
            htmlCreatePushParserCtxt(&none, NULL, NULL, 0, NULL, XML_CHAR_ENCODING_NONE);
        htmlCtxtUseOptions(c, HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_RECOVER |
                                  HTML_PARSE_NONET | HTML_PARSE_COMPACT);
        for (size_t off = 0; off < pages[i].len; off += CHUNK) {
            size_t n = pages[i].len - off < CHUNK ? pages[i].len - off : CHUNK;
            htmlParseChunk(c, pages[i].data + off, (int)n, 0);
        }
        htmlParseChunk(c, NULL, 0, 1);
        if (c->myDoc) xmlFreeDoc(c->myDoc);
        htmlFreeParserCtxt(c);
    }
    return 0;
}

static uint64_t
run_bare_tree(void) {
    for (size_t i = 0; i < npages; i++) {
        htmlDocPtr d =
            htmlReadMemory(pages[i].data, (int)pages[i].len, NULL, NULL,
                           HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_RECOVER |
                               HTML_PARSE_NONET | HTML_PARSE_COMPACT);
        if (d) xmlFreeDoc(d);
    }
    return 0;
}

static void
on_text_len(const char *text, size_t len, void *arg) {
    (void)text;
    *(uint64_t *)arg += len;
}

/* extract_page feeds one page to the extract stage as libcurl would. */
static void
extract_page(const struct page *p, extract_text_cb cb, void *arg) {
    extract_t *x = extract_open(extract_find("text/html"), NULL, cb, arg);
    for (size_t off = 0; off < p->len; off += CHUNK) {
        size_t n = p->len - off < CHUNK ? p->len - off : CHUNK;
        extract_feed(x, p->data + off, n);
    }
    extract_finish(x);
    extract_free(x);
}

static uint64_t
run_text(void) {
    uint64_t chars = 0;
    for (size_t i = 0; i < npages; i++) extract_page(&pages[i], on_text_len, &chars);
    return chars;
}

static struct stopwords sw;

static uint64_t
run_pipeline(void) {
    uint64_t words = 0;
    for (size_t i = 0; i < npages; i++) {
        /* Per page, as analysis.c does per job. */
        struct tally t;
        char err[256];
        if (tally_init(&t, &sw, err, sizeof err) < 0) {
            fprintf(stderr, "tokenizer: %s\n", err);
            exit(1);
        }
        extract_page(&pages[i], tally_text, &t);
        tally_finish(&t);
        words += count_total(&t.all);
        tally_free(&t);
    }
    return words;
}

static int
cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

struct mode {
    const char *name;
    uint64_t (*run)(void);
    double mbps;
    uint64_t out;
};

int
main(int argc, char **argv) {
    int runs = 5, opt;
    const char *json_path = NULL, *modes_arg = NULL;
    while ((opt = getopt(argc, argv, "r:o:m:")) != -1) {
        if (opt == 'r') runs = atoi(optarg);
        else if (opt == 'o') json_path = optarg;
        else if (opt == 'm') modes_arg = optarg;
        else {
            fprintf(stderr, "usage: %s [-r RUNS] [-o JSON] [-m mode,...] FILE...\n", argv[0]);
            return 2;
        }
    }
    if (runs < 1 || runs > MAX_RUNS || optind >= argc) {
        fprintf(stderr, "usage: %s [-r RUNS(1-%d)] [-o JSON] [-m mode,...] FILE...\n", argv[0],
                MAX_RUNS);
        return 2;
    }
    for (int i = optind; i < argc; i++)
        if (load(argv[i]) < 0) return 1;
    char err[256];
    if (stopwords_load(&sw, WC_SRCDIR "/worker/data/stopwords-english.txt", err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    xmlInitParser();

    struct mode modes[] = {{"bare_push", run_bare_push, 0, 0},
                           {"bare_tree", run_bare_tree, 0, 0},
                           {"text", run_text, 0, 0},
                           {"pipeline", run_pipeline, 0, 0}};
    size_t nmodes = sizeof modes / sizeof modes[0];
    printf("extract: %zu pages, %.1f MB, median of %d runs, CPU time of one core\n", npages,
           (double)total_bytes / 1e6, runs);
    /* The modes take turns within each round, so a slower spell of the
     * machine (other work, frequency) weighs on all of them alike. */
    static double t[4][MAX_RUNS];
    for (int r = -1; r < runs; r++) { /* round -1 warms up: ICU data, allocator */
        for (size_t m = 0; m < nmodes; m++) {
            if (modes_arg && !strstr(modes_arg, modes[m].name)) continue;
            double t0 = cpu_now();
            modes[m].out = modes[m].run();
            if (r >= 0) t[m][r] = cpu_now() - t0;
        }
    }
    for (size_t m = 0; m < nmodes; m++) {
        if (modes_arg && !strstr(modes_arg, modes[m].name)) continue;
        qsort(t[m], (size_t)runs, sizeof t[m][0], cmp_double);
        modes[m].mbps = (double)total_bytes / 1e6 / t[m][runs / 2];
        printf("  %-10s %8.1f MB/s", modes[m].name, modes[m].mbps);
        if (modes[m].out)
            printf("   (%llu %s)", (unsigned long long)modes[m].out,
                   strcmp(modes[m].name, "text") ? "words" : "bytes of text");
        printf("\n");
    }
    double ceiling = modes[0].mbps, tree = modes[1].mbps, pipe = modes[3].mbps;
    if (ceiling > 0 && pipe > 0)
        printf("  pipeline / bare_push = %.0f %%, pipeline / bare_tree = %.0f %%\n",
               100 * pipe / ceiling, tree > 0 ? 100 * pipe / tree : 0.0);
    if (json_path) {
        FILE *f = fopen(json_path, "w");
        if (!f) {
            perror(json_path);
            return 1;
        }
        fprintf(f,
                "{\"pages\": %zu, \"bytes\": %zu, \"runs\": %d, \"chunk\": %d, \"unit\": \"MB/s "
                "per core\"",
                npages, total_bytes, runs, CHUNK);
        for (size_t m = 0; m < nmodes; m++)
            fprintf(f, ", \"%s\": %.1f", modes[m].name, modes[m].mbps);
        fprintf(f, ", \"words\": %llu", (unsigned long long)modes[3].out);
        fprintf(f, ", \"ratio_bare_push\": %.3f, \"ratio_bare_tree\": %.3f}\n",
                ceiling > 0 ? pipe / ceiling : 0.0, tree > 0 ? pipe / tree : 0.0);
        if (fclose(f) != 0) {
            perror(json_path);
            return 1;
        }
    }
    for (size_t i = 0; i < npages; i++) free(pages[i].data);
    free(pages);
    stopwords_free(&sw);
    xmlCleanupParser();
    return 0;
}
