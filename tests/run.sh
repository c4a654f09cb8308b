#!/usr/bin/env bash
# run.sh — run the whole test suite against private servers (`make check`).
#
# Starts a private Postgres (fsync off) and redis-server on free loopback
# ports in a temporary folder, creates a fresh database for this run, exports
# WC_TEST_DATABASE_URL and WC_TEST_REDIS_URL, runs every Criterion binary
# (executable test_* files) under $BUILD_DIR/tests/unit,
# $BUILD_DIR/tests/integration and $BUILD_DIR/tests/chaos, and stops the servers on exit, whatever
# happens. Prints "N passed, N failed" (test cases, summed from Criterion's
# Synthesis lines; a binary that dies without one counts as one failure) and
# exits non-zero when anything failed.
#
# Environment: BUILD_DIR (default build/default), BIN_DIR (default bin),
# TEST_JOBS (Criterion --jobs, default 2), TEST_TIMEOUT (seconds per binary,
# default 300), TEST_FILTER (a substring of binary paths to run), KEEP_TMP=1
# (leave the temporary folder for inspection).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build/default}
export BIN_DIR=${BIN_DIR:-$ROOT/bin}
JOBS=${TEST_JOBS:-2}
TIMEOUT=${TEST_TIMEOUT:-300}

# Sanitizer settings; harmless for the normal build.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/wc-test.XXXXXX") || exit 1
# As root the cluster runs as user postgres, which must reach its folder.
chmod 755 "$TMP"
PG_STARTED=0
REDIS_STARTED=0

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    ((REDIS_STARTED)) && "$ROOT/deploy/redis.sh" stop "$TMP/redis" >/dev/null 2>&1
    ((PG_STARTED)) && "$ROOT/deploy/postgres.sh" stop "$TMP/pg" >/dev/null 2>&1
    if [[ ${KEEP_TMP:-} == 1 ]]; then echo "run.sh: kept $TMP" >&2; else rm -rf "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "run.sh: interrupted" >&2; exit 130' INT TERM

port_busy() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# free_port picks a random high port that nothing listens on. Another
# program may take it before we bind, so callers retry on failure.
free_port() {
    local p i
    for ((i = 0; i < 100; i++)); do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        if ! port_busy "$p" && ! ss -Hltn "sport = :$p" 2>/dev/null | grep -q .; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# start_server NAME CMD... tries up to 5 free ports; the port goes last.
start_server() {
    local name=$1 out port try
    shift
    for ((try = 0; try < 5; try++)); do
        port=$(free_port) || break
        if out=$("$@" "$port" 2>"$TMP/$name-start.err"); then
            echo "$out"
            return 0
        fi
    done
    echo "run.sh: could not start $name:" >&2
    cat "$TMP/$name-start.err" >&2
    return 1
}

PG_STARTED=1
pg_out=$(start_server postgres "$ROOT/deploy/postgres.sh" start --no-fsync "$TMP/pg") || exit 1
REDIS_STARTED=1
redis_out=$(start_server redis "$ROOT/deploy/redis.sh" start "$TMP/redis") || exit 1

admin_url=${pg_out#DATABASE_URL=}
redis_url=${redis_out#REDIS_URL=}
test_db="wc_test_$$"
if ! psql -X -q -v ON_ERROR_STOP=1 "$admin_url" -c "CREATE DATABASE $test_db" >/dev/null; then
    echo "run.sh: cannot create database $test_db" >&2
    exit 1
fi
export WC_TEST_DATABASE_URL=${admin_url%/*}/$test_db
export WC_TEST_REDIS_URL=$redis_url
echo "run.sh: postgres $WC_TEST_DATABASE_URL, redis $WC_TEST_REDIS_URL, build $BUILD_DIR"

mapfile -t BINARIES < <(find "$BUILD_DIR/tests/unit" "$BUILD_DIR/tests/integration" "$BUILD_DIR/tests/chaos" \
    -type f -name 'test_*' -perm -u+x ! -name '*.o' ! -name '*.d' 2>/dev/null | sort)
if [[ -n ${TEST_FILTER:-} ]]; then
    mapfile -t BINARIES < <(printf '%s\n' "${BINARIES[@]}" | grep -F -- "$TEST_FILTER")
fi
if ((${#BINARIES[@]} == 0)); then
    echo "run.sh: no test binaries under $BUILD_DIR/tests (build them with make tests-build)" >&2
    echo "0 passed, 1 failed"
    exit 1
fi

total_pass=0
total_fail=0
failed_bins=()
for bin in "${BINARIES[@]}"; do
    name=${bin#"$BUILD_DIR"/tests/}
    log="$TMP/$(echo "$name" | tr / _).log"
    start=$SECONDS
    timeout --kill-after=10 "$TIMEOUT" "$bin" --jobs "$JOBS" --ascii -S >"$log" 2>&1 </dev/null
    rc=$?
    synth=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -a 'Synthesis:' | tail -n 1)
    if [[ $synth =~ Passing:\ ([0-9]+)\ \|\ Failing:\ ([0-9]+) ]]; then
        pass=${BASH_REMATCH[1]}
        fail=${BASH_REMATCH[2]}
    else
        pass=0
        fail=0
    fi
    # A non-zero exit with no failing case (crash outside a test, sanitizer
    # report at exit, timeout) still fails the binary.
    if ((rc != 0 && fail == 0)); then fail=1; fi
    total_pass=$((total_pass + pass))
    total_fail=$((total_fail + fail))
    if ((fail > 0)); then
        failed_bins+=("$name")
        echo "---- FAIL $name (exit $rc, $((SECONDS - start))s) ----"
        ((rc == 124 || rc == 137)) && echo "run.sh: $name timed out after ${TIMEOUT}s"
        cat "$log"
        echo "---- end of $name ----"
    else
        printf '%-5s %s (%d cases, %ds)\n' PASS "$name" "$pass" $((SECONDS - start))
    fi
done

echo
if ((${#failed_bins[@]})); then echo "failed binaries: ${failed_bins[*]}"; fi
echo "$total_pass passed, $total_fail failed"
((total_fail == 0))
