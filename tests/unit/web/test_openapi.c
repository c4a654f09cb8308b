/* The OpenAPI document is kept true: every route the router knows is
 * documented with its method, and every documented operation is a route. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <jansson.h>
#include <string.h>

#include "web/handlers.h"

static json_t *
load_doc(void) {
    json_error_t je;
    json_t *doc = json_load_file(WC_SRCDIR "/web/openapi.json", 0, &je);
    cr_assert_not_null(doc, "openapi.json line %d: %s", je.line, je.text);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "openapi")), "3.0.3");
    return doc;
}

static void
lower(const char *in, char *out, size_t n) {
    size_t i = 0;
    for (; in[i] && i + 1 < n; i++) out[i] = (char)tolower((unsigned char)in[i]);
    out[i] = '\0';
}

Test(openapi, every_route_is_documented) {
    json_t *doc = load_doc();
    json_t *paths = json_object_get(doc, "paths");
    for (size_t i = 0; i < web_nroutes; i++) {
        json_t *item = json_object_get(paths, web_routes[i].pattern);
        cr_expect_not_null(item, "route %s is not in openapi.json", web_routes[i].pattern);
        char m[16];
        lower(web_routes[i].method, m, sizeof m);
        json_t *op = json_object_get(item, m);
        cr_expect_not_null(op, "%s %s is not documented", web_routes[i].method,
                           web_routes[i].pattern);
        cr_expect(json_object_size(json_object_get(op, "responses")) > 0, "%s %s: no responses",
                  web_routes[i].method, web_routes[i].pattern);
    }
    json_decref(doc);
}

Test(openapi, every_documented_operation_is_a_route) {
    json_t *doc = load_doc();
    const char *path;
    json_t *item;
    json_object_foreach(json_object_get(doc, "paths"), path, item) {
        const char *method;
        json_t *op;
        json_object_foreach(item, method, op) {
            bool found = false;
            for (size_t i = 0; i < web_nroutes && !found; i++) {
                char m[16];
                lower(web_routes[i].method, m, sizeof m);
                found = !strcmp(web_routes[i].pattern, path) && !strcmp(m, method);
            }
            cr_expect(found, "openapi.json documents %s %s, which no route serves", method, path);
        }
    }
    json_decref(doc);
}

Test(openapi, error_responses_are_problems) {
    json_t *doc = load_doc();
    const char *path, *method, *code;
    json_t *item, *op, *resp;
    json_object_foreach(json_object_get(doc, "paths"), path, item) {
        json_object_foreach(item, method, op) {
            json_object_foreach(json_object_get(op, "responses"), code, resp) {
                if (code[0] != '4' && code[0] != '5') continue;
                if (!strcmp(path, "/readyz")) continue; /* 503 carries the readiness body */
                json_t *content = json_object_get(resp, "content");
                cr_expect_not_null(json_object_get(content, "application/problem+json"),
                                   "%s %s %s is not problem+json", method, path, code);
            }
        }
    }
    json_decref(doc);
}
