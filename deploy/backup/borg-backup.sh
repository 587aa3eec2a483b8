#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# lynx-backup (installed from deploy/backup/borg-backup.sh): the nightly off-site backup.
#
#   1. a consistent snapshot of the live database by the portal's own command (SQLite's online
#      backup API in one step, fsynced), run as the portal user with an empty environment;
#   2. its manifest (row counts, content hashes, integrity_check, SHA-256), written beside it;
#   3. `borg create` of snapshot + manifest + audit logs as lynx-portal-YYYYMMDDTHHMMSSZ,
#      zstd, with 4 KiB fixed chunks that line up with SQLite's pages;
#   4. the local snapshot removed, `borg prune`, `borg compact`;
#   5. one JSON line in $LYNX_LOG_DIR/backup.log; then lynx-backup-verify on the new archive.
#
# Runs as root (root's cron, /etc/cron.d/lynx-portal): borg.env and the SSH key stay root-only and
# the portal user never sees the passphrase (see deploy/README.md, "Backups and restore").
# Never reads portal.env. Never writes the live database. One run at a time (a lock shared with
# lynx-restore).
set -euo pipefail

usage() {
    cat >&2 <<'USAGE'
usage: lynx-backup [--no-verify] [--no-prune]
  --no-verify   skip pulling the new archive back and verifying it (lynx-backup-verify)
  --no-prune    skip borg prune and borg compact (e.g. when the backup host runs retention)
Settings: LYNX_BORG_ENV (default /etc/lynx-portal/borg.env: BORG_REPO, BORG_PASSPHRASE or
BORG_PASSCOMMAND, BORG_RSH), LYNX_DATA_DIR, LYNX_LOG_DIR, LYNX_PORTAL_BIN, LYNX_PORTAL_USER,
LYNX_BACKUP_LOCK, LYNX_BORG_CHUNKER (default fixed,4096), LYNX_BACKUP_PRUNE (yes|no).
USAGE
    exit 2
}

verify=yes prune=yes
while [ $# -gt 0 ]; do
    case "$1" in
        --no-verify) verify=no ;;
        --no-prune) prune=no ;;
        -h | --help) usage ;;
        *) echo "lynx-backup: unknown argument '$1'" >&2; usage ;;
    esac
    shift
done

here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
job=backup
step="starting"
started=$(date +%s.%N)
archive=""
stage=""
step_errors=$(mktemp)
declare -A figures=()

# Shared helpers: beside this script in the repository, in /usr/local/lib/lynx-portal installed.
common=$here/lynx-backup-common.sh
[ -r "$common" ] || common=/usr/local/lib/lynx-portal/lynx-backup-common.sh
# shellcheck source=lynx-backup-common.sh
. "$common"

# --- the run ---------------------------------------------------------------------------------

finish() {
    local status=$? error
    trap - EXIT
    if [ -n "$stage" ] && [ -d "$stage" ]; then rm -rf "$stage"; fi
    if [ "$status" -eq 0 ]; then
        log_run backup ok archive="$archive"
    else
        # Before saying anything more: say appends to the step's error record.
        error=$(last_step_error)
        say "FAILED at step '$step' (exit $status); the live database was not touched"
        log_run backup failed step="$step" archive="$archive" exit:="$status" error="$error"
        write_failure backup-last-failed.json backup "$step" "${error:-exit $status}"
    fi
    rm -f "$step_errors"
    exit "$status"
}
read_settings
trap finish EXIT

step="loading the borg settings"
load_borg_env
# Settings may come from borg.env, so read them only now.
read_settings
chunker=${LYNX_BORG_CHUNKER:-fixed,4096}
# LYNX_BACKUP_PRUNE=no in borg.env leaves retention to the backup host (deploy/README.md).
[ "${LYNX_BACKUP_PRUNE:-yes}" != no ] || prune=no
[ -n "${BORG_REPO:-}" ] || { say "BORG_REPO is not set (in ${LYNX_BORG_ENV-/etc/lynx-portal/borg.env})"; exit 1; }
[ -n "${BORG_PASSPHRASE:-}${BORG_PASSCOMMAND:-}" ] || { say "neither BORG_PASSPHRASE nor BORG_PASSCOMMAND is set"; exit 1; }
[ -x "$portal_bin" ] || { say "$portal_bin is missing (LYNX_PORTAL_BIN)"; exit 1; }
[ -f "$data_dir/portal.db" ] || { say "$data_dir/portal.db does not exist (LYNX_DATA_DIR)"; exit 1; }
command -v borg >/dev/null || { say "borg is not installed (apt-get install borgbackup)"; exit 1; }

step="taking the lock"
take_lock

step="snapshot and manifest"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
archive="lynx-portal-$stamp"
stage=$data_dir/snapshot
rm -rf "$stage"
mkdir -m 0700 "$stage"
# -h: the data directory is the portal's; never follow a name in it to somewhere else.
if [ -n "$portal_user" ] && [ "$(id -un)" != "$portal_user" ]; then chown -h "$portal_user:" "$stage"; fi
t0=$(date +%s.%N)
run portal_cli snapshot --to "$stage/portal.db" --manifest "$stage/manifest.json"
figures[snapshot_seconds]=$(elapsed "$t0")
figures[snapshot_bytes]=$(stat -c %s "$stage/portal.db")

step="borg create"
paths=(snapshot)
if [ -d "$data_dir/audit" ]; then
    paths+=(audit)
    figures[audit_bytes]=$(du -sb "$data_dir/audit" | cut -f1)
fi
t0=$(date +%s.%N)
stats=$(mktemp)
# Exit 1 is a warning (an audit log appended to while read); the snapshot itself never changes.
status=0
(cd "$data_dir" && run borg create --json --compression zstd --chunker-params "$chunker" \
    --lock-wait 600 "::$archive" "${paths[@]}" >"$stats") || status=$?
if [ "$status" -gt 1 ]; then rm -f "$stats"; exit "$status"; fi
figures[borg_create_seconds]=$(elapsed "$t0")
[ "$status" -eq 0 ] || figures[borg_warning]=true
while IFS='=' read -r key value; do figures[$key]=$value; done < <(python3 -c '
import json, sys
stats = json.load(open(sys.argv[1]))
archive, cache = stats["archive"]["stats"], stats["cache"]["stats"]
print("original_bytes=%d" % archive["original_size"])
print("compressed_bytes=%d" % archive["compressed_size"])
print("increment_bytes=%d" % archive["deduplicated_size"])
print("repository_bytes=%d" % cache["unique_csize"])
' "$stats")
rm -f "$stats"
write_status backup-last-good.json "$archive" "$(elapsed "$started")"
say "created $archive (increment ${figures[increment_bytes]} bytes, repository ${figures[repository_bytes]} bytes)"

step="removing the local snapshot"
rm -rf "$stage"
stage=""

if [ "$prune" = yes ]; then
    # Over an append-only key these record deletions without freeing space: the backup host's
    # maintenance frees it (deploy/README.md, "Retention on an append-only repository").
    step="borg prune"
    run borg prune --lock-wait 600 --glob-archives 'lynx-portal-*' \
        --keep-daily=14 --keep-weekly=8 --keep-monthly=12
    step="borg compact"
    run borg compact --lock-wait 600
fi

step="done"
say "backup $archive complete"
if [ "$verify" = yes ]; then
    # The restore proof: pull the new archive back and verify it as a restore would. This run's
    # line is logged first; the verifier logs its own and keeps the lock (fd 9) until it ends.
    verifier=$here/borg-verify.sh
    [ -x "$verifier" ] || verifier=$here/lynx-backup-verify
    [ -x "$verifier" ] || { say "no borg-verify.sh or lynx-backup-verify beside $0"; exit 1; }
    trap - EXIT
    log_run backup ok archive="$archive"
    rm -f "$step_errors"
    exec "$verifier" "$archive"
fi
