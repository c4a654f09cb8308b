#!/usr/bin/env bash
# postgres.sh — a private Postgres cluster in a folder, for `make run` and tests.
#
#   deploy/postgres.sh start [--no-fsync] DIR PORT   init (first time) and start; prints DATABASE_URL=...
#   deploy/postgres.sh stop DIR                      fast shutdown, waits until it is down
#   deploy/postgres.sh status DIR                    exit 0 when running, 3 when not
#
# Layout: DIR/data (the cluster), DIR/run (the unix socket), DIR/postgres.log.
# The server listens on 127.0.0.1 only; loopback connections are trusted for
# the cluster's superuser and the role `wordcount`, which owns the database
# `wordcount`. An existing DIR is reused with its data. As root, the cluster
# belongs to the system user postgres (initdb refuses to run as root), so
# DIR's parents must be traversable by that user.
# --no-fsync trades durability for speed; for tests only, never `make run`.
set -euo pipefail

die() { echo "postgres.sh: $*" >&2; exit 1; }
usage() { echo "usage: $0 start [--no-fsync] DIR PORT | stop DIR | status DIR" >&2; exit 2; }

ROLE=wordcount
DB=wordcount
WAIT_S=${PG_WAIT_S:-30}

pg_bindir() {
    if [[ -n ${PG_BINDIR:-} ]]; then echo "$PG_BINDIR"; return; fi
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [[ -n $d && -x $d/initdb ]]; then echo "$d"; return; fi
    d=$(command -v initdb 2>/dev/null || true)
    [[ -n $d ]] || die "initdb not found: install postgresql (deploy/deps.sh) or set PG_BINDIR"
    dirname "$d"
}

# as_owner runs a command as the cluster's owner: postgres when we are root.
as_owner() {
    if ((EUID == 0)); then runuser -u postgres -- "$@"; else "$@"; fi
}

superuser() {
    if ((EUID == 0)); then echo postgres; else id -un; fi
}

port_busy() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

psql_super() {
    local port=$1; shift
    "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U "$(superuser)" -d postgres "$@"
}

absdir() {
    mkdir -p "$1"
    (cd "$1" && pwd)
}

init_cluster() {
    local dir=$1 data=$1/data su
    su=$(superuser)
    mkdir -p "$data" "$dir/run"
    chmod 700 "$data"
    if ((EUID == 0)); then
        id postgres >/dev/null 2>&1 || die "running as root needs the system user postgres (install postgresql)"
        chown postgres: "$dir" "$data" "$dir/run"
        runuser -u postgres -- test -x "$dir" ||
            die "user postgres cannot reach $dir: make its parent folders traversable (chmod o+x)"
    fi
    echo "postgres.sh: initdb $data" >&2
    as_owner "$BIN/initdb" -D "$data" -U "$su" -E UTF8 --no-locale --auth=trust >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    # Only the superuser and the app role, only on loopback and the private socket.
    cat >"$data/pg_hba.conf" <<HBA
# written by deploy/postgres.sh
local all $su,$ROLE trust
host  all $su,$ROLE 127.0.0.1/32 trust
HBA
    cat >>"$data/postgresql.conf" <<CONF

# deploy/postgres.sh
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir/run'
CONF
    if ((EUID == 0)); then chown postgres: "$data/pg_hba.conf"; fi
}

wait_ready() {
    local port=$1 log=$2 i
    for ((i = 0; i < WAIT_S * 10; i++)); do
        if port_busy "$port" && psql_super "$port" -c 'select 1' >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    tail -n 20 "$log" >&2 || true
    die "server on port $port did not answer 'select 1' within ${WAIT_S}s (log: $log)"
}

cmd_start() {
    local fsync=on
    if [[ ${1:-} == --no-fsync ]]; then fsync=off; shift; fi
    (($# == 2)) || usage
    local dir port
    dir=$(absdir "$1")
    port=$2
    [[ $port =~ ^[0-9]+$ ]] && ((port > 0 && port < 65536)) || die "bad port: $port"
    if [[ -f $dir/data/PG_VERSION ]] && as_owner "$BIN/pg_ctl" status -D "$dir/data" >/dev/null 2>&1; then
        echo "postgres.sh: already running in $dir" >&2
        wait_ready "$port" "$dir/postgres.log"
    else
        if port_busy "$port"; then
            die "port $port on 127.0.0.1 is already in use by another program; pick another port"
        fi
        [[ -f $dir/data/PG_VERSION ]] || init_cluster "$dir"
        if ((EUID == 0)); then chown postgres: "$dir" "$dir/run"; touch "$dir/postgres.log"; chown postgres: "$dir/postgres.log"; fi
        local opts="-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir/run"
        if [[ $fsync == off ]]; then
            opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        else
            opts+=" -c fsync=on"
        fi
        as_owner "$BIN/pg_ctl" start -D "$dir/data" -l "$dir/postgres.log" -o "$opts" -w -t "$WAIT_S" >/dev/null ||
            { tail -n 20 "$dir/postgres.log" >&2 || true; die "could not start postgres (log: $dir/postgres.log)"; }
        echo "$port" >"$dir/port"
        wait_ready "$port" "$dir/postgres.log"
    fi
    # Role and database, created once.
    if [[ $(psql_super "$port" -tA -c "select 1 from pg_roles where rolname = '$ROLE'") != 1 ]]; then
        psql_super "$port" -c "CREATE ROLE $ROLE LOGIN CREATEDB"
    fi
    if [[ $(psql_super "$port" -tA -c "select 1 from pg_database where datname = '$DB'") != 1 ]]; then
        psql_super "$port" -c "CREATE DATABASE $DB OWNER $ROLE"
    fi
    echo "DATABASE_URL=postgresql://$ROLE@127.0.0.1:$port/$DB"
}

cmd_stop() {
    (($# == 1)) || usage
    [[ -d $1 ]] || die "no such folder: $1"
    local dir
    dir=$(absdir "$1")
    [[ -f $dir/data/PG_VERSION ]] || die "no cluster in $dir"
    if as_owner "$BIN/pg_ctl" status -D "$dir/data" >/dev/null 2>&1; then
        as_owner "$BIN/pg_ctl" stop -D "$dir/data" -m fast -w -t "$WAIT_S" >/dev/null
    fi
}

cmd_status() {
    (($# == 1)) || usage
    local dir=$1
    if [[ -f $dir/data/PG_VERSION ]] && as_owner "$BIN/pg_ctl" status -D "$dir/data" >/dev/null 2>&1; then
        echo "running pid=$(head -n 1 "$dir/data/postmaster.pid") port=$(cat "$dir/port" 2>/dev/null || echo '?')"
        return 0
    fi
    echo "stopped"
    return 3
}

(($# >= 1)) || usage
BIN=$(pg_bindir)
cmd=$1; shift
case $cmd in
start) cmd_start "$@" ;;
stop) cmd_stop "$@" ;;
status) cmd_status "$@" ;;
*) usage ;;
esac
