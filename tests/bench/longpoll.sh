#!/usr/bin/env bash
# longpoll.sh — issue 18's bar: WAITERS (default 10,000) concurrent
# long-poll waiters on one web process, with POLLERS (default 1,000)
# polling clients of the same kind of job in the same run (`make bench`
# runs it). Nothing is asserted: tests/bench/longpoll.c prints the web
# process's RSS growth, how soon after its job's end each waiter was
# answered, and the requests per job of each kind of client, beside the
# bar (RSS growth under 20 MB, every waiter within 1 s, polling at least
# 10x the requests). Results also go to tests/bench/results-longpoll.json.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
WAITERS=${WAITERS:-10000}
POLLERS=${POLLERS:-1000}
SETTLE=${SETTLE:-15}
CLIENT=${BENCH_LONGPOLL:-build/default/tests/bench/longpoll}
[[ -x bin/wordcount-web && -x $CLIENT ]] || make -j"$(nproc)" all "$CLIENT" >/dev/null

# Both sides hold a socket per client.
need=$((WAITERS + POLLERS + 256))
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if (($(ulimit -n) < need)); then
    echo "bench: longpoll needs $need open files, the limit is $(ulimit -n)" >&2
    exit 1
fi

TMP=$(mktemp -d /tmp/wc-bench-longpoll.XXXXXX)
chmod 755 "$TMP"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
    done
    deploy/redis.sh stop "$TMP/redis" >/dev/null 2>&1 || true
    deploy/postgres.sh stop "$TMP/pg" >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PG_PORT=$(free_port); REDIS_PORT=$(free_port); WEB_PORT=$(free_port)
eval "$(deploy/postgres.sh start --no-fsync "$TMP/pg" "$PG_PORT" | grep '^DATABASE_URL=')"
eval "$(deploy/redis.sh start "$TMP/redis" "$REDIS_PORT" | grep '^REDIS_URL=')"
export DATABASE_URL REDIS_URL APP_ENV=testing SUBMIT_RATE=0 LOG_LEVEL=warn
bin/wordcount-migrate upgrade >/dev/null

# One web process; no worker (the jobs end by cancel, as fast as the
# client can send them).
PORT=$WEB_PORT WEB_CONCURRENCY=1 HTTP_MAX_CONNECTIONS=$need bin/wordcount-web 2>"$TMP/web.log" &
WEB=$!
PIDS+=($WEB)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$WEB_PORT/readyz" >/dev/null && break; sleep 0.1; done

out=$("$CLIENT" "$WEB_PORT" "$WEB" "$WAITERS" "$POLLERS" "$SETTLE") || { echo "$out"; tail -5 "$TMP/web.log" >&2; exit 1; }
echo "$out" | grep -v '^RESULT '
echo "$out" | sed -n 's/^RESULT //p' >tests/bench/results-longpoll.json
echo "written to tests/bench/results-longpoll.json"
