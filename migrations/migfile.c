#include "migrations/migfile.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "common/buf.h"
#include "common/digest.h"
#include "common/xalloc.h"
#include "migrations/migrate.h"

/* Migration files are small; a bigger one is more likely a mistake (a data
 * dump dropped in the folder) than a schema change. */
#define MIGFILE_MAX_BYTES (16u << 20)

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
fail(char *err, size_t errlen, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return code;
}

bool
migfile_has_no_tx_marker(const char *sql) {
    size_t n = strlen(MIGFILE_NO_TX_MARKER);
    if (strncmp(sql, MIGFILE_NO_TX_MARKER, n) != 0) return false;
    for (const char *p = sql + n; *p && *p != '\n'; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r') return false;
    return true;
}

bool
migfile_valid_name(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n > MIGFILE_NAME_MAX || !islower((unsigned char)name[0])) return false;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)name[i]) && !isdigit((unsigned char)name[i]) && name[i] != '_')
            return false;
    return true;
}

/* parse_file_name splits "0001_name.up.sql" into version, name and
 * direction (1 up, 0 down). Returns -1 when it does not follow the rule. */
static int
parse_file_name(const char *file, int *version, char *name, size_t namelen, int *up) {
    size_t len = strlen(file);
    const char *suffix;
    if (len > 7 && strcmp(file + len - 7, ".up.sql") == 0) *up = 1, suffix = file + len - 7;
    else if (len > 9 && strcmp(file + len - 9, ".down.sql") == 0) *up = 0, suffix = file + len - 9;
    else return -1;
    int digits = 0;
    long v = 0;
    while (isdigit((unsigned char)file[digits]) && digits < 6) v = v * 10 + (file[digits++] - '0');
    if (digits != 4 || file[4] != '_' || v < 1) return -1;
    size_t nlen = (size_t)(suffix - (file + 5));
    if (nlen == 0 || nlen >= namelen) return -1;
    memcpy(name, file + 5, nlen);
    name[nlen] = '\0';
    if (!migfile_valid_name(name)) return -1;
    *version = (int)v;
    return 0;
}

static int
read_file(const char *path, char **out, size_t *outlen, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) return fail(err, errlen, MIGRATE_EFILES, "cannot read %s: %s", path, strerror(errno));
    struct buf b;
    buf_init(&b);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        buf_append(&b, chunk, n);
        if (b.len > MIGFILE_MAX_BYTES) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad || b.len > MIGFILE_MAX_BYTES) {
        buf_free(&b);
        return fail(err, errlen, MIGRATE_EFILES, "cannot read %s: %s", path,
                    bad ? "read error" : "larger than 16 MiB");
    }
    if (memchr(b.data ? b.data : "", '\0', b.len)) {
        buf_free(&b);
        return fail(err, errlen, MIGRATE_EFILES, "%s holds a NUL byte: not an SQL file", path);
    }
    *outlen = b.len;
    *out = b.len ? buf_steal(&b) : xstrdup("");
    buf_free(&b);
    return 0;
}

static int
cmp_version(const void *a, const void *b) {
    const struct migration *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

void
migfile_set_free(struct migration_set *set) {
    for (size_t i = 0; i < set->n; i++) {
        struct migration *m = &set->items[i];
        free(m->name);
        free(m->up_file);
        free(m->down_file);
        free(m->up_sql);
        free(m->down_sql);
    }
    free(set->items);
    free(set->dir);
    memset(set, 0, sizeof *set);
}

const struct migration *
migfile_find(const struct migration_set *set, int version) {
    if (version < 1 || (size_t)version > set->n) return NULL;
    return &set->items[version - 1];
}

/* add_file records one file of a pair in set, creating the entry. */
static int
add_file(struct migration_set *set, const char *file, char *err, size_t errlen) {
    int version, up;
    char name[MIGFILE_NAME_MAX + 1];
    if (parse_file_name(file, &version, name, sizeof name, &up) < 0)
        return fail(err, errlen, MIGRATE_EFILES,
                    "%s/%s: migration files are named NNNN_name.up.sql and NNNN_name.down.sql "
                    "(name: lower-case letters, digits, _)",
                    set->dir, file);
    struct migration *m = NULL;
    for (size_t i = 0; i < set->n; i++)
        if (set->items[i].version == version) m = &set->items[i];
    if (m && strcmp(m->name, name) != 0)
        return fail(err, errlen, MIGRATE_EFILES, "%s: two migrations numbered %04d: %s and %s",
                    set->dir, version, m->name, name);
    if (!m) {
        set->items = xrealloc(set->items, (set->n + 1) * sizeof *set->items);
        m = &set->items[set->n++];
        memset(m, 0, sizeof *m);
        m->version = version;
        m->name = xstrdup(name);
    }
    char *path = xasprintf("%s/%s", set->dir, file);
    char *sql;
    size_t len;
    int rc = read_file(path, &sql, &len, err, errlen);
    free(path);
    if (rc < 0) return rc;
    if (up) {
        m->up_file = xstrdup(file);
        m->up_sql = sql;
        m->up_no_tx = migfile_has_no_tx_marker(sql);
        sha256_hex(sql, len, m->checksum);
    } else {
        m->down_file = xstrdup(file);
        m->down_sql = sql;
        m->down_no_tx = migfile_has_no_tx_marker(sql);
    }
    return 0;
}

int
migfile_load(const char *dir, struct migration_set *set, char *err, size_t errlen) {
    memset(set, 0, sizeof *set);
    set->dir = xstrdup(dir);
    DIR *d = opendir(dir);
    if (!d) {
        int rc = fail(err, errlen, MIGRATE_EFILES, "cannot open migrations folder %s: %s", dir,
                      strerror(errno));
        migfile_set_free(set);
        return rc;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 4, ".sql") != 0 || e->d_name[0] == '.') continue;
        rc = add_file(set, e->d_name, err, errlen);
    }
    closedir(d);
    if (rc == 0) {
        if (set->n) qsort(set->items, set->n, sizeof *set->items, cmp_version);
        for (size_t i = 0; i < set->n && rc == 0; i++) {
            struct migration *m = &set->items[i];
            if (m->version != (int)i + 1)
                rc = fail(err, errlen, MIGRATE_EFILES,
                          "%s: migration %04d is missing (numbering goes from %04d to %04d without "
                          "gaps)",
                          dir, (int)i + 1, i ? set->items[i - 1].version : 0, m->version);
            else if (!m->up_file || !m->down_file)
                rc = fail(err, errlen, MIGRATE_EFILES, "%s: %04d_%s.%s.sql is missing", dir,
                          m->version, m->name, m->up_file ? "down" : "up");
        }
    }
    if (rc < 0) migfile_set_free(set);
    return rc;
}

static const char up_template[] =
    "-- %04d %s (up).\n"
    "--\n"
    "-- Runs in one transaction together with its row in schema_migrations.\n"
    "-- For statements that cannot run in a transaction (CREATE INDEX\n"
    "-- CONCURRENTLY), make the first line of this file:\n"
    "-- migrate:no-transaction\n"
    "\n";

static const char down_template[] =
    "-- %04d %s (down): undo exactly what the up file does, so that\n"
    "-- downgrade then upgrade gives the same schema.\n"
    "\n";

static int
write_new(const char *path, const char *text, char *err, size_t errlen) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return fail(err, errlen, MIGRATE_EFILES, "cannot create %s: %s", path, strerror(errno));
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int rc =
                fail(err, errlen, MIGRATE_EFILES, "cannot write %s: %s", path, strerror(errno));
            close(fd);
            unlink(path);
            return rc;
        }
        off += (size_t)w;
    }
    if (close(fd) < 0)
        return fail(err, errlen, MIGRATE_EFILES, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

int
migfile_new(const char *dir, const char *name, char **up_path, char *err, size_t errlen) {
    if (!migfile_valid_name(name))
        return fail(err, errlen, MIGRATE_EUSAGE,
                    "invalid migration name \"%s\": use 1 to %d lower-case letters, digits and _, "
                    "starting with a letter",
                    name, MIGFILE_NAME_MAX);
    struct migration_set set;
    int rc = migfile_load(dir, &set, err, errlen);
    if (rc < 0) return rc;
    int version = (int)set.n + 1;
    migfile_set_free(&set);
    if (version > 9999)
        return fail(err, errlen, MIGRATE_EFILES, "%s: no version numbers left", dir);

    char *up = xasprintf("%s/%04d_%s.up.sql", dir, version, name);
    char *down = xasprintf("%s/%04d_%s.down.sql", dir, version, name);
    char *up_text = xasprintf(up_template, version, name);
    char *down_text = xasprintf(down_template, version, name);
    rc = write_new(up, up_text, err, errlen);
    if (rc == 0) {
        rc = write_new(down, down_text, err, errlen);
        if (rc < 0) unlink(up);
    }
    free(up_text);
    free(down_text);
    free(down);
    if (rc < 0) {
        free(up);
        return rc;
    }
    *up_path = up;
    return 0;
}

static bool
is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *
migfile_default_dir(void) {
    char exe[PATH_MAX];
    size_t len = sizeof exe;
    if (uv_exepath(exe, &len) == 0) {
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            char *p = xasprintf("%s/../share/wordcount/migrations", exe);
            if (is_dir(p)) return p;
            free(p);
        }
    }
    return xasprintf("%s/migrations", WC_SRCDIR);
}
