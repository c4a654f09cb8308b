#!/usr/bin/env bash
# demo.sh — something to look at on day one (`make demo`, run beside
# `make run`).
#
# Serves a corpus on loopback (127.0.0.1:DEMO_PORT, default 5081) with
# Python's http.server: the PostgreSQL manual from Debian's
# postgresql-doc-15 when it is installed (about 1,100 pages), else the
# pages under tests/fixtures, each under a few query strings so that there
# is a batch's worth of work. Then it submits every page as one batch to
# the web server of `make run` (http://127.0.0.1:$PORT, default 5000;
# `make run` in development fetches loopback addresses), prints where to
# look (the dashboard, the batch, its export), and follows the batch
# until it is done. The corpus server stops when the batch is done, on
# Ctrl-C or on SIGTERM (by its pid).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PORT=${PORT:-5000}
DEMO_PORT=${DEMO_PORT:-5081}
DOCS=${DEMO_DOCS:-/usr/share/doc/postgresql-doc-15/html}
WEB=http://127.0.0.1:$PORT
SERVE_PID=

say() { echo "demo: $*" >&2; }
die() { say "$*"; exit 1; }

stop() {
    if [[ -n $SERVE_PID ]] && kill -0 "$SERVE_PID" 2>/dev/null; then
        kill "$SERVE_PID" 2>/dev/null || true
        wait "$SERVE_PID" 2>/dev/null || true
    fi
    SERVE_PID=
}
trap stop EXIT
trap 'exit 130' INT TERM

command -v python3 >/dev/null || die "python3 is needed to serve the corpus (apt-get install python3)"
command -v curl >/dev/null || die "curl is needed (make deps)"

# The web server of `make run`, ready (it may still be starting).
for _ in $(seq 1 60); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "$WEB/readyz" || true) == 200 ]] && break
    sleep 0.5
done
[[ $(curl -s -o /dev/null -w '%{http_code}' "$WEB/readyz" || true) == 200 ]] ||
    die "no wordcount at $WEB: start it with make run (in another terminal), or set PORT"

LIST=$(mktemp)
trap 'rm -f "$LIST"; stop' EXIT
if [[ -d $DOCS ]]; then
    DIR=$DOCS
    (cd "$DIR" && find . -maxdepth 1 -name '*.html' | sort | head -n 10000) |
        sed "s|^\./|http://127.0.0.1:$DEMO_PORT/|" >"$LIST"
    say "corpus: the PostgreSQL manual in $DIR"
else
    DIR=$ROOT/tests/fixtures/pages
    for copy in $(seq 1 20); do
        (cd "$DIR" && ls) | sed "s|^|http://127.0.0.1:$DEMO_PORT/|; s|\$|?copy=$copy|" >>"$LIST"
    done
    say "corpus: tests/fixtures/pages, 20 times over (apt-get install postgresql-doc-15 for the manual)"
fi

python3 -m http.server "$DEMO_PORT" --bind 127.0.0.1 --directory "$DIR" >/dev/null 2>&1 &
SERVE_PID=$!
for _ in $(seq 1 40); do
    (exec 3<>"/dev/tcp/127.0.0.1/$DEMO_PORT") 2>/dev/null && break
    sleep 0.25
done
(exec 3<>"/dev/tcp/127.0.0.1/$DEMO_PORT") 2>/dev/null || die "the corpus server did not start on port $DEMO_PORT"

ANSWER=$(curl -sS -D - -o /dev/null -H 'Content-Type: text/plain' --data-binary "@$LIST" \
    "$WEB/api/v1/batches")
LOCATION=$(printf '%s\n' "$ANSWER" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
[[ -n $LOCATION ]] || die "the batch was refused: $(printf '%s' "$ANSWER" | head -n 1)"
say "submitted $(wc -l <"$LIST") pages as one batch"
say "dashboard:  $WEB/dashboard"
say "batch:      $WEB$LOCATION"
say "export:     $WEB$LOCATION/results  (Accept: text/csv for CSV)"
say "submit page: $WEB/"

# Follow the batch until every job has ended.
while :; do
    STATUS=$(curl -s "$WEB$LOCATION" || true)
    DONE=$(printf '%s' "$STATUS" | sed -n 's/.*"done": *\([0-9]*\).*/\1/p')
    JOBS=$(printf '%s' "$STATUS" | sed -n 's/.*"jobs": *\([0-9]*\).*/\1/p')
    STATE=$(printf '%s' "$STATUS" | sed -n 's/.*"status": *"\([a-z]*\)".*/\1/p')
    say "progress: ${DONE:-?}/${JOBS:-?} done"
    [[ $STATE == done ]] && break
    sleep 2
done
say "done; the corpus server stops (the results stay: see the export)"
