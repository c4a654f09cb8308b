#!/usr/bin/env bash
# http.sh — the HTTP front end against Debian's nginx, in the same run
# (issue 9's benchmark; `make bench` runs it). Nothing is asserted: it
# prints figures.
#
# Starts, all on loopback and under a temporary folder: Redis, Postgres,
# the migrations, wordcount-web (WEB_CONCURRENCY=2, one per core, as nginx
# runs 2 workers) and nginx serving a small static file. One job is run to
# the end by a worker first, so the poll route reads a finished job (Redis,
# then its result row in Postgres). Then wrk, RUNS times per target
# (default 3), CONNS connections (default 64), SECONDS each (default 10):
#   submit  POST /api/v1/jobs           (JSON body; rate limiting off)
#   poll    GET /api/v1/jobs/{id}       (a finished job)
#   cached  POST /api/v1/jobs with max_age, for the finished job's page
#           (a cache hit: answered with that job, nothing queued)
#   nginx   GET /small.html             (a 1 KB static file)
# and prints requests/s and p50/p99 latency (medians over the runs), the
# ratios to nginx, and the cache hit's to the poll (issue 17's bar: within
# 20 %), of the medians and per round (each round's two runs are back to
# back, so that ratio is the one drift disturbs least). The targets take turns, run by run, so drift hits them alike.
# TARGETS picks some of them (default all four). Results also go to tests/bench/results-http.json.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
RUNS=${RUNS:-3}
CONNS=${CONNS:-64}
SECONDS_EACH=${BENCH_SECONDS:-10}
THREADS=${THREADS:-2}

need=()
command -v wrk >/dev/null || need+=(wrk)
[[ -x /usr/sbin/nginx ]] || need+=(nginx)
if ((${#need[@]})); then
    echo "bench: installing ${need[*]}" >&2
    apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi
[[ -x bin/wordcount-web ]] || make -j"$(nproc)" all >/dev/null

TMP=$(mktemp -d /tmp/wc-bench-http.XXXXXX)
chmod 755 "$TMP"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
    done
    [[ -f $TMP/nginx.pid ]] && kill -QUIT "$(cat "$TMP/nginx.pid")" 2>/dev/null || true
    deploy/redis.sh stop "$TMP/redis" >/dev/null 2>&1 || true
    deploy/postgres.sh stop "$TMP/pg" >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PG_PORT=$(free_port); REDIS_PORT=$(free_port); WEB_PORT=$(free_port); NGINX_PORT=$(free_port)
eval "$(deploy/postgres.sh start --no-fsync "$TMP/pg" "$PG_PORT" | grep '^DATABASE_URL=')"
eval "$(deploy/redis.sh start "$TMP/redis" "$REDIS_PORT" | grep '^REDIS_URL=')"
export DATABASE_URL REDIS_URL APP_ENV=testing SUBMIT_RATE=0 FETCH_ALLOW_PRIVATE=true LOG_LEVEL=warn
bin/wordcount-migrate upgrade >/dev/null

mkdir -p "$TMP/www"
python3 - "$TMP/www/small.html" <<'PY'
import sys
words = ("the quick brown fox jumps over the lazy dog " * 30)[:1000]
open(sys.argv[1], "w").write("<html><body><p>" + words + "</p></body></html>\n")
PY
cat >"$TMP/nginx.conf" <<CONF
worker_processes 2;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    keepalive_requests 1000000;
    types { text/html html; }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $TMP/www;
    }
}
CONF
/usr/sbin/nginx -c "$TMP/nginx.conf"

PORT=$WEB_PORT WEB_CONCURRENCY=2 bin/wordcount-web 2>"$TMP/web.log" &
PIDS+=($!)
WORKER_PROCESSES=1 bin/wordcount-worker 2>"$TMP/worker.log" &
WORKER=$!
PIDS+=($WORKER)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$WEB_PORT/readyz" >/dev/null && break; sleep 0.1; done

ID=$(curl -sf -X POST "http://127.0.0.1:$WEB_PORT/api/v1/jobs" -H 'Content-Type: application/json' \
    -d "{\"url\": \"http://127.0.0.1:$NGINX_PORT/small.html\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$WEB_PORT/api/v1/jobs/$ID" | grep -q '"status":"finished"' && break
    sleep 0.1
done
curl -sf "http://127.0.0.1:$WEB_PORT/api/v1/jobs/$ID" | grep -q '"status":"finished"' || { echo "bench: the seed job did not finish" >&2; exit 1; }
kill -TERM "$WORKER"   # submissions below must not be worked on during the runs

cat >"$TMP/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"url": "http://example.com/bench", "fresh": true}'
wrk.headers["Content-Type"] = "application/json"
LUA
cat >"$TMP/cached.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"url": "http://127.0.0.1:$NGINX_PORT/small.html", "max_age": 86400}'
wrk.headers["Content-Type"] = "application/json"
LUA
# The cache hit must be one before it is measured.
curl -sf -X POST "http://127.0.0.1:$WEB_PORT/api/v1/jobs" -H 'Content-Type: application/json' \
    -d "{\"url\": \"http://127.0.0.1:$NGINX_PORT/small.html\", \"max_age\": 86400}" |
    grep -q '"cached":true' || { echo "bench: the max_age submit was not a cache hit" >&2; exit 1; }

# run NAME URL [script]: one wrk run; prints "rps p50_ms p99_ms".
run() {
    local out
    out=$(wrk -t"$THREADS" -c"$CONNS" -d"${SECONDS_EACH}s" --latency ${3:+-s "$3"} "$2")
    python3 - "$out" <<'PY'
import re, sys
t = sys.argv[1]
m = re.search(r"Requests/sec:\s+([\d.]+)", t)
if not m:
    sys.exit("bench: wrk said:\n" + t)
rps = float(m.group(1))
def ms(p):
    m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$" % p, t, re.M)
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == "us" else v * 1000 if u == "s" else v
errs = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
print(rps, ms(50), ms(99), errs.group(1) if errs else 0)
PY
}

declare -A R
TARGETS=${TARGETS:-"nginx submit poll cached"}
for i in $(seq "$RUNS"); do
    for name in $TARGETS; do
        case $name in
        nginx) R[$name,$i]=$(run nginx "http://127.0.0.1:$NGINX_PORT/small.html") ;;
        submit) R[$name,$i]=$(run submit "http://127.0.0.1:$WEB_PORT/api/v1/jobs" "$TMP/post.lua") ;;
        poll) R[$name,$i]=$(run poll "http://127.0.0.1:$WEB_PORT/api/v1/jobs/$ID") ;;
        cached) R[$name,$i]=$(run cached "http://127.0.0.1:$WEB_PORT/api/v1/jobs" "$TMP/cached.lua") ;;
        esac
        echo "bench: $name run $i: ${R[$name,$i]}" >&2
    done
done

for name in $TARGETS; do
    for i in $(seq "$RUNS"); do echo "$name ${R[$name,$i]}"; done
done >"$TMP/runs.txt"
python3 - "$TMP/runs.txt" "$(nproc)" "$(/usr/sbin/nginx -v 2>&1 | sed 's/.*\///')" "$(redis-server --version | awk '{print $3}')" "$CONNS" "$SECONDS_EACH" tests/bench/results-http.json <<'PY'
import json, statistics, sys
runs_file, cores, nginx_v, redis_v, conns, secs, out = sys.argv[1:]
runs = {}
for line in open(runs_file):
    name, rps, p50, p99, errs = line.split()
    runs.setdefault(name, []).append((float(rps), float(p50), float(p99), int(errs)))
med = {n: {"rps": statistics.median(r[0] for r in v), "p50_ms": statistics.median(r[1] for r in v),
           "p99_ms": statistics.median(r[2] for r in v), "non_2xx": sum(r[3] for r in v), "runs": len(v)}
       for n, v in runs.items()}
base = med.get("nginx")
first = next(iter(med.values()))
print(f"\nHTTP front end vs nginx: {cores} cores, {conns} connections, {secs} s per run, medians of {first['runs']} runs")
print(f"{'target':<8} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'vs nginx req/s':>15} {'p99 / nginx p99':>16}")
for n in ("nginx", "submit", "poll", "cached"):
    if n not in med:
        continue
    m = med[n]
    vs = f"{m['rps'] / base['rps']:>15.2f} {m['p99_ms'] / base['p99_ms']:>16.2f}" if base else ""
    print(f"{n:<8} {m['rps']:>10.0f} {m['p50_ms']:>8.2f} {m['p99_ms']:>8.2f} {vs}")
    if m["non_2xx"]:
        print(f"  ({n}: {m['non_2xx']} answers were not 2xx)")
if "cached" in med and "poll" in med:
    # Each round runs the poll and the cache hit back to back: the ratio
    # within a round cancels the machine's drift between rounds.
    pairs = sorted(c[0] / p[0] for p, c in zip(runs["poll"], runs["cached"]))
    med["cached"]["per_round_ratio"] = statistics.median(pairs)
    print(f"cache hit / poll: req/s {med['cached']['rps'] / med['poll']['rps']:.2f} "
          f"(per round: median {statistics.median(pairs):.2f}, "
          f"{' '.join(f'{x:.2f}' for x in pairs)}), "
          f"p50 {med['cached']['p50_ms'] / med['poll']['p50_ms']:.2f}")
json.dump({"cores": int(cores), "nginx": nginx_v, "redis": redis_v, "connections": int(conns),
           "seconds": int(secs), "median": med}, open(out, "w"), indent=1)
print(f"written to {out}")
PY
