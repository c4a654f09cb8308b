#!/usr/bin/env bash
# deps.sh — install the Debian packages wordcount needs to build and run
# (`make run`, `make deps`), and with --test also what the test suite
# needs (`make test`, CI): Criterion, clang-format, a browser, nginx,
# promtool, systemd-analyze.
#
# Quick and idempotent: asks dpkg which packages are missing and does
# nothing else when none are; otherwise runs apt-get update once and
# installs only the missing ones (through sudo when not root).
set -euo pipefail

WITH_TESTS=0
if [[ ${1:-} == --test ]]; then WITH_TESTS=1; elif [[ -n ${1:-} ]]; then
    echo "usage: $0 [--test]" >&2
    exit 2
fi

# The lists of packages. Add new dependencies here.
PACKAGES=(
    build-essential
    pkg-config
    libuv1-dev
    libhttp-parser-dev
    libhiredis-dev
    libpq-dev
    libcurl4-openssl-dev
    libxml2-dev
    libjansson-dev
    libicu-dev
    libinih-dev
    libcsv-dev
    libssl-dev
    redis-server
    postgresql
    postgresql-contrib
    curl
    ca-certificates
)
TEST_PACKAGES=(
    # Criterion for the unit and integration tests; clang-format for
    # make format-check (CI runs it before the tests).
    libcriterion-dev
    clang-format
    # Browser test (tests/integration/test_browser.c) and promtool for /metrics.
    chromium
    chromium-driver
    prometheus
    # Deploy checks (tests/integration/test_deploy_*.c) and the worker's
    # connection reuse (tests/unit/worker/test_curl_uv.c): Debian's nginx
    # for nginx -t and the end-to-end run behind it, libyaml to read
    # docker-compose.yml, systemd for systemd-analyze verify.
    nginx
    libyaml-dev
    systemd
    # zlib for the gzip bomb the test page server sends.
    zlib1g-dev
    # The TLS tests make a throwaway CA with the openssl command and ask a
    # TLS redis-server with redis-cli (redis-tools) whether it is up.
    openssl
    redis-tools
)

if ((WITH_TESTS)); then PACKAGES+=("${TEST_PACKAGES[@]}"); fi

missing=()
for p in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [[ $status == installed ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
    exit 0
fi

echo "deps: installing ${missing[*]}" >&2
SUDO=()
if ((EUID != 0)); then
    if ! command -v sudo >/dev/null; then
        echo "deps: missing packages (${missing[*]}) and not root, no sudo" >&2
        exit 1
    fi
    SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
# Installing a server package (nginx) must not start it as a system service
# on port 80: tests start their own, on loopback. Where no policy-rc.d says
# so already, one that denies every start is in place during the install.
POLICY=/usr/sbin/policy-rc.d
if [[ ! -e $POLICY ]]; then
    "${SUDO[@]}" sh -c "printf '#!/bin/sh\nexit 101\n' >$POLICY && chmod 755 $POLICY"
    trap '"${SUDO[@]}" rm -f "$POLICY"' EXIT
fi
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
