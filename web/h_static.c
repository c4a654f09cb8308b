/* h_static — the pages: GET/HEAD of /, /dashboard and /static/{file}
 * from STATIC_DIR (web/static.h), with ETag, Last-Modified, 304 and
 * Cache-Control: no-cache (the names are not fingerprinted, so a browser
 * revalidates each time and gets a bodiless 304 when nothing changed).
 * HTML gets a Content-Security-Policy that allows nothing from elsewhere. */
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "web/app.h"
#include "web/handlers.h"
#include "web/static.h"

static const char CSP[] = "default-src 'none'; script-src 'self'; style-src 'self'; img-src "
                          "'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
                          "frame-ancestors 'none'";

static void
validators(struct response *r, const struct static_file *f) {
    response_header(r, "ETag", "%s", f->etag);
    response_header(r, "Last-Modified", "%s", f->last_modified);
    response_header(r, "Cache-Control", "no-cache");
    response_header(r, "X-Content-Type-Options", "nosniff");
}

static void
serve(struct req *req, const char *rel) {
    const char *root = req->app->cfg->static_dir;
    struct static_file f;
    int rc = static_open(root ? root : "", rel, &f);
    if (rc == UV_ENOENT) {
        req_problem(req, 404, "Not Found", "no such file");
        return;
    }
    if (rc < 0) {
        log_error("msg=\"cannot serve static file\" file=%s dir=%s error=%s", log_q(rel),
                  log_q(root), uv_strerror(rc));
        req_problem(req, 500, "Internal Server Error", "the file cannot be read");
        return;
    }
    const struct http_request *http = req->http;
    struct response r;
    if (static_not_modified(http_request_header(http, "If-None-Match"),
                            http_request_header(http, "If-Modified-Since"), f.etag,
                            f.st.st_mtim.tv_sec)) {
        static_file_close(&f);
        response_init(&r, 304);
        validators(&r, &f);
        req_send(req, &r);
        return;
    }
    response_init(&r, 200);
    rc = static_read(&f, &r.body);
    static_file_close(&f);
    if (rc < 0) {
        log_error("msg=\"cannot read static file\" file=%s error=%s", log_q(rel), uv_strerror(rc));
        response_free(&r);
        req_problem(req, 500, "Internal Server Error", "the file cannot be read");
        return;
    }
    response_header(&r, "Content-Type", "%s", f.content_type);
    validators(&r, &f);
    if (!strncmp(f.content_type, "text/html", 9)) {
        response_header(&r, "Content-Security-Policy", "%s", CSP);
        response_header(&r, "Referrer-Policy", "no-referrer");
    }
    req_send(req, &r);
}

void
h_page_index(struct req *req) {
    serve(req, "index.html");
}

void
h_page_dashboard(struct req *req) {
    serve(req, "dashboard.html");
}

void
h_static_file(struct req *req) {
    serve(req, req->match.nparams ? req->match.params[0] : "");
}
