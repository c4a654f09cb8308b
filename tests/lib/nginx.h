/* nginx — Debian's real nginx for tests, with deploy/nginx.conf.
 *
 * nginx_prepare renders deploy/nginx.conf through deploy/nginx-render.sh
 * (the placeholders: listen address, upstream, static folder) into
 * DIR/wordcount.conf, and writes DIR/nginx.conf: a copy of Debian's
 * /etc/nginx/nginx.conf in which only paths change (pid, logs and temp
 * folders under DIR, the conf.d include pointing at the rendered site,
 * sites-enabled dropped) and one worker process is started. So the site
 * file is checked in the very context a plain host gives it.
 * Owns nothing; the caller removes DIR. */
#ifndef WC_TEST_NGINX_H
#define WC_TEST_NGINX_H

#include <stddef.h>
#include <sys/types.h>

#include "common/buf.h"

/* nginx_prepare returns 0, or -1 with a reason in err. */
int nginx_prepare(const char *dir, const char *listen, const char *upstream, const char *static_dir,
                  char *err, size_t errlen);
/* nginx_check runs `nginx -t` on DIR/nginx.conf; returns its exit code
 * (-1: did not run) and its output in out. */
int nginx_check(const char *dir, struct buf *out);
/* nginx_start runs nginx in the foreground on DIR/nginx.conf (output in
 * DIR/nginx.out); returns its pid or -1. Stop it with proc_stop. */
pid_t nginx_start(const char *dir);
/* nginx_launch prepares DIR for the site in front of upstream and starts
 * nginx on a free loopback port (another try when a program takes the
 * port first), waiting until it answers; base gets "http://127.0.0.1:PORT".
 * Returns the pid (stop it with proc_stop), or -1 with a reason in err. */
pid_t nginx_launch(const char *dir, const char *upstream, const char *static_dir, char *base,
                   size_t baselen, char *err, size_t errlen);
/* nginx_free_port returns a loopback TCP port nothing listens on now. */
int nginx_free_port(void);

#endif
