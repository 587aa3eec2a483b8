#!/usr/bin/env bash
# `make run`: a local portal behind Caddy on http://localhost:8080 with a demo learner.
# Secrets and data live in .dev/ (ignored by git). Ctrl-C stops both processes.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
dev="$repo/.dev"
port=${LYNX_DEV_PORT:-8080}
binary="$repo/.build/debug/lynx-portal"

mkdir -p "$dev/data"
if [ ! -f "$dev/portal.env" ]; then
    umask 077
    {
        echo "LYNX_PEPPER=$(head -c 48 /dev/urandom | base64 -w0)"
        echo "LYNX_SESSION_SECRET=$(head -c 48 /dev/urandom | base64 -w0)"
    } >"$dev/portal.env"
    umask 022
    echo "run: created development secrets in .dev/portal.env"
fi
set -a
# shellcheck source=/dev/null
. "$dev/portal.env"
set +a
export LYNX_DATA_DIR="$dev/data"
export LYNX_TEMPLATES_DIR="$repo/templates"
export LYNX_COOKIE_SECURE=false      # plain HTTP on localhost
export LYNX_TEMPLATES_RELOAD=true    # edited templates show on the next page load

"$binary" migrate
if [ -d "$repo/quizzes" ]; then
    for quiz in "$repo"/quizzes/*.gift "$repo"/quizzes/*.aiken; do
        [ -e "$quiz" ] || continue
        "$binary" quiz import "$quiz"
    done
fi
if "$binary" user list | grep -q '^demo '; then
    setup=$("$binary" user reset demo)
else
    setup=$("$binary" user add demo --tz "${LYNX_DEFAULT_TZ:-UTC}")
fi
code=$(grep '^setup code:' <<<"$setup" | cut -d' ' -f3)

socket="$dev/portal.sock"
"$binary" serve --socket "$socket" --workers 4 &
portal=$!
for _ in $(seq 100); do [ -S "$socket" ] && break; sleep 0.1; done
[ -S "$socket" ] || { echo "run: the portal did not start (see above)" >&2; exit 1; }

LYNX_SITE="http://localhost:$port" LYNX_CADDY_ADMIN=off LYNX_ACCESS_LOG="$dev/access.log" \
    LYNX_ROOT="$repo" LYNX_SOCKET="$socket" XDG_DATA_HOME="$dev/caddy" XDG_CONFIG_HOME="$dev/caddy" \
    caddy run --config "$repo/deploy/Caddyfile" --adapter caddyfile >"$dev/caddy.log" 2>&1 &
caddy=$!

stop() {
    trap - INT TERM EXIT
    echo
    echo "run: stopping"
    kill -TERM "$caddy" "$portal" 2>/dev/null || true
    wait "$caddy" "$portal" 2>/dev/null || true
}
trap stop INT TERM EXIT

for _ in $(seq 100); do curl -fsS "http://localhost:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "http://localhost:$port/healthz" >/dev/null || { echo "run: Caddy is not answering; see .dev/caddy.log" >&2; exit 1; }

cat <<MSG

  lynx-portal is running at http://localhost:$port/login

  username:   demo
  setup code: $code

  Type the username, leave the password empty, then enter the setup code and a password
  of at least 15 characters. Templates reload on save. Ctrl-C stops the portal and Caddy.

MSG
wait "$portal"
