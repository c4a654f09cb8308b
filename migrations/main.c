/* wordcount-migrate — apply, revert and inspect the schema migrations.
 *
 * A thin command line over migrate.h and migfile.h. The database comes from
 * --database-url, else DATABASE_URL through config_load (with .env and the
 * APP_ENV defaults; a bad configuration exits 78); the folder from --dir,
 * else MIGRATIONS_DIR, else share/wordcount/migrations beside the binary,
 * else the source tree's migrations/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/exits.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "migrations/migfile.h"
#include "migrations/migrate.h"
#include "migrations/partitions.h"

static const char usage_text[] =
    "usage: wordcount-migrate [--database-url URL] [--dir DIR] COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  upgrade [TARGET]    apply pending migrations up to TARGET (a version; default: newest)\n"
    "  downgrade TARGET    revert migrations above TARGET (a version, -1 or base)\n"
    "  current             print the newest applied migration\n"
    "  history             list every migration, applied (when) or pending\n"
    "  check               exit 1 when migrations are pending, edited or unknown\n"
    "  new NAME            write the next NNNN_NAME.up.sql and .down.sql\n"
    "  partitions          make the results table's monthly partitions due (this month\n"
    "                      and the next two) and drop those past RESULT_RETENTION_DAYS\n"
    "\n"
    "options:\n"
    "  --database-url URL  the database (default: DATABASE_URL, also read from .env)\n"
    "  --dir DIR           the migrations folder (default: MIGRATIONS_DIR, then the\n"
    "                      installed share/wordcount/migrations, then the source tree's)\n"
    "  --dry-run           upgrade/downgrade: print the SQL that would run, change nothing\n"
    "  --accept-edited     run even though an applied file was edited; record its new checksum\n"
    "  --retention-days N  partitions: drop results older than N days (default:\n"
    "                      RESULT_RETENTION_DAYS; 0 keeps everything)\n"
    "\n"
    "exit codes: 0 ok, 1 check failed, 2 usage, 65 bad migration files, 69 database\n"
    "unavailable, 70 migration failed, 78 bad configuration\n";

/* usage reports a command-line mistake briefly, or prints the full text. */
static int
usage(const char *why) {
    if (why) fprintf(stderr, "wordcount-migrate: %s (see wordcount-migrate --help)\n", why);
    else fputs(usage_text, stderr);
    return EXIT_USAGE;
}

/* option_value takes "--name=value" or "--name value" from argv. */
static const char *
option_value(int argc, char **argv, int *i, const char *name) {
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0) return NULL;
    if (argv[*i][n] == '=') return argv[*i] + n + 1;
    if (argv[*i][n] == '\0' && *i + 1 < argc) return argv[++*i];
    return NULL;
}

int
main(int argc, char **argv) {
    const char *url = NULL, *dir = NULL, *retention = NULL;
    struct migrate_opts o = {0};
    const char *pos[3] = {0};
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage_text, stdout);
            return 0;
        } else if (strcmp(a, "--dry-run") == 0) {
            o.dry_run = true;
        } else if (strcmp(a, "--accept-edited") == 0) {
            o.accept_edited = true;
        } else if ((v = option_value(argc, argv, &i, "--database-url"))) {
            url = v;
        } else if ((v = option_value(argc, argv, &i, "--dir"))) {
            dir = v;
        } else if ((v = option_value(argc, argv, &i, "--retention-days"))) {
            retention = v;
        } else if (strncmp(a, "--", 2) == 0 && a[2]) {
            char why[256];
            snprintf(why, sizeof why, "unknown option or missing value: %s", a);
            return usage(why);
        } else if (npos < 3) {
            pos[npos++] = a; /* "-1" is a downgrade target, not an option */
        } else {
            return usage("too many arguments");
        }
    }
    if (npos == 0) return usage(NULL);
    const char *cmd = pos[0];
    /* Each command with the number of arguments it takes after its name. */
    static const struct {
        const char *name;
        int min, max;
    } commands[] = {{"upgrade", 0, 1}, {"downgrade", 1, 1}, {"current", 0, 0},   {"history", 0, 0},
                    {"check", 0, 0},   {"new", 1, 1},       {"partitions", 0, 0}};
    int found_cmd = -1;
    for (int i = 0; i < (int)(sizeof commands / sizeof commands[0]); i++)
        if (strcmp(cmd, commands[i].name) == 0) found_cmd = i;
    if (found_cmd < 0) {
        char why[256];
        snprintf(why, sizeof why, "unknown command: %s", cmd);
        return usage(why);
    }
    if (npos - 1 > commands[found_cmd].max) return usage("too many arguments");
    if (npos - 1 < commands[found_cmd].min)
        return usage(strcmp(cmd, "new") == 0 ? "new needs a NAME"
                                             : "downgrade needs a TARGET (a version, -1 or base)");
    if (o.dry_run && strcmp(cmd, "upgrade") != 0 && strcmp(cmd, "downgrade") != 0)
        return usage("--dry-run applies to upgrade and downgrade");
    bool partitions = strcmp(cmd, "partitions") == 0;
    if (retention && !partitions) return usage("--retention-days applies to partitions");
    int retention_days = -1;
    if (retention) {
        char *end;
        long d = strtol(retention, &end, 10);
        if (!*retention || *end || d < 0 || d > 36500)
            return usage("--retention-days takes a number of days, 0 to 36500");
        retention_days = (int)d;
    }

    struct config cfg = {0};
    bool have_cfg = false;
    bool needs_db = strcmp(cmd, "new") != 0;
    /* partitions reads RESULT_RETENTION_DAYS from the configuration. */
    if (needs_db && (!url || (partitions && retention_days < 0))) {
        char err[512];
        if (config_load(&cfg, NULL, err, sizeof err) < 0) {
            log_init("migrate", LOG_INFO);
            log_error("msg=\"bad configuration\" error=%s", log_q(err));
            return EX_CONFIG;
        }
        have_cfg = true;
        if (!url) url = cfg.database_url;
        if (retention_days < 0) retention_days = cfg.result_retention_days;
        log_init("migrate", (enum log_level)cfg.log_level);
    } else {
        const char *lvl = getenv("LOG_LEVEL");
        int level = lvl && *lvl ? log_level_parse(lvl) : LOG_INFO;
        log_init("migrate", level < 0 ? LOG_INFO : (enum log_level)level);
    }
    if (!dir) dir = getenv("MIGRATIONS_DIR");
    char *found = NULL;
    if (!dir || !*dir) dir = found = migfile_default_dir();
    o.database_url = url;
    o.dir = dir;
    o.out = stdout;

    char err[2048] = "";
    int rc;
    if (strcmp(cmd, "upgrade") == 0)
        rc = migrate_upgrade(&o, npos > 1 ? pos[1] : NULL, err, sizeof err);
    else if (strcmp(cmd, "downgrade") == 0) rc = migrate_downgrade(&o, pos[1], err, sizeof err);
    else if (strcmp(cmd, "current") == 0) rc = migrate_current(&o, NULL, err, sizeof err);
    else if (strcmp(cmd, "history") == 0) rc = migrate_history(&o, err, sizeof err);
    else if (strcmp(cmd, "check") == 0) rc = migrate_check(&o, err, sizeof err);
    else if (partitions) rc = partitions_upkeep(&o, retention_days, err, sizeof err);
    else {
        char *path = NULL;
        rc = migfile_new(dir, pos[1], &path, err, sizeof err);
        if (rc == 0) printf("created %s and its .down.sql\n", path);
        free(path);
    }
    fflush(stdout);
    if (rc < 0) {
        if (rc == MIGRATE_EUSAGE) usage(err);
        else log_error("msg=%s error=%s", log_q(migrate_strerror(rc)), log_q(err));
    }
    free(found);
    if (have_cfg) config_free(&cfg);
    return migrate_exit_code(rc);
}
