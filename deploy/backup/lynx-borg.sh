#!/usr/bin/env bash
# lynx-borg (installed from deploy/backup/lynx-borg.sh): runs borg against the portal's off-site
# repository with the settings of /etc/lynx-portal/borg.env, so an operator never has to export
# the passphrase by hand or `source` the file (its values are not shell syntax).
# Usage: sudo lynx-borg COMMAND [ARGS...]   e.g. lynx-borg list, lynx-borg info,
#        lynx-borg init --encryption=repokey-blake2, lynx-borg key export :: FILE
# borg takes the repository from BORG_REPO: write "::ARCHIVE" for an archive of it.
set -euo pipefail

if [ $# -eq 0 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
    sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
file=${LYNX_BORG_ENV-/etc/lynx-portal/borg.env}
[ -r "$file" ] || { echo "lynx-borg: cannot read $file: run as root (sudo lynx-borg ...)" >&2; exit 1; }
# KEY=VALUE lines as systemd's EnvironmentFile= reads them: parsed, never executed as shell.
while IFS= read -r line || [ -n "$line" ]; do
    [[ $line =~ ^[[:space:]]*((BORG|LYNX)_[A-Z0-9_]*)=(.*)$ ]] || continue
    key=${BASH_REMATCH[1]} value=${BASH_REMATCH[3]}
    if [[ $value =~ ^\"(.*)\"$ || $value =~ ^\'(.*)\'$ ]]; then value=${BASH_REMATCH[1]}; fi
    export "$key=$value"
done <"$file"
[ -n "${BORG_REPO:-}" ] || { echo "lynx-borg: BORG_REPO is not set in $file" >&2; exit 1; }
exec borg "$@"
