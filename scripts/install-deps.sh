#!/usr/bin/env bash
# Installs what building, running and testing lynx-portal need on Debian 12, skipping what is
# already there. Usage: scripts/install-deps.sh [build|test]
set -euo pipefail

usage() { echo "usage: $0 [build|test]" >&2; exit 2; }
purpose=${1:-build}
case "$purpose" in build | test) ;; *) usage ;; esac

# Build and run: the C libraries the package links, Caddy in front, sqlite3 for operators.
packages=(pkg-config libfcgi-dev libargon2-dev libsqlite3-dev sqlite3 caddy curl)
# Tests also move the portal's clock with libfaketime.
if [ "$purpose" = test ]; then packages+=(faketime); fi

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    as_root apt-get update -qq || { echo "install-deps: apt-get update failed" >&2; exit 1; }
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
        || { echo "install-deps: apt-get install ${missing[*]} failed" >&2; exit 1; }
fi
# Debian's caddy package starts a default site on :80 where systemd runs; development and
# tests run their own Caddy, so leave that one alone.

if [ "$purpose" = test ]; then
    python3 -c "import pytest, requests" 2>/dev/null \
        || python3 -m pip install -q pytest requests \
        || { echo "install-deps: pip install pytest requests failed" >&2; exit 1; }
fi
echo "install-deps: $purpose dependencies present"
