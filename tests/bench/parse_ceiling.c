/* parse_ceiling — libxml2's bare HTML parse (a SAX push parse with no
 * callbacks, as the worker feeds it) of every file named on stdin, REPEAT
 * times: the parse ceiling of the end-to-end benchmark, in pages/s on one
 * core. Usage: parse_ceiling REPEAT < FILE_LIST -> "pages_per_s mb_per_s" */
#include <libxml/HTMLparser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int
main(int argc, char **argv) {
    int repeat = argc > 1 ? atoi(argv[1]) : 1;
    char path[4096];
    size_t n = 0, cap = 2048, total = 0;
    char **docs = malloc(cap * sizeof *docs);
    size_t *lens = malloc(cap * sizeof *lens);
    while (fgets(path, sizeof path, stdin)) {
        path[strcspn(path, "\n")] = '\0';
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        rewind(f);
        if (n == cap) {
            cap *= 2;
            docs = realloc(docs, cap * sizeof *docs);
            lens = realloc(lens, cap * sizeof *lens);
        }
        docs[n] = malloc((size_t)len);
        lens[n] = fread(docs[n], 1, (size_t)len, f);
        total += lens[n];
        n++;
        fclose(f);
    }
    htmlSAXHandler sax;
    memset(&sax, 0, sizeof sax);
    double t0 = now();
    for (int r = 0; r < repeat; r++) {
        for (size_t i = 0; i < n; i++) {
            htmlParserCtxtPtr c =
                htmlCreatePushParserCtxt(&sax, NULL, NULL, 0, NULL, XML_CHAR_ENCODING_UTF8);
            htmlCtxtUseOptions(c, HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_RECOVER |
                                      HTML_PARSE_NONET);
            for (size_t off = 0; off < lens[i]; off += 16384) {
                size_t k = lens[i] - off < 16384 ? lens[i] - off : 16384;
                htmlParseChunk(c, docs[i] + off, (int)k, 0);
            }
            htmlParseChunk(c, NULL, 0, 1);
            if (c->myDoc) xmlFreeDoc(c->myDoc);
            htmlFreeParserCtxt(c);
        }
    }
    double dt = now() - t0;
    printf("%.1f %.1f\n", (double)(n * (size_t)repeat) / dt, (double)total * repeat / dt / 1e6);
    for (size_t i = 0; i < n; i++) free(docs[i]);
    free(docs);
    free(lens);
    return 0;
}
