#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# lynx-backup-verify (installed from deploy/backup/borg-verify.sh): the restore proof.
#
# Pulls an archive back from the off-site repository into a scratch directory and verifies the
# snapshot exactly as lynx-restore does before it touches anything (size and SHA-256 against the
# manifest, integrity_check, foreign_key_check, schema, each table's row count and content
# hash), then runs the portal's own store queries against a scratch copy. Records the time to a
# verified copy, logs one JSON line in $LYNX_LOG_DIR/backup.log, updates the status that
# `lynx-portal doctor` and /healthz report, and only then calls the optional ping URL.
# lynx-backup runs it right after every backup; cron runs the repository checks.
set -euo pipefail

usage() {
    cat >&2 <<'USAGE'
usage: lynx-backup-verify ARCHIVE | --latest
       lynx-backup-verify --check-repository    (borg check: weekly)
       lynx-backup-verify --verify-data         (borg check --verify-data: monthly)
Settings as lynx-backup; LYNX_BACKUP_PING_URL (optional) is requested after a verified restore.
USAGE
    exit 2
}

mode="" archive=""
case "${1:-}" in
    --latest) mode=archive archive=--latest ;;
    --check-repository) mode=check ;;
    --verify-data) mode=verify-data ;;
    -h | --help | "" | -*) usage ;;
    *) mode=archive archive=$1 ;;
esac
[ $# -eq 1 ] || usage
# The job name in backup.log: verify (an archive), check, or verify-data.
job_name=$mode
[ "$mode" != archive ] || job_name=verify

job=verify
step="starting"
started=$(date +%s.%N)
scratch=""
step_errors=$(mktemp)
declare -A figures=()

here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
# Shared helpers: beside this script in the repository, in /usr/local/lib/lynx-portal installed.
common=$here/lynx-backup-common.sh
[ -r "$common" ] || common=/usr/local/lib/lynx-portal/lynx-backup-common.sh
# shellcheck source=lynx-backup-common.sh
. "$common"

# --- the run ---------------------------------------------------------------------------------

finish() {
    local status=$? error
    trap - EXIT
    if [ -n "$scratch" ] && [ -d "$scratch" ]; then rm -rf "$scratch"; fi
    if [ "$status" -eq 0 ]; then
        log_run "$job_name" ok archive="$archive"
    else
        # Before saying anything more: say appends to the step's error record.
        error=$(last_step_error)
        say "FAILED at step '$step' (exit $status)"
        log_run "$job_name" failed step="$step" archive="$archive" exit:="$status" error="$error"
        write_failure backup-verify-last-failed.json "$job_name" "$step" "${error:-exit $status}"
    fi
    rm -f "$step_errors"
    exit "$status"
}
read_settings
trap finish EXIT

step="loading the borg settings"
load_borg_env
read_settings
[ -n "${BORG_REPO:-}" ] || { say "BORG_REPO is not set (in ${LYNX_BORG_ENV-/etc/lynx-portal/borg.env})"; exit 1; }
command -v borg >/dev/null || { say "borg is not installed (apt-get install borgbackup)"; exit 1; }

if [ "$mode" = check ] || [ "$mode" = verify-data ]; then
    # Reads every segment (and, with --verify-data, decrypts every chunk): slow, hence weekly
    # and monthly. Read-only, so it works over the append-only key.
    flags=()
    [ "$mode" = verify-data ] && flags=(--verify-data)
    step="borg check ${flags[*]}"
    run borg check --lock-wait 600 "${flags[@]}"
    write_status "backup-last-$mode.json" "" "$(elapsed "$started")"
    exit 0
fi

[ -x "$portal_bin" ] || { say "$portal_bin is missing (LYNX_PORTAL_BIN)"; exit 1; }
if [ "$archive" = --latest ]; then
    step="finding the latest archive"
    archive=$(latest_archive) || { cat "$step_errors" >&2; exit 1; }
    [ -n "$archive" ] || { say "the repository has no lynx-portal-* archive"; exit 1; }
fi

step="extracting $archive"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/lynx-verify.XXXXXX")
t0=$(date +%s.%N)
(cd "$scratch" && run borg extract --lock-wait 600 "::$archive")
figures[extract_seconds]=$(elapsed "$t0")
if [ ! -f "$scratch/snapshot/portal.db" ] || [ ! -f "$scratch/snapshot/manifest.json" ]; then
    say "$archive holds no snapshot/portal.db with snapshot/manifest.json"
    exit 1
fi
figures[snapshot_bytes]=$(stat -c %s "$scratch/snapshot/portal.db")
figures[audit_files]=$(find "$scratch" -path '*/audit/*' -type f | wc -l)
# The portal user reads the extracted files (borg restored their owner, portal) but cannot
# rename or replace anything in root's scratch directory.
if [ -n "$portal_user" ] && [ "$(id -un)" != "$portal_user" ]; then
    chgrp "$portal_user" "$scratch"
    chmod 0750 "$scratch"
fi

step="verifying the snapshot against its manifest"
t1=$(date +%s.%N)
run portal_cli snapshot verify "$scratch/snapshot/portal.db" --manifest "$scratch/snapshot/manifest.json" --smoke
figures[verify_seconds]=$(elapsed "$t1")
figures[time_to_verified_copy_seconds]=$(elapsed "$t0")

step="recording the verified restore"
write_status backup-last-verified.json "$archive" "${figures[time_to_verified_copy_seconds]}"
say "$archive verified: a restore would bring back exactly its manifest (${figures[time_to_verified_copy_seconds]} s to a verified copy)"

if [ -n "${LYNX_BACKUP_PING_URL:-}" ]; then
    # The dead-man's switch hears from us only after a verified restore: silence means trouble.
    step="calling the ping URL"
    if run curl -fsS --max-time 10 --retry 3 -o /dev/null "$LYNX_BACKUP_PING_URL"; then
        figures[pinged]=true
    else
        say "the ping URL did not answer; the verification itself succeeded"
        figures[pinged]=false
    fi
fi
step="done"
