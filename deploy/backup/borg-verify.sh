#!/usr/bin/env bash
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

# --- helpers (the same in borg-backup.sh, borg-verify.sh and borg-restore.sh) ---------------

# Messages go to stderr and into the step's error record, so a failure's log line says why.
say() {
    echo "lynx-$job: $*" >&2
    echo "$*" >>"$step_errors" 2>/dev/null || true
}

# KEY=VALUE lines as systemd's EnvironmentFile= reads them: parsed, never executed as shell.
# Only BORG_* and LYNX_* names are taken; the file's values win over the environment.
load_borg_env() {
    local file=${LYNX_BORG_ENV-/etc/lynx-portal/borg.env} line key value
    [ -n "$file" ] || return 0
    if [ ! -r "$file" ]; then
        say "cannot read $file (LYNX_BORG_ENV): it is root-only by design, run as root (sudo)"
        return 1
    fi
    while IFS= read -r line || [ -n "$line" ]; do
        [[ $line =~ ^[[:space:]]*((BORG|LYNX)_[A-Z0-9_]*)=(.*)$ ]] || continue
        key=${BASH_REMATCH[1]} value=${BASH_REMATCH[3]}
        if [[ $value =~ ^\"(.*)\"$ || $value =~ ^\'(.*)\'$ ]]; then value=${BASH_REMATCH[1]}; fi
        export "$key=$value"
    done <"$file"
}

# Runs a command; its stderr is shown and kept for the failure line of the log.
run() {
    local status=0
    "$@" 2>"$step_errors" || status=$?
    cat "$step_errors" >&2
    return "$status"
}

# Runs the portal's own command as the portal user, with nothing of this script's environment
# (no borg passphrase) but the data directory.
portal_cli() {
    local command=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LYNX_DATA_DIR="$data_dir" "$portal_bin" "$@")
    if [ -n "$portal_user" ] && [ "$(id -un)" != "$portal_user" ]; then
        runuser -u "$portal_user" -- "${command[@]}"
    else
        "${command[@]}"
    fi
}

# One JSON object per line in backup.log; KEY=text or KEY:=json (numbers, true, null). Opened
# with O_NOFOLLOW: the log directory is the portal user's, and root never writes through a link.
log_json() {
    mkdir -p "$log_dir"
    python3 -c '
import json, os, sys
record = {}
for argument in sys.argv[2:]:
    key, _, value = argument.partition("=")
    if key.endswith(":"):
        record[key[:-1]] = json.loads(value)
    else:
        record[key] = value
descriptor = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o640)
os.write(descriptor, (json.dumps(record) + "\n").encode())
os.close(descriptor)
' "$log_dir/backup.log" "$@"
}

# Atomically replaces a status file that doctor and /healthz read (BackupStatus.swift),
# portal:portal 0640 like the rest of the data. Root writing into the portal's directory: a new
# file from mktemp (never an existing name, which could be a symlink), then rename(2), which
# replaces a name without following it.
write_status() {
    local file=$data_dir/$1 now partial
    now=$(date +%s)
    partial=$(mktemp "$data_dir/.$1.XXXXXX")
    printf '{"epoch":%s,"time":"%s","archive":"%s","duration_seconds":%s}\n' \
        "$now" "$(date -u -d "@$now" +%Y-%m-%dT%H:%M:%SZ)" "$2" "$3" >"$partial"
    chmod 0640 "$partial"
    [ -z "$portal_user" ] || chown -h "$portal_user:$portal_user" "$partial"
    mv -f "$partial" "$file"
}

elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }'; }

latest_archive() {
    borg list --lock-wait 600 --short --sort-by timestamp --last 1 --glob-archives 'lynx-portal-*' 2>"$step_errors"
}

# --- the run ---------------------------------------------------------------------------------

finish() {
    local status=$? extra=() key error
    trap - EXIT
    if [ -n "$scratch" ] && [ -d "$scratch" ]; then rm -rf "$scratch"; fi
    for key in "${!figures[@]}"; do extra+=("$key:=${figures[$key]}"); done
    if [ "$status" -eq 0 ]; then
        log_json time="$(date -u +%Y-%m-%dT%H:%M:%SZ)" job="$job_name" outcome=ok archive="$archive" \
            duration_seconds:="$(elapsed "$started")" "${extra[@]}" || say "could not write to $log_dir/backup.log"
    else
        error=$(grep -v '^[[:space:]]*$' "$step_errors" 2>/dev/null | tail -n 1 | cut -c1-300 || true)
        say "FAILED at step '$step' (exit $status)"
        log_json time="$(date -u +%Y-%m-%dT%H:%M:%SZ)" job="$job_name" outcome=failed step="$step" \
            archive="$archive" exit:="$status" error="$error" duration_seconds:="$(elapsed "$started")" \
            "${extra[@]}" 2>/dev/null || say "could not write the log line to $log_dir/backup.log"
    fi
    rm -f "$step_errors"
    exit "$status"
}
data_dir=${LYNX_DATA_DIR:-/var/lib/lynx-portal}
log_dir=${LYNX_LOG_DIR:-/var/log/lynx-portal}
trap finish EXIT

step="loading the borg settings"
load_borg_env
data_dir=${LYNX_DATA_DIR:-/var/lib/lynx-portal}
log_dir=${LYNX_LOG_DIR:-/var/log/lynx-portal}
portal_bin=${LYNX_PORTAL_BIN:-/opt/lynx-portal/bin/lynx-portal}
portal_user=${LYNX_PORTAL_USER-portal}
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
