/* The deploy files, checked where no Docker engine runs: docker-compose.yml
 * (parsed with libyaml, interpolated as compose does) against the programs,
 * the configuration table (common/config.c) and .env.example;
 * deploy/Dockerfile against the Makefile's programs and the libraries they
 * link; deploy/Procfile; and deploy/systemd/ with systemd-analyze. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/xalloc.h"
#include "tests/lib/run.h"
#include "tests/lib/testenv.h"
#include "tests/lib/yaml_json.h"

/* One suite: Criterion (2.4, --jobs > 1) leaks its bookkeeping when a
 * test of one suite ends after the next suite has started, and the
 * sanitizer run reports that as a leak. */
TestSuite(deploy, .timeout = 60);

static const char *const SECRETS[] = {"POSTGRES_PASSWORD", "REDIS_PASSWORD", "ADMIN_TOKEN"};
#define NSECRETS (sizeof SECRETS / sizeof SECRETS[0])

/* --- files --- */

static char *
src_path(const char *rel) {
    return xasprintf("%s/%s", testenv_srcdir(), rel);
}

static char *
read_text(const char *rel) {
    char *path = src_path(rel);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot read %s", path);
    struct buf b;
    buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) buf_append(&b, chunk, n);
    buf_append(&b, "", 0);
    fclose(f);
    free(path);
    return buf_steal(&b);
}

static bool
file_exists(const char *rel) {
    char *p = src_path(rel);
    struct stat st;
    bool ok = stat(p, &st) == 0;
    free(p);
    return ok;
}

/* dotenv_example reads .env.example: KEY=VALUE lines, and "# KEY=..."
 * lines (documented optional settings) as known names with no value. */
static json_t *
dotenv_example(json_t **documented) {
    char *text = read_text(".env.example");
    json_t *vars = json_object();
    *documented = json_object();
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        bool comment = false;
        while (*line == ' ') line++;
        if (*line == '#') {
            comment = true;
            line++;
            while (*line == ' ') line++;
        }
        char *eq = strchr(line, '=');
        if (!eq || eq == line) continue;
        bool name_ok = true;
        for (char *p = line; p < eq; p++)
            name_ok &= isupper((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_';
        if (!name_ok) continue;
        *eq = '\0';
        json_object_set_new(*documented, line, json_true());
        if (!comment) json_object_set_new(vars, line, json_string(eq + 1));
    }
    free(text);
    return vars;
}

/* config_names lists the variables config_load reads, from common/config.c. */
static json_t *
config_names(void) {
    char *src = read_text("common/config.c");
    json_t *names = json_object();
    for (const char *p = src; (p = strstr(p, "(s, \"")); p += 5) {
        const char *start = p + 5, *end = strchr(start, '"');
        if (!end || end == start) continue;
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(end - start), start);
        json_object_set_new(names, name, json_true());
    }
    json_object_set_new(names, "ENV_FILE", json_true());
    free(src);
    cr_assert_gt(json_object_size(names), 25,
                 "config.c no longer reads variables as (s, \"NAME\")");
    return names;
}

/* --- compose interpolation: $$, $NAME, ${NAME}, ${NAME:-d}, ${NAME-d}, ${NAME:?e}, ${NAME?e} --- */

struct interp {
    json_t *vars;
    json_t *referenced; /* name -> true when it has a default */
    struct buf errors;
};

static char *
interpolate(struct interp *in, const char *s) {
    struct buf out;
    buf_init(&out);
    buf_append(&out, "", 0);
    while (*s) {
        if (s[0] != '$') {
            buf_append_char(&out, *s++);
            continue;
        }
        if (s[1] == '$') {
            buf_append_char(&out, '$');
            s += 2;
            continue;
        }
        const char *name = s + 1, *end;
        bool braced = *name == '{';
        if (braced) name++;
        for (end = name; isalnum((unsigned char)*end) || *end == '_'; end++) {
        }
        char var[128];
        snprintf(var, sizeof var, "%.*s", (int)(end - name), name);
        const char *op = "", *arg = "";
        char argbuf[512] = "";
        if (braced) {
            const char *close = strchr(end, '}');
            cr_assert_not_null(close, "unclosed ${ in %s", s);
            if (*end == ':' || *end == '-' || *end == '?') {
                op = *end == ':' ? (end[1] == '-' ? ":-" : ":?") : (*end == '-' ? "-" : "?");
                const char *a = end + strlen(op);
                snprintf(argbuf, sizeof argbuf, "%.*s", (int)(close - a), a);
                arg = argbuf;
            }
            end = close + 1;
        }
        bool has_default = !strcmp(op, ":-") || !strcmp(op, "-");
        json_t *prev = json_object_get(in->referenced, var);
        json_object_set_new(in->referenced, var, json_boolean(has_default || json_is_true(prev)));
        const char *val = json_string_value(json_object_get(in->vars, var));
        bool unset = val == NULL, empty = val && !*val;
        if ((!strcmp(op, ":-") && (unset || empty)) || (!strcmp(op, "-") && unset)) val = arg;
        else if ((!strcmp(op, ":?") && (unset || empty)) || (!strcmp(op, "?") && unset)) {
            buf_printf(&in->errors, "%s: %s\n", var, arg);
            val = "";
        }
        buf_append_str(&out, val ? val : "");
        s = end;
    }
    return buf_steal(&out);
}

static json_t *
interpolate_all(struct interp *in, json_t *v) {
    if (json_is_string(v)) {
        char *s = interpolate(in, json_string_value(v));
        json_t *r = json_string(s);
        free(s);
        return r;
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) json_array_append_new(a, interpolate_all(in, x));
        return a;
    }
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) json_object_set_new(o, k, interpolate_all(in, x));
        return o;
    }
    return json_incref(v);
}

static json_t *
load_compose(void) {
    char *path = src_path("docker-compose.yml");
    char err[512];
    json_t *doc = yaml_json_load(path, err, sizeof err);
    cr_assert_not_null(doc, "%s", err);
    free(path);
    return doc;
}

/* compose_with interpolates docker-compose.yml with vars; errors go to in->errors. */
static json_t *
compose_with(struct interp *in, json_t *vars) {
    json_t *raw = load_compose();
    in->vars = vars;
    in->referenced = json_object();
    buf_init(&in->errors);
    buf_append(&in->errors, "", 0);
    json_t *doc = interpolate_all(in, raw);
    json_decref(raw);
    return doc;
}

static json_t *
deployed_compose(void) {
    json_t *doc_vars, *vars = dotenv_example(&doc_vars);
    for (size_t i = 0; i < NSECRETS; i++)
        json_object_set_new(vars, SECRETS[i], json_string("s3cr3tFORtests"));
    struct interp in;
    json_t *doc = compose_with(&in, vars);
    cr_assert_eq(in.errors.len, 0, "compose refuses to start: %s", in.errors.data);
    buf_free(&in.errors);
    json_decref(in.referenced);
    json_decref(vars);
    json_decref(doc_vars);
    return doc;
}

static json_t *
service(json_t *doc, const char *name) {
    json_t *s = json_object_get(json_object_get(doc, "services"), name);
    cr_assert(json_is_object(s), "no service %s", name);
    return s;
}

static const char *
str_at(json_t *obj, const char *path) {
    /* path: "a.b.c" */
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *v = obj;
    for (char *k = strtok(buf, "."); k && v; k = strtok(NULL, ".")) v = json_object_get(v, k);
    return json_string_value(v);
}

/* duration_ms parses compose durations such as "15s", "1m30s". */
static long
duration_ms(const char *s) {
    cr_assert_not_null(s);
    long total = 0;
    while (*s) {
        char *end;
        long n = strtol(s, &end, 10);
        cr_assert(end != s, "bad duration %s", s);
        if (!strncmp(end, "ms", 2)) total += n, end += 2;
        else if (*end == 's') total += n * 1000, end++;
        else if (*end == 'm') total += n * 60000, end++;
        else if (*end == 'h') total += n * 3600000, end++;
        else cr_assert_fail("bad duration unit in %s", s);
        s = end;
    }
    return total;
}

static bool
array_has(json_t *a, const char *s) {
    size_t i;
    json_t *v;
    json_array_foreach(a, i,
                       v) if (json_is_string(v) && !strcmp(json_string_value(v), s)) return true;
    return false;
}

/* clear_env empties the environment but for BIN_DIR, which says where
 * this build's programs are (testenv_bin). */
static void
clear_env(void) {
    const char *bin = getenv("BIN_DIR");
    char bin_dir[4096] = "";
    if (bin) snprintf(bin_dir, sizeof bin_dir, "%s", bin);
    clearenv();
    if (bin_dir[0]) cr_assert_eq(setenv("BIN_DIR", bin_dir, 1), 0);
}

/* Defaults of the programs, as a production deploy gets them. */
static void
default_config(struct config *cfg) {
    clear_env();
    setenv("APP_ENV", "production", 1);
    setenv("DATABASE_URL", "postgresql://wordcount@postgres/wordcount", 1);
    char err[512];
    cr_assert_eq(config_load(cfg, "/dev/null", err, sizeof err), 0, "%s", err);
}

/* --- compose --- */

Test(deploy, compose_has_the_services) {
    json_t *doc = deployed_compose();
    json_t *services = json_object_get(doc, "services");
    const char *want[] = {"postgres", "redis", "migrate", "web", "worker", "nginx"};
    cr_assert_eq(json_object_size(services), 6, "services: %s", json_dumps(services, 0));
    for (size_t i = 0; i < 6; i++) service(doc, want[i]);
    json_decref(doc);
}

Test(deploy, compose_secrets_come_only_from_the_env_file) {
    /* With .env.example as it is (secrets empty), compose must refuse. */
    json_t *documented, *vars = dotenv_example(&documented);
    struct interp in;
    json_t *doc = compose_with(&in, vars);
    for (size_t i = 0; i < NSECRETS; i++) {
        cr_assert(json_object_get(documented, SECRETS[i]), ".env.example lacks %s", SECRETS[i]);
        cr_assert(strstr(in.errors.data, SECRETS[i]), "compose starts without %s: %s", SECRETS[i],
                  in.errors.data);
    }
    /* Every variable compose reads is documented or has a default. */
    const char *name;
    json_t *has_default;
    json_object_foreach(in.referenced, name, has_default)
        cr_assert(json_is_true(has_default) || json_object_get(documented, name),
                  "${%s} has no default and is not in .env.example", name);
    /* No secret-looking setting holds a literal value. */
    char *raw = read_text("docker-compose.yml");
    for (size_t i = 0; i < NSECRETS; i++) {
        char needle[64];
        snprintf(needle, sizeof needle, "${%s", SECRETS[i]);
        for (const char *p = raw; (p = strstr(p, needle)); p += strlen(needle))
            cr_assert(!strncmp(p + strlen(needle), ":?", 2), "%s is used without :? (required)",
                      SECRETS[i]);
    }
    const char *svc;
    json_t *s, *raw_doc = load_compose(), *raw_services = json_object_get(raw_doc, "services");
    json_object_foreach(raw_services, svc, s) {
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(s, "environment"), k, v) {
            bool secret = strstr(k, "PASSWORD") || strstr(k, "TOKEN") || strstr(k, "SECRET") ||
                          strstr(k, "AUTH");
            if (secret)
                cr_assert(strstr(json_string_value(v), "${"), "%s.%s is hard-coded", svc, k);
        }
    }
    free(raw);
    json_decref(raw_doc);
    /* .env is ignored by git; the example is not. */
    char *ignore = read_text(".gitignore");
    cr_assert(strstr(ignore, "/.env\n"), ".gitignore must list /.env");
    free(ignore);
    json_decref(doc);
    json_decref(vars);
    json_decref(documented);
    json_decref(in.referenced);
    buf_free(&in.errors);
}

static void
check_program_service(json_t *doc, const char *name, const char *program, json_t *names,
                      struct config *cfg) {
    json_t *s = service(doc, name);
    cr_assert_str_eq(str_at(s, "build.dockerfile"), "deploy/Dockerfile", "%s", name);
    cr_assert_str_eq(str_at(s, "build.target"), "runtime", "%s", name);
    json_t *cmd = json_object_get(s, "command");
    cr_assert(json_is_array(cmd) && json_array_size(cmd) >= 1, "%s: command is a list", name);
    cr_assert_str_eq(json_string_value(json_array_get(cmd, 0)), program, "%s", name);
    cr_assert_eq(access(testenv_bin(program), X_OK), 0,
                 "%s runs %s, which the Makefile does not build", name, program);
    cr_assert_str_eq(str_at(s, "restart"), strcmp(name, "migrate") ? "unless-stopped" : "no", "%s",
                     name);

    /* Its environment: known variables only, with values the programs accept. */
    clear_env();
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(s, "environment"), k, v) {
        cr_assert(json_object_get(names, k) || !strcmp(k, "PGPASSWORD"),
                  "%s sets %s, which no program reads (config.c)", name, k);
        cr_assert(json_is_string(v), "%s.%s is not a string", name, k);
        setenv(k, json_string_value(v), 1);
    }
    char err[512];
    cr_assert_eq(config_load(cfg, "/dev/null", err, sizeof err), 0, "%s: %s", name, err);
    cr_assert_eq(cfg->app_env, APP_PRODUCTION, "%s", name);
    cr_assert(strstr(cfg->database_url, "@postgres:5432/"), "%s: DATABASE_URL %s", name,
              cfg->database_url);
    cr_assert(strstr(cfg->redis_url, "@redis:6379/"), "%s: REDIS_URL %s", name, cfg->redis_url);
    cr_assert_not_null(cfg->admin_token, "%s: ADMIN_TOKEN", name);
}

Test(deploy, compose_program_services_match_the_programs_and_config) {
    json_t *doc = deployed_compose(), *names = config_names();
    struct config dflt, cfg;
    default_config(&dflt);

    check_program_service(doc, "migrate", "wordcount-migrate", names, &cfg);
    json_t *mcmd = json_object_get(service(doc, "migrate"), "command");
    cr_assert_eq(json_array_size(mcmd), 2);
    cr_assert_str_eq(json_string_value(json_array_get(mcmd, 1)), "upgrade");
    cr_assert_str_eq(str_at(service(doc, "migrate"), "depends_on.postgres.condition"),
                     "service_healthy");
    config_free(&cfg);

    check_program_service(doc, "web", "wordcount-web", names, &cfg);
    json_t *web = service(doc, "web");
    char port[16];
    snprintf(port, sizeof port, "%d", cfg.port);
    cr_assert(array_has(json_object_get(web, "expose"), port), "web listens on %s but exposes %s",
              port, json_dumps(json_object_get(web, "expose"), 0));
    cr_assert_eq(json_object_get(web, "ports"), NULL, "web is reached through nginx only");
    cr_assert_str_eq(cfg.host, "0.0.0.0");
    cr_assert_geq(duration_ms(str_at(web, "stop_grace_period")), cfg.web_grace_ms + 2000,
                  "web stop_grace_period below WEB_GRACE + 2s");
    /* nginx's upstream (rendered in the image) is this service and port. */
    char *dockerfile = read_text("deploy/Dockerfile"), want[64];
    snprintf(want, sizeof want, "ARG WC_UPSTREAM=web:%d\n", cfg.port);
    cr_assert(strstr(dockerfile, want), "deploy/Dockerfile nginx stage lacks %s", want);
    free(dockerfile);
    config_free(&cfg);

    check_program_service(doc, "worker", "wordcount-worker", names, &cfg);
    json_t *worker = service(doc, "worker");
    /* The supervisor kills children 5 s after WORKER_GRACE. */
    cr_assert_geq(duration_ms(str_at(worker, "stop_grace_period")),
                  cfg.worker_grace_ms + 5000 + 2000,
                  "worker stop_grace_period below WORKER_GRACE + 5s + 2s");
    config_free(&cfg);

    const char *after[] = {"web", "worker"};
    for (int i = 0; i < 2; i++) {
        json_t *s = service(doc, after[i]);
        cr_assert_str_eq(str_at(s, "depends_on.migrate.condition"),
                         "service_completed_successfully");
        cr_assert_str_eq(str_at(s, "depends_on.redis.condition"), "service_healthy");
    }
    config_free(&dflt);
    json_decref(names);
    json_decref(doc);
}

Test(deploy, compose_worker_scales_and_only_nginx_publishes) {
    json_t *doc = deployed_compose();
    const char *name;
    json_t *s;
    json_object_foreach(json_object_get(doc, "services"), name, s) {
        cr_assert_null(json_object_get(s, "container_name"), "%s has a fixed name (no --scale)",
                       name);
        if (strcmp(name, "nginx"))
            cr_assert_null(json_object_get(s, "ports"), "%s publishes a port", name);
    }
    json_t *ports = json_object_get(service(doc, "nginx"), "ports");
    cr_assert(array_has(ports, "8080:80"), "nginx ports %s", json_dumps(ports, 0));
    cr_assert_str_eq(str_at(service(doc, "nginx"), "build.target"), "nginx");
    cr_assert_str_eq(str_at(service(doc, "nginx"), "depends_on.web.condition"), "service_healthy");
    json_decref(doc);
}

Test(deploy, compose_storage_is_persistent_and_checked) {
    json_t *doc = deployed_compose();
    json_t *pg = service(doc, "postgres"), *redis = service(doc, "redis");
    cr_assert(array_has(json_object_get(pg, "volumes"), "pgdata:/var/lib/postgresql/data"));
    cr_assert(array_has(json_object_get(redis, "volumes"), "redisdata:/data"));
    cr_assert(json_object_get(json_object_get(doc, "volumes"), "pgdata"));
    cr_assert(json_object_get(json_object_get(doc, "volumes"), "redisdata"));
    json_t *cmd = json_object_get(redis, "command");
    cr_assert(array_has(cmd, "--appendonly") && array_has(cmd, "yes"), "redis persistence off");
    cr_assert(array_has(cmd, "noeviction"), "redis may evict queue keys");
    cr_assert(array_has(cmd, "s3cr3tFORtests"), "redis has no password");
    cr_assert_str_eq(str_at(pg, "environment.POSTGRES_PASSWORD"), "s3cr3tFORtests");
    cr_assert_str_eq(str_at(pg, "environment.POSTGRES_USER"), "wordcount");
    cr_assert_str_eq(str_at(pg, "environment.POSTGRES_DB"), "wordcount");
    for (int i = 0; i < 2; i++) {
        json_t *hc = json_object_get(i ? redis : pg, "healthcheck");
        cr_assert(json_array_size(json_object_get(hc, "test")) >= 2, "healthcheck missing");
    }
    json_decref(doc);
}

Test(deploy, compose_interpolation_is_checked_by_this_test) {
    /* The checks above rely on this reader; make sure it can fail. */
    struct interp in = {.vars = json_pack("{s:s, s:s}", "A", "x", "E", "")};
    in.referenced = json_object();
    buf_init(&in.errors);
    buf_append(&in.errors, "", 0);
    char *s = interpolate(&in, "$$A ${A} ${B:-d} ${E:-d} ${E-d} ${A:?no} ${B?missing}");
    cr_assert_str_eq(s, "$A x d d  x ");
    cr_assert(strstr(in.errors.data, "B: missing"), "%s", in.errors.data);
    free(s);
    json_decref(in.vars);
    json_decref(in.referenced);
    buf_free(&in.errors);
}

/* --- Dockerfile --- */

/* dockerfile_lines returns the instructions, continuation lines joined. */
static json_t *
dockerfile_lines(void) {
    char *text = read_text("deploy/Dockerfile");
    json_t *lines = json_array();
    struct buf cur;
    buf_init(&cur);
    buf_append(&cur, "", 0);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        while (*line == ' ') line++;
        if (*line == '#' && cur.len == 0) continue;
        size_t n = strlen(line);
        bool cont = n && line[n - 1] == '\\';
        buf_append(&cur, line, cont ? n - 1 : n);
        if (cont) continue;
        json_array_append_new(lines, json_string(cur.data));
        buf_reset(&cur);
    }
    buf_free(&cur);
    free(text);
    return lines;
}

/* stage_packages lists what the stage's apt-get install installs. */
static json_t *
stage_packages(json_t *lines, const char *stage) {
    json_t *pkgs = json_array();
    bool in = false;
    size_t i;
    json_t *l;
    char from[64];
    snprintf(from, sizeof from, " AS %s", stage);
    json_array_foreach(lines, i, l) {
        const char *s = json_string_value(l);
        if (!strncmp(s, "FROM ", 5)) in = strstr(s, from) && !strcmp(strstr(s, from), from);
        if (!in || strncmp(s, "RUN ", 4)) continue;
        const char *p = strstr(s, "--no-install-recommends");
        if (!p) continue;
        char *rest = xstrdup(p + strlen("--no-install-recommends"));
        for (char *w = strtok(rest, " \t"); w && strcmp(w, "&&"); w = strtok(NULL, " \t"))
            json_array_append_new(pkgs, json_string(w));
        free(rest);
    }
    return pkgs;
}

Test(deploy, dockerfile_stages_base_user_and_healthcheck) {
    json_t *lines = dockerfile_lines();
    size_t i;
    json_t *l;
    char stages[4][32];
    int nstages = 0;
    bool base_ok = false, user = false, health = false, cmd = false;
    json_array_foreach(lines, i, l) {
        const char *s = json_string_value(l);
        if (!strcmp(s, "ARG DEBIAN_IMAGE=debian:12-slim")) base_ok = true;
        if (!strncmp(s, "FROM ", 5)) {
            cr_assert(!strncmp(s, "FROM ${DEBIAN_IMAGE} AS ", 24),
                      "every stage is Debian 12 slim: %s", s);
            cr_assert_lt(nstages, 4);
            snprintf(stages[nstages++], sizeof stages[0], "%s", s + 24);
            user = health = cmd = false;
        }
        if (!strncmp(s, "USER ", 5)) {
            user = strcmp(s, "USER root") && strncmp(s, "USER 0", 6);
        }
        if (!strncmp(s, "HEALTHCHECK ", 12)) health = true;
        if (!strncmp(s, "CMD ", 4)) cmd = true;
        if (!strncmp(s, "COPY ", 5) && !strstr(s, "--from=")) {
            char *words = xstrdup(s + 5);
            char *srcs[8];
            int n = 0;
            for (char *w = strtok(words, " "); w && n < 8; w = strtok(NULL, " ")) srcs[n++] = w;
            for (int k = 0; k < n - 1; k++)
                cr_assert(file_exists(srcs[k]), "COPY %s: no such file", srcs[k]);
            free(words);
        }
    }
    cr_assert(base_ok, "ARG DEBIAN_IMAGE=debian:12-slim");
    cr_assert_eq(nstages, 3);
    cr_assert_str_eq(stages[0], "build");
    cr_assert_str_eq(stages[1], "nginx");
    cr_assert_str_eq(stages[2], "runtime", "the default (last) stage is the runtime");
    cr_assert(user, "the runtime stage runs as a non-root USER");
    cr_assert(health, "the runtime stage has a HEALTHCHECK");
    cr_assert(cmd, "the runtime stage has a CMD");
    json_t *rt = stage_packages(lines, "runtime");
    json_array_foreach(rt, i, l) {
        const char *p = json_string_value(l);
        cr_assert(!strstr(p, "-dev") && strcmp(p, "build-essential") && strcmp(p, "pkg-config"),
                  "build package %s in the runtime image", p);
    }
    json_decref(rt);
    json_decref(lines);
}

Test(deploy, dockerfile_build_stage_has_every_build_package) {
    json_t *lines = dockerfile_lines(), *build = stage_packages(lines, "build");
    char *deps = read_text("deploy/deps.sh");
    /* The -dev packages of deploy/deps.sh, except the test-only ones. */
    for (char *w = strtok(deps, " \t\n"); w; w = strtok(NULL, " \t\n")) {
        size_t n = strlen(w);
        bool dev = n > 4 && !strcmp(w + n - 4, "-dev");
        if (!dev || !strcmp(w, "libcriterion-dev") || !strcmp(w, "libyaml-dev") ||
            !strcmp(w, "zlib1g-dev"))
            continue;
        cr_assert(array_has(build, w),
                  "deps.sh builds with %s; the Dockerfile build stage lacks it", w);
    }
    cr_assert(array_has(build, "build-essential") && array_has(build, "pkg-config"));
    free(deps);
    json_decref(build);
    json_decref(lines);
}

/* packages_of asks dpkg, once, which package holds each path of paths
 * (a JSON object path -> null); fills in the package names. */
static void
packages_of(json_t *paths) {
    const char *argv[256];
    int n = 0;
    argv[n++] = "dpkg";
    argv[n++] = "-S";
    const char *path;
    json_t *v;
    json_object_foreach(paths, path, v) {
        cr_assert_lt(n, 255);
        argv[n++] = path;
    }
    argv[n] = NULL;
    struct buf o;
    buf_init(&o);
    cr_assert_eq(run_cmd(argv, NULL, NULL, 30000, &o, NULL), 0, "dpkg -S failed");
    /* Lines "package:arch: /path" (or "pkg1, pkg2: /path"). */
    for (char *line = strtok(o.data, "\n"); line; line = strtok(NULL, "\n")) {
        char *sep = strstr(line, ": /");
        if (!sep) continue;
        *sep = '\0';
        char *colon = strchr(line, ':');
        if (colon) *colon = '\0';
        json_object_set_new(paths, sep + 2, json_string(line));
    }
    buf_free(&o);
}

Test(deploy, dockerfile_runtime_packages_hold_every_library_the_programs_link) {
    json_t *lines = dockerfile_lines(), *rt = stage_packages(lines, "runtime");
    json_t *paths = json_object(),
           *who = json_object(); /* path -> package; path -> "prog: soname" */
    const char *programs[] = {"wordcount-web", "wordcount-worker", "wordcount-migrate",
                              "wordcount"};
    for (size_t p = 0; p < 4; p++) {
        char bin[4096];
        snprintf(bin, sizeof bin, "%s", testenv_bin(programs[p]));
        const char *argv[] = {"objdump", "-p", bin, NULL};
        const char *ldd[] = {"ldd", bin, NULL};
        struct buf needed, map;
        buf_init(&needed);
        buf_init(&map);
        cr_assert_eq(run_cmd(argv, NULL, NULL, 20000, &needed, NULL), 0, "objdump -p %s", bin);
        cr_assert_eq(run_cmd(ldd, NULL, NULL, 20000, &map, NULL), 0, "ldd %s", bin);
        for (char *line = strtok(needed.data, "\n"); line; line = strtok(NULL, "\n")) {
            char soname[256];
            if (sscanf(line, " NEEDED %255s", soname) != 1) continue;
            /* The C library is in every Debian image; the sanitizer
             * runtimes belong to test builds only. */
            if (!strncmp(soname, "libc.so", 7) || !strncmp(soname, "libm.so", 7) ||
                !strncmp(soname, "libasan", 7) || !strncmp(soname, "libubsan", 8) ||
                !strncmp(soname, "libgcc_s", 8))
                continue;
            char needle[300], path[1024] = "", real[4096];
            snprintf(needle, sizeof needle, "%s => ", soname);
            const char *at = strstr(map.data, needle);
            cr_assert_not_null(at, "ldd does not resolve %s", soname);
            sscanf(at + strlen(needle), "%1023s", path);
            cr_assert_not_null(realpath(path, real), "%s", path);
            json_object_set_new(paths, real, json_null());
            json_object_set_new(who, real, json_sprintf("%s links %s", programs[p], soname));
        }
        buf_free(&needed);
        buf_free(&map);
    }
    cr_assert_geq(json_object_size(paths), 8, "only %zu libraries found", json_object_size(paths));
    packages_of(paths);
    const char *path;
    json_t *pkg;
    json_object_foreach(paths, path, pkg) {
        const char *what = json_string_value(json_object_get(who, path));
        cr_assert(json_is_string(pkg), "%s: no Debian package holds %s", what, path);
        cr_assert(array_has(rt, json_string_value(pkg)),
                  "%s from %s, which the runtime stage does not install", what,
                  json_string_value(pkg));
    }
    json_decref(paths);
    json_decref(who);
    json_decref(rt);
    json_decref(lines);
}

/* --- Procfile --- */

Test(deploy, procfile_release_web_and_worker) {
    char *text = read_text("deploy/Procfile");
    cr_assert_str_eq(
        text, "release: wordcount-migrate upgrade\nweb: wordcount-web\nworker: wordcount-worker\n");
    const char *programs[] = {"wordcount-migrate", "wordcount-web", "wordcount-worker"};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(access(testenv_bin(programs[i]), X_OK), 0, "%s", programs[i]);
    free(text);
}

/* --- systemd --- */

static const char *const UNITS[] = {"wordcount-web.service", "wordcount-worker.service",
                                    "wordcount-migrate.service"};

/* render_units copies the units into dir with ExecStart pointing at the
 * built programs (systemd-analyze verify checks that they exist); extra
 * is appended to the [Service] section of each. */
static void
render_units(const char *dir, const char *extra) {
    char bindir[4096];
    snprintf(bindir, sizeof bindir, "%s", testenv_bin(""));
    for (size_t i = 0; i < 3; i++) {
        char rel[128], out[4096];
        snprintf(rel, sizeof rel, "deploy/systemd/%s", UNITS[i]);
        char *text = read_text(rel);
        snprintf(out, sizeof out, "%s/%s", dir, UNITS[i]);
        FILE *f = fopen(out, "w");
        cr_assert_not_null(f);
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
            if (!strncmp(line, "ExecStart=/usr/local/bin/", 25))
                fprintf(f, "ExecStart=%s%s\n", bindir, line + 25);
            else fprintf(f, "%s\n", line);
            if (extra && !strcmp(line, "[Service]")) fprintf(f, "%s\n", extra);
        }
        cr_assert_eq(fclose(f), 0);
        free(text);
    }
}

static int
verify_units(const char *dir, struct buf *out) {
    char paths[3][4096];
    for (int i = 0; i < 3; i++) snprintf(paths[i], sizeof paths[i], "%s/%s", dir, UNITS[i]);
    const char *argv[] = {"systemd-analyze", "verify", paths[0], paths[1], paths[2], NULL};
    struct buf err;
    buf_init(&err);
    int rc = run_cmd(argv, NULL, NULL, 30000, out, &err);
    buf_append(out, err.data, err.len);
    buf_free(&err);
    cr_assert_neq(rc, 127, "systemd-analyze is missing: install systemd (make deps)");
    return rc;
}

static char *
temp_dir(void) {
    char *d = xstrdup("/tmp/wc-units-XXXXXX");
    cr_assert_not_null(mkdtemp(d));
    return d;
}

static void
remove_dir(char *d) {
    char *cmd = xasprintf("rm -rf '%s'", d);
    if (system(cmd) != 0) cr_log_warn("could not remove %s", d);
    free(cmd);
    free(d);
}

Test(deploy, systemd_units_pass_systemd_analyze_verify) {
    char *dir = temp_dir();
    render_units(dir, NULL);
    struct buf out;
    buf_init(&out);
    int rc = verify_units(dir, &out);
    cr_assert_eq(rc, 0, "systemd-analyze verify exited %d: %s", rc, out.data);
    cr_assert_eq(out.len, 0, "systemd-analyze verify complained: %s", out.data);
    /* Hardening, as systemd scores it (exposure at most 2.5 of 10). */
    for (size_t i = 0; i < 3; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, UNITS[i]);
        const char *argv[] = {"systemd-analyze", "security", "--offline=true",
                              "--threshold=25",  path,       NULL};
        struct buf sec;
        buf_init(&sec);
        rc = run_cmd(argv, NULL, NULL, 30000, &sec, NULL);
        cr_assert_eq(rc, 0, "%s is exposed: %s", UNITS[i], strstr(sec.data, "Overall") ?: sec.data);
        buf_free(&sec);
    }
    buf_free(&out);
    remove_dir(dir);
}

Test(deploy, systemd_verify_reports_a_broken_unit) {
    char *dir = temp_dir();
    render_units(dir, "TimeoutStopSec=soon\nRestartOften=yes");
    struct buf out;
    buf_init(&out);
    verify_units(dir, &out);
    cr_assert(strstr(out.data, "RestartOften") && strstr(out.data, "soon"),
              "systemd-analyze verify missed the mistakes: %s", out.data);
    buf_free(&out);
    remove_dir(dir);
}

/* unit_value returns the value of the last "key=" line of a unit (static). */
static const char *
unit_value(const char *text, const char *key) {
    static char val[512];
    val[0] = '\0';
    bool found = false;
    char k[64];
    snprintf(k, sizeof k, "\n%s=", key);
    for (const char *p = text; (p = strstr(p, k)); p += strlen(k)) {
        const char *v = p + strlen(k), *end = strchr(v, '\n');
        snprintf(val, sizeof val, "%.*s", (int)(end ? end - v : (long)strlen(v)), v);
        found = true;
    }
    return found ? val : NULL;
}

Test(deploy, systemd_restart_user_hardening_and_grace) {
    struct config cfg;
    default_config(&cfg);
    for (size_t i = 0; i < 3; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "deploy/systemd/%s", UNITS[i]);
        char *text = read_text(rel);
        cr_assert_str_eq(unit_value(text, "User") ?: "", "wordcount", "%s", UNITS[i]);
        cr_assert_str_eq(unit_value(text, "NoNewPrivileges") ?: "", "yes", "%s", UNITS[i]);
        cr_assert_str_eq(unit_value(text, "ProtectSystem") ?: "", "strict", "%s", UNITS[i]);
        cr_assert_str_eq(unit_value(text, "EnvironmentFile") ?: "", "/etc/wordcount/wordcount.env");
        bool oneshot = strstr(UNITS[i], "migrate") != NULL;
        if (oneshot) {
            cr_assert_str_eq(unit_value(text, "ExecStart") ?: "",
                             "/usr/local/bin/wordcount-migrate upgrade");
        } else {
            cr_assert_str_eq(unit_value(text, "Restart") ?: "", "on-failure", "%s", UNITS[i]);
            cr_assert_str_eq(unit_value(text, "KillMode") ?: "", "mixed", "%s", UNITS[i]);
            cr_assert_str_eq(unit_value(text, "Requires") ?: "", "wordcount-migrate.service");
            const char *t = unit_value(text, "TimeoutStopSec");
            cr_assert_not_null(t, "%s: TimeoutStopSec", UNITS[i]);
            int ms;
            cr_assert_eq(config_parse_duration_ms(t, &ms), 0, "%s", t);
            bool web = strstr(UNITS[i], "web") != NULL;
            int need = web ? cfg.web_grace_ms + 2000 : cfg.worker_grace_ms + 5000 + 2000;
            cr_assert_geq(ms, need, "%s: TimeoutStopSec=%s is shorter than the drain (%d ms)",
                          UNITS[i], t, need);
            cr_assert_leq(ms, need + 30000, "%s: TimeoutStopSec=%s is far above the grace",
                          UNITS[i], t);
        }
        free(text);
    }
    config_free(&cfg);
}
