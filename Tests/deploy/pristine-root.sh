#!/usr/bin/env bash
# Builds, once, a pristine Debian 12 root for the fresh-VPS test and prints its path. Later runs
# reuse it (the test copies it with `cp -a` and never boots the pristine copy itself).
# Usage: Tests/deploy/pristine-root.sh CACHE_DIR
set -euo pipefail

usage() { echo "usage: $0 CACHE_DIR" >&2; exit 2; }
[ $# -eq 1 ] || usage
cache=$1
root="$cache/bookworm-root"
if [ -e "$root/.pristine-complete" ]; then echo "$root"; exit 0; fi

mkdir -p "$cache"
# One builder at a time; a second caller waits and then finds the finished root.
exec 9>"$cache/.build.lock"
flock 9
if [ -e "$root/.pristine-complete" ]; then echo "$root"; exit 0; fi

# The first "bookworm" (not -updates, not -security) repository apt already uses here, one-line
# or deb822 format, so the guest downloads from the same place the host does.
first_uri_for() {
    local suite=$1 file
    for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$file" ] || continue
        awk -v s="$suite" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|ftp):/ && $(i + 1) == s) { print $i; exit } }' "$file"
    done
    for file in /etc/apt/sources.list.d/*.sources; do
        [ -f "$file" ] || continue
        awk -v s="$suite" '
            /^[[:space:]]*$/ { if (uri != "" && hit) { print uri; exit } uri = ""; hit = 0; next }
            /^URIs:/ { uri = $2 }
            /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) hit = 1 }
            END { if (uri != "" && hit) print uri }' "$file"
    done
}
mirror=$(first_uri_for bookworm | head -n 1)
mirror=${mirror:-http://deb.debian.org/debian}
security=$(first_uri_for bookworm-security | head -n 1)
security=${security:-http://deb.debian.org/debian-security}

rm -rf "$cache"/build.*
build=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$build"' EXIT
echo "pristine-root: debootstrap bookworm from $mirror (about a minute, once)" >&2
debootstrap --include=dbus bookworm "$build/root" "$mirror" >"$cache/debootstrap.log" 2>&1 \
    || { echo "pristine-root: debootstrap failed, see $cache/debootstrap.log" >&2; exit 1; }

cat >"$build/root/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
SOURCES
echo "lynx-vps" >"$build/root/etc/hostname"
cat >"$build/root/etc/hosts" <<HOSTS
127.0.0.1	localhost
127.0.1.1	lynx-vps
::1	localhost ip6-localhost ip6-loopback
HOSTS
touch "$build/root/.pristine-complete"
rm -rf "$root"
mv "$build/root" "$root"
echo "$root"
