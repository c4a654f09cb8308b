#!/usr/bin/env bash
# redis.sh — a private redis-server in a folder, for `make run` and tests.
#
#   deploy/redis.sh start DIR PORT   start (reusing DIR's data); prints REDIS_URL=...
#   deploy/redis.sh stop DIR         SHUTDOWN (saves), waits until it is down
#   deploy/redis.sh status DIR       exit 0 when running, 3 when not
#
# The server binds 127.0.0.1 only, keeps its data in DIR (appendonly yes),
# daemonizes with DIR/redis.pid and logs to DIR/redis.log. `start` returns
# once the server answers PING.
set -euo pipefail

die() { echo "redis.sh: $*" >&2; exit 1; }
usage() { echo "usage: $0 start DIR PORT | stop DIR | status DIR" >&2; exit 2; }

WAIT_S=${REDIS_WAIT_S:-20}

port_busy() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

cli() {
    local port=$1; shift
    redis-cli -h 127.0.0.1 -p "$port" "$@"
}

running() {
    local dir=$1 pid
    [[ -f $dir/redis.pid && -f $dir/port ]] || return 1
    pid=$(cat "$dir/redis.pid")
    kill -0 "$pid" 2>/dev/null || return 1
    [[ $(cli "$(cat "$dir/port")" PING 2>/dev/null) == PONG ]]
}

wait_ping() {
    local port=$1 dir=$2 i
    for ((i = 0; i < WAIT_S * 10; i++)); do
        [[ $(cli "$port" PING 2>/dev/null) == PONG ]] && return 0
        sleep 0.1
    done
    tail -n 20 "$dir/redis.log" >&2 || true
    die "redis on port $port did not answer PING within ${WAIT_S}s (log: $dir/redis.log)"
}

cmd_start() {
    (($# == 2)) || usage
    mkdir -p "$1"
    local dir port
    dir=$(cd "$1" && pwd)
    port=$2
    [[ $port =~ ^[0-9]+$ ]] && ((port > 0 && port < 65536)) || die "bad port: $port"
    command -v redis-server >/dev/null || die "redis-server not found: install redis-server (deploy/deps.sh)"
    if running "$dir"; then
        echo "redis.sh: already running in $dir" >&2
    else
        if port_busy "$port"; then
            die "port $port on 127.0.0.1 is already in use by another program; pick another port"
        fi
        rm -f "$dir/redis.pid"
        # Options on the command line: nothing to keep in sync between runs.
        redis-server --bind 127.0.0.1 --port "$port" --protected-mode yes \
            --dir "$dir" --appendonly yes --daemonize yes \
            --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
            --save 60 1000 --unixsocket "" ||
            die "could not start redis-server (log: $dir/redis.log)"
        echo "$port" >"$dir/port"
    fi
    port=$(cat "$dir/port")
    wait_ping "$port" "$dir"
    echo "REDIS_URL=redis://127.0.0.1:$port/0"
}

cmd_stop() {
    (($# == 1)) || usage
    local dir=$1 pid port i
    [[ -f $dir/redis.pid ]] || return 0
    pid=$(cat "$dir/redis.pid")
    port=$(cat "$dir/port" 2>/dev/null || echo 0)
    # SHUTDOWN closes the connection without a reply; the pidfile goes when it is done.
    cli "$port" SHUTDOWN >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < WAIT_S * 10; i++)); do
        [[ -f $dir/redis.pid ]] || return 0
        # A process that is gone (or a zombie nobody reaps) no longer serves.
        if ! kill -0 "$pid" 2>/dev/null || [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]]; then
            rm -f "$dir/redis.pid"
            return 0
        fi
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$dir/redis.pid"
    die "redis (pid $pid) did not stop within ${WAIT_S}s; killed"
}

cmd_status() {
    (($# == 1)) || usage
    if running "$1"; then
        echo "running pid=$(cat "$1/redis.pid") port=$(cat "$1/port")"
        return 0
    fi
    echo "stopped"
    return 3
}

(($# >= 1)) || usage
cmd=$1; shift
case $cmd in
start) cmd_start "$@" ;;
stop) cmd_stop "$@" ;;
status) cmd_status "$@" ;;
*) usage ;;
esac
