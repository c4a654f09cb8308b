#!/usr/bin/env bash
# shutdown.sh — the long-running programs under valgrind: wordcount-web and
# one worker process serve real jobs (private Redis and Postgres, a page
# served on loopback), then stop on SIGTERM; then a worker process stops
# while a job hangs and Redis is gone (it abandons what it cannot hand
# back), and one stops while a big page is counted on its threads. Along
# the way a webhook is delivered and retried (the page server answers
# POST with 501), a result is read (its counts streamed, through
# DATABASE_READ_URL's connection), and the web stops with a long-poll waiting and
# an event stream open on a job Redis no longer answers for. valgrind must
# report no error and nothing definitely or indirectly lost. `make valgrind` runs it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
command -v valgrind >/dev/null || apt-get install -y -q --no-install-recommends valgrind >/dev/null
TMP=$(mktemp -d "${TMPDIR:-/tmp}/wc-valgrind.XXXXXX")
chmod 755 "$TMP"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    deploy/redis.sh stop "$TMP/redis" >/dev/null 2>&1 || true
    deploy/postgres.sh stop "$TMP/pg" >/dev/null 2>&1 || true
    [[ ${KEEP_TMP:-} == 1 ]] || rm -rf "$TMP"
}
trap cleanup EXIT
fp() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PG=$(fp) RP=$(fp) WEBP=$(fp) SP=$(fp)
eval "$(deploy/postgres.sh start --no-fsync "$TMP/pg" "$PG" | grep '^DATABASE_URL=')"
eval "$(deploy/redis.sh start "$TMP/redis" "$RP" | grep '^REDIS_URL=')"
export DATABASE_URL REDIS_URL APP_ENV=testing FETCH_ALLOW_PRIVATE=true LOG_LEVEL=${LOG_LEVEL:-warn}
export WEBHOOK_SECRET=valgrind-secret WEBHOOK_RETRY_BASE=200ms
# Reads through a connection of their own (a replica's, here the same server).
export DATABASE_READ_URL=$DATABASE_URL
bin/wordcount-migrate upgrade >/dev/null 2>&1
mkdir -p "$TMP/www"
printf '<html><body><p>The cat and the dog.</p><div>Cat</div><div>dog dog</div></body></html>' >"$TMP/www/page.html"
(cd "$TMP/www" && exec python3 -m http.server "$SP" --bind 127.0.0.1 >/dev/null 2>&1) &
PIDS+=($!)
VG=(valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=9 -q)
PORT=$WEBP "${VG[@]}" bin/wordcount-web 2>"$TMP/web.log" &
WEB=$!
PIDS+=($WEB)
"${VG[@]}" bin/wordcount-worker --child 0 2>"$TMP/worker.log" &
WORKER=$!
PIDS+=($WORKER)
for _ in $(seq 150); do curl -sf "http://127.0.0.1:$WEBP/readyz" >/dev/null && break; sleep 0.2; done
post() { curl -sf -X POST "http://127.0.0.1:$WEBP/api/v1/jobs" -H 'Content-Type: application/json' -d "{\"url\": \"$1\"}" >/dev/null; }
# Three pages (one URL submitted three times would be one job: issue 17's
# dedup), each with its own history.
for i in 1 2 3; do post "http://127.0.0.1:$SP/page.html?v=$i"; done
curl -sf -X POST "http://127.0.0.1:$WEBP/api/v1/jobs" -H 'Content-Type: application/json' \
    -d "{\"url\": \"http://127.0.0.1:$SP/gone.html\", \"callback_url\": \"http://127.0.0.1:$SP/hook\"}" >/dev/null
post "http://127.0.0.1:$SP/missing.html"
curl -s "http://127.0.0.1:$WEBP/nope" >/dev/null || true
# Valgrind is slow: allow a minute for the three results.
done=0
for _ in $(seq 120); do
    n=0
    for i in 1 2 3; do
        m=$(curl -sf "http://127.0.0.1:$WEBP/api/v1/results?url=http%3A%2F%2F127.0.0.1%3A$SP%2Fpage.html%3Fv%3D$i" |
            python3 -c 'import json, sys; print(sum(r["total_words"] == 8 for r in json.load(sys.stdin)["results"]))') || m=0
        n=$((n + m))
    done
    if ((n == 3)); then done=1; break; fi
    sleep 0.5
done
((done)) || { echo "valgrind: the jobs did not finish" >&2; cat "$TMP/worker.log" >&2; exit 1; }
# One result with its counts (streamed from a cursor).
job=$(curl -sf "http://127.0.0.1:$WEBP/api/v1/results?url=http%3A%2F%2F127.0.0.1%3A$SP%2Fpage.html%3Fv%3D1" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["results"][0]["job_id"])')
curl -sf "http://127.0.0.1:$WEBP/api/v1/jobs/$job/result" |
    python3 -c 'import json, sys; assert json.load(sys.stdin)["counts"]["dog"] == 3' ||
    { echo "valgrind: the result was not read" >&2; exit 1; }
for _ in $(seq 120); do grep -q 'msg="webhook failed"' "$TMP/worker.log" && break; sleep 0.5; done
grep -q 'msg="webhook failed"' "$TMP/worker.log" || { echo "valgrind: no webhook attempt" >&2; exit 1; }
rc=0
kill -TERM "$WORKER"
wait "$WORKER" || rc=$?

# A stop while a page is being counted on the worker's threads: 200,000
# distinct words (long under valgrind), WORKER_GRACE 1 s, so the job is
# handed back while its counting runs; the worker waits for the piece
# under way, joins its threads and exits clean.
python3 -c 'import sys
sys.stdout.write("<html><body><p>" + " ".join("w%dq" % i for i in range(200000)) + "</p></body></html>")' \
    >"$TMP/www/words.html"
WORKER_GRACE=1s LOG_LEVEL=info "${VG[@]}" bin/wordcount-worker --child 0 2>"$TMP/worker-busy.log" &
BUSY=$!
PIDS+=($BUSY)
post "http://127.0.0.1:$SP/words.html"
for _ in $(seq 240); do grep -q 'msg="job started".*words.html' "$TMP/worker-busy.log" && break; sleep 0.5; done
grep -q 'msg="job started".*words.html' "$TMP/worker-busy.log" ||
    { echo "valgrind: the big page's job did not start" >&2; cat "$TMP/worker-busy.log" >&2; exit 1; }
kill -TERM "$BUSY"
wait "$BUSY" || rc=$((rc ? rc : $?))
grep -q 'msg="grace period over' "$TMP/worker-busy.log" ||
    { echo "valgrind: the big page was not being counted at the stop" >&2; rc=1; }

# A stop that cannot hand back: a job hangs on a page that never answers,
# Redis goes away, then SIGTERM. The worker gives up handing back after
# WORKER_GRACE + 3 s, abandons the job to a rescue and still exits clean.
HP=$(fp)
python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16); held = []
while True: held.append(s.accept())' "$HP" &
PIDS+=($!)
WORKER_GRACE=1s "${VG[@]}" bin/wordcount-worker --child 0 2>"$TMP/worker-stuck.log" &
STUCK=$!
PIDS+=($STUCK)
id=$(curl -sf -X POST "http://127.0.0.1:$WEBP/api/v1/jobs" -H 'Content-Type: application/json' \
    -d "{\"url\": \"http://127.0.0.1:$HP/hang\"}" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
started=0
for _ in $(seq 120); do
    curl -sf "http://127.0.0.1:$WEBP/api/v1/jobs/$id" | grep -q '"status":"started"' && { started=1; break; }
    sleep 0.5
done
((started)) || { echo "valgrind: the hanging job did not start" >&2; cat "$TMP/worker-stuck.log" >&2; exit 1; }
curl -s "http://127.0.0.1:$WEBP/api/v1/jobs/$id?wait=60" >"$TMP/longpoll.out" 2>&1 &
LP=$!
curl -sN "http://127.0.0.1:$WEBP/api/v1/jobs/$id/events" >"$TMP/events.out" 2>&1 &
EV=$!
for _ in $(seq 120); do grep -q 'event: started' "$TMP/events.out" && break; sleep 0.5; done
deploy/redis.sh stop "$TMP/redis" >/dev/null 2>&1
kill -TERM "$STUCK"
wait "$STUCK" || rc=$((rc ? rc : $?))

kill -TERM "$WEB"
wait "$WEB" || rc=$((rc ? rc : $?))
wait "$LP" "$EV" || true
grep -q 'event: started' "$TMP/events.out" || { echo "valgrind: the event stream saw nothing" >&2; rc=1; }
for f in web worker worker-busy worker-stuck; do
    if grep -q "^==[0-9]*==" "$TMP/$f.log"; then
        echo "valgrind: $f:" >&2
        grep "^==[0-9]*==" "$TMP/$f.log" >&2
        rc=1
    fi
done
if ((rc)); then echo "valgrind: FAILED" >&2; exit 1; fi
echo "valgrind: web and workers stopped cleanly with no errors and no leaks"
