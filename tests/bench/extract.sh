#!/usr/bin/env bash
# extract.sh — extraction and counting throughput against libxml2's bare
# parse (issue 4's benchmark; `make bench` runs it after http.sh). Nothing
# is asserted: it prints figures.
#
# The pages are the PostgreSQL manual's HTML (Debian's postgresql-doc-15,
# installed here when missing: about 1200 pages, 16 MB of real-world
# XHTML). tests/bench/extract (tests/bench/extract.c) reads them all into
# memory, then, RUNS rounds (default 5, at least 3) in which the modes take
# turns, measures the CPU time of one core for:
#   bare_push  libxml2's HTML push parser with no callbacks (the ceiling)
#   bare_tree  htmlReadMemory, libxml2's usual parse into a tree
#   text       the decode and extract stages alone (charset, decoding, visible text)
#   pipeline   what a worker does per page: text, words, counts, the
#              counts without stop words
# It prints MB/s per core (medians) and pipeline / bare_push, and writes
# them to tests/bench/results-extract.json (git-ignored).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
RUNS=${RUNS:-5}
((RUNS >= 3)) || RUNS=3
DOCS=/usr/share/doc/postgresql-doc-15/html

if ! dpkg-query -W -f='${db:Status-Status}' postgresql-doc-15 2>/dev/null | grep -qx installed; then
    echo "bench: installing postgresql-doc-15" >&2
    SUDO=()
    ((EUID == 0)) || SUDO=(sudo)
    "${SUDO[@]}" apt-get install -y -q --no-install-recommends postgresql-doc-15 >/dev/null
fi
BIN=${BENCH_EXTRACT:-$ROOT/build/default/tests/bench/extract}
[[ -x $BIN ]] || make --no-print-directory "${BIN#"$ROOT"/}" >/dev/null

shopt -s nullglob
pages=("$DOCS"/*.html)
if ((${#pages[@]} == 0)); then
    echo "bench: no pages under $DOCS" >&2
    exit 1
fi
echo "bench: extraction + counting over ${#pages[@]} pages of the PostgreSQL manual ($(nproc) cores here)"
"$BIN" -r "$RUNS" -o tests/bench/results-extract.json "${pages[@]}"
echo "bench: written to tests/bench/results-extract.json"
