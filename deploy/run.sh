#!/usr/bin/env bash
# run.sh — run wordcount locally (`make run`).
#
# Loads ./.env (the environment wins, as in the programs). When
# DATABASE_URL or REDIS_URL is unset it starts a private Postgres
# (127.0.0.1:55432) or Redis (127.0.0.1:56379) with its data under ./var/,
# kept between runs. Then it applies the migrations, starts wordcount-web
# (PORT, default 5000) and wordcount-worker (the supervisor and its worker
# processes) in the background, and waits. Ctrl-C or SIGTERM stops, by pid,
# exactly what this script started; so does either program exiting.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BIN_DIR=${BIN_DIR:-$ROOT/bin}
VAR=${VAR_DIR:-$ROOT/var}
PG_PORT=${RUN_PG_PORT:-55432}
REDIS_PORT=${RUN_REDIS_PORT:-56379}

say() { echo "run: $*" >&2; }
die() { say "$*"; exit 1; }

# load_dotenv exports KEY=VALUE lines of .env that the environment does not
# set already (comments, blank lines and one pair of quotes handled).
load_dotenv() {
    local file=${ENV_FILE:-.env} line key value
    [[ -f $file ]] || return 0
    while IFS= read -r line || [[ -n $line ]]; do
        line=${line%$'\r'}
        [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
        [[ $line =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*=[[:space:]]*(.*)$ ]] || continue
        key=${BASH_REMATCH[2]}
        value=${BASH_REMATCH[3]}
        if [[ $value =~ ^\"(.*)\"$ || $value =~ ^\'(.*)\'$ ]]; then value=${BASH_REMATCH[1]}; fi
        [[ -n ${!key:-} ]] || export "$key=$value"
    done <"$file"
    say "loaded $file"
}

port_busy() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

for p in wordcount-migrate wordcount-web wordcount-worker; do
    [[ -x $BIN_DIR/$p ]] || die "$BIN_DIR/$p is missing: build with make"
done

load_dotenv
export PORT=${PORT:-5000}
if [[ $PORT != 0 ]] && port_busy "$PORT"; then
    die "port $PORT on 127.0.0.1 is already in use: stop what uses it or run with PORT=<another port> make run"
fi

PG_STARTED=0
REDIS_STARTED=0
WEB_PID=
WORKER_PID=
STOPPING=0

# stop_pid sends TERM and waits up to $2 seconds, then KILL.
stop_pid() {
    local pid=$1 grace=$2 name=$3 i
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    say "$name (pid $pid) did not stop within ${grace}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    ((STOPPING)) && return
    STOPPING=1
    trap - EXIT INT TERM
    say "stopping"
    # Both drain on SIGTERM; the worker's grace period (WORKER_GRACE) is the longer.
    [[ -n $WEB_PID ]] && kill -TERM "$WEB_PID" 2>/dev/null || true
    [[ -n $WORKER_PID ]] && kill -TERM "$WORKER_PID" 2>/dev/null || true
    stop_pid "$WEB_PID" 30 wordcount-web
    stop_pid "$WORKER_PID" 60 wordcount-worker
    ((REDIS_STARTED)) && { deploy/redis.sh stop "$VAR/redis" || say "could not stop redis"; }
    ((PG_STARTED)) && { deploy/postgres.sh stop "$VAR/postgres" || say "could not stop postgres"; }
    say "stopped"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

mkdir -p "$VAR"
chmod 755 "$VAR" # as root, the user postgres must reach var/postgres

if [[ -z ${DATABASE_URL:-} ]]; then
    if deploy/postgres.sh status "$VAR/postgres" >/dev/null 2>&1; then
        say "reusing the Postgres already running in $VAR/postgres (left running at exit)"
    else
        PG_STARTED=1
        say "starting Postgres on 127.0.0.1:$PG_PORT (data in $VAR/postgres)"
    fi
    out=$(deploy/postgres.sh start "$VAR/postgres" "$PG_PORT") || die "Postgres did not start (RUN_PG_PORT picks another port)"
    export DATABASE_URL=${out#DATABASE_URL=}
fi
if [[ -z ${REDIS_URL:-} ]]; then
    if deploy/redis.sh status "$VAR/redis" >/dev/null 2>&1; then
        say "reusing the Redis already running in $VAR/redis (left running at exit)"
    else
        REDIS_STARTED=1
        say "starting Redis on 127.0.0.1:$REDIS_PORT (data in $VAR/redis)"
    fi
    out=$(deploy/redis.sh start "$VAR/redis" "$REDIS_PORT") || die "Redis did not start (RUN_REDIS_PORT picks another port)"
    export REDIS_URL=${out#REDIS_URL=}
fi

say "DATABASE_URL=$DATABASE_URL REDIS_URL=$REDIS_URL"
"$BIN_DIR/wordcount-migrate" upgrade || die "migrations failed"

"$BIN_DIR/wordcount-web" &
WEB_PID=$!
"$BIN_DIR/wordcount-worker" &
WORKER_PID=$!

base="http://127.0.0.1:$PORT"
cat >&2 <<MSG

  wordcount is running (web pid $WEB_PID, worker pid $WORKER_PID).
  Open $base/ in a browser, or submit with curl:

    curl -sS -X POST $base/api/v1/jobs -H 'Content-Type: application/json' \\
         -d '{"url": "https://example.com/"}'
    curl -sS $base/api/v1/jobs/<id>

  Ctrl-C stops everything this started.

MSG

# Wait until a signal arrives or either program exits.
set +e
wait -n "$WEB_PID" "$WORKER_PID"
rc=$?
set -e
if kill -0 "$WEB_PID" 2>/dev/null; then gone="wordcount-worker"; else gone="wordcount-web"; fi
# A program that exits 0 was told to stop (Ctrl-C in the terminal reaches
# the whole process group); anything else is a failure to report.
if ((rc == 0)); then say "$gone stopped; stopping the rest"; else say "$gone exited (status $rc); stopping the rest"; fi
exit "$rc"
