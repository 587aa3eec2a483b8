#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# lynx-borg (installed from deploy/backup/lynx-borg.sh): runs borg against the portal's off-site
# repository with the settings of /etc/lynx-portal/borg.env, so an operator never has to export
# the passphrase by hand or `source` the file (its values are not shell syntax).
# Usage: sudo lynx-borg COMMAND [ARGS...]   e.g. lynx-borg list, lynx-borg info,
#        lynx-borg init --encryption=repokey-blake2, lynx-borg key export :: FILE
# borg takes the repository from BORG_REPO: write "::ARCHIVE" for an archive of it.
set -euo pipefail

if [ $# -eq 0 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
    sed -n '3,8p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
common=$here/lynx-backup-common.sh
[ -r "$common" ] || common=/usr/local/lib/lynx-portal/lynx-backup-common.sh
# shellcheck source=lynx-backup-common.sh
. "$common"
file=${LYNX_BORG_ENV-/etc/lynx-portal/borg.env}
load_borg_env || exit 1
[ -n "${BORG_REPO:-}" ] || { echo "lynx-borg: BORG_REPO is not set in $file" >&2; exit 1; }
exec borg "$@"
