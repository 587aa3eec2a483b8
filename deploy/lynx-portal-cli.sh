#!/usr/bin/env bash
# Installed as /usr/local/bin/lynx-portal: runs the portal's command-line tool the way the service
# runs, with the settings of /etc/lynx-portal/portal.env, as the portal user, so that files it
# creates in /var/lib/lynx-portal stay portal-owned (0640).
# Usage: sudo lynx-portal COMMAND [ARGS...]   (e.g. user add NAME --tz ZONE, doctor, --help)
set -euo pipefail

binary=/opt/lynx-portal/bin/lynx-portal
env_file=/etc/lynx-portal/portal.env

if [ "$(id -u)" -ne 0 ]; then
    echo "lynx-portal: run as root (sudo lynx-portal $*): it reads $env_file and drops to the portal user" >&2
    exit 2
fi
[ -x "$binary" ] || { echo "lynx-portal: $binary is missing: run deploy/install.sh" >&2; exit 1; }
[ -r "$env_file" ] || { echo "lynx-portal: $env_file is missing: run deploy/install.sh" >&2; exit 1; }

# KEY=VALUE lines as systemd's EnvironmentFile= reads them (comments and blank lines skipped,
# one pair of surrounding quotes removed); parsed, never executed as shell.
while IFS= read -r line || [ -n "$line" ]; do
    [[ $line =~ ^[[:space:]]*([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
    key=${BASH_REMATCH[1]} value=${BASH_REMATCH[2]}
    if [[ $value =~ ^\"(.*)\"$ || $value =~ ^\'(.*)\'$ ]]; then value=${BASH_REMATCH[1]}; fi
    export "$key=$value"
done <"$env_file"
umask 0027
cd /
# doctor also joins Caddy's group: it checks the socket exactly as Caddy reaches it.
groups=(-g portal)
if [ "${1:-}" = doctor ] && getent group caddy >/dev/null; then groups+=(-G caddy); fi
exec runuser -u portal "${groups[@]}" -- "$binary" "$@"
