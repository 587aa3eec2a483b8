#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# lynx-backup (installed from deploy/backup/borg-backup.sh): the off-site backup, nightly and
# frequent.
#
#   1. a consistent snapshot of the live database by the portal's own command (SQLite's online
#      backup API in one step, fsynced), run as the portal user with an empty environment;
#   2. its manifest (row counts, content hashes, integrity_check, SHA-256), written beside it;
#   3. `borg create` of snapshot + manifest + audit logs as lynx-portal-YYYYMMDDTHHMMSSZ (nightly)
#      or lynx-portal-YYYYMMDDTHHMMSSZ-frequent, zstd, with 4 KiB fixed chunks that line up with
#      SQLite's pages, the manifest's row counts in the archive's comment (lynx-restore --list);
#   4. the local snapshot removed, `borg prune`, `borg compact` (nightly only);
#   5. one JSON line in $LYNX_LOG_DIR/backup.log; then lynx-backup-verify on the new archive
#      (nightly only: the restore proof, and the dead-man ping after it).
#
# --frequent (every LYNX_SNAPSHOT_INTERVAL_MINUTES, from cron with --if-due) verifies the
# snapshot against its manifest before sending it, and sends nothing when the database's content
# is what the last archive holds: the change marker is a SHA-256 over the manifest's schema and
# per-table row counts and content hashes and the audit logs' names and sizes, compared with the
# one recorded (root-only, in LYNX_BACKUP_STATE_DIR) when the last archive was created.
#
# Runs as root (root's cron, /etc/cron.d/lynx-portal): borg.env and the SSH key stay root-only and
# the portal user never sees the passphrase (see deploy/README.md, "Backups and restore").
# Never reads portal.env. Never writes the live database. One run at a time (a lock shared with
# lynx-restore): a frequent run that finds the lock taken skips; the nightly run waits for a
# frequent one.
set -euo pipefail

usage() {
    cat >&2 <<'USAGE'
usage: lynx-backup [--no-verify] [--no-prune]
       lynx-backup --frequent [--if-due]
       lynx-backup --print-prune-command
  --no-verify   skip pulling the new archive back and verifying it (lynx-backup-verify)
  --no-prune    skip borg prune and borg compact (e.g. when the backup host runs retention)
  --frequent    a frequent snapshot: verified against its manifest, sent only when the data
                changed since the last archive; no prune, no restore proof; skipped (exit 0)
                when another backup or restore holds the lock
  --if-due      with --frequent: run only when the UTC clock is at a multiple of
                LYNX_SNAPSHOT_INTERVAL_MINUTES (default 15; 0: never); else exit 0 silently
  --print-prune-command   print the retention command to run on the backup host
Settings: LYNX_BORG_ENV (default /etc/lynx-portal/borg.env: BORG_REPO, BORG_PASSPHRASE or
BORG_PASSCOMMAND, BORG_RSH), LYNX_DATA_DIR, LYNX_LOG_DIR, LYNX_PORTAL_BIN, LYNX_PORTAL_USER,
LYNX_BACKUP_LOCK, LYNX_BACKUP_LOCK_WAIT, LYNX_BACKUP_STATE_DIR, LYNX_BORG_CHUNKER (default
fixed,4096), LYNX_BACKUP_PRUNE (yes|no), LYNX_SNAPSHOT_INTERVAL_MINUTES.
USAGE
    exit 2
}

verify=yes prune=yes mode=nightly if_due=no print_prune=no
while [ $# -gt 0 ]; do
    case "$1" in
        --no-verify) verify=no ;;
        --no-prune) prune=no ;;
        --frequent) mode=frequent ;;
        --if-due) if_due=yes ;;
        --print-prune-command) print_prune=yes ;;
        -h | --help) usage ;;
        *) echo "lynx-backup: unknown argument '$1'" >&2; usage ;;
    esac
    shift
done
if [ "$if_due" = yes ] && [ "$mode" != frequent ]; then echo "lynx-backup: --if-due goes with --frequent" >&2; usage; fi
# The job's name in backup.log and its failure file for doctor and /healthz.
job_name=backup failure_file=backup-last-failed.json
if [ "$mode" = frequent ]; then
    verify=no prune=no job_name=frequent failure_file=backup-snapshot-last-failed.json
fi

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
    if [ "$quiet" = yes ]; then
        rm -f "$step_errors"
        exit "$status"
    fi
    if [ "$status" -eq 0 ]; then
        local extra=()
        [ -z "$reason" ] || extra=(reason="$reason")
        log_run "$job_name" "$outcome" archive="$archive" "${extra[@]}"
    else
        # Before saying anything more: say appends to the step's error record.
        error=$(last_step_error)
        say "FAILED at step '$step' (exit $status); the live database was not touched"
        log_run "$job_name" failed step="$step" archive="$archive" exit:="$status" error="$error"
        write_failure "$failure_file" "$job_name" "$step" "${error:-exit $status}"
    fi
    rm -f "$step_errors"
    exit "$status"
}
quiet=no outcome=ok reason=""
read_settings
if [ "$print_prune" = yes ]; then
    printf 'borg prune --list --stats'
    printf ' %q' "${prune_policy[@]}"
    printf ' REPOSITORY\n'
    exit 0
fi
trap finish EXIT

step="loading the borg settings"
if [ "$if_due" = yes ]; then
    # Scheduled (cron calls it every minute): not due, or no repository set up yet, says nothing
    # at all. The nightly run reports a missing or incomplete borg.env, once a day.
    quiet=yes
    load_borg_env 2>/dev/null || exit 0
    [ -n "${BORG_REPO:-}" ] || exit 0
    quiet=no
    interval=$(snapshot_interval)
    if [ "$interval" -eq 0 ] || [ $(($(date +%s) / 60 % interval)) -ne 0 ]; then quiet=yes; exit 0; fi
else
    load_borg_env
fi
# Settings may come from borg.env, so read them only now.
read_settings
if [ "$mode" = frequent ]; then
    interval=$(snapshot_interval)
elif ! interval=$(snapshot_interval); then
    # A mistyped frequent setting never stops the nightly backup; the frequent runs fail on it.
    interval=15
fi
chunker=${LYNX_BORG_CHUNKER:-fixed,4096}
# LYNX_BACKUP_PRUNE=no in borg.env leaves retention to the backup host (deploy/README.md).
[ "${LYNX_BACKUP_PRUNE:-yes}" != no ] || prune=no
[ -n "${BORG_REPO:-}" ] || { say "BORG_REPO is not set (in ${LYNX_BORG_ENV-/etc/lynx-portal/borg.env})"; exit 1; }
[ -n "${BORG_PASSPHRASE:-}${BORG_PASSCOMMAND:-}" ] || { say "neither BORG_PASSPHRASE nor BORG_PASSCOMMAND is set"; exit 1; }
[ -x "$portal_bin" ] || { say "$portal_bin is missing (LYNX_PORTAL_BIN)"; exit 1; }
[ -f "$data_dir/portal.db" ] || { say "$data_dir/portal.db does not exist (LYNX_DATA_DIR)"; exit 1; }
command -v borg >/dev/null || { say "borg is not installed (apt-get install borgbackup)"; exit 1; }

step="taking the lock"
lock_status=0
take_lock "$mode" || lock_status=$?
if [ "$lock_status" -eq 75 ]; then
    # Never a failure: the run holding the lock (the nightly backup, a restore) is the one that
    # matters now, and the next interval comes soon.
    outcome=skipped reason="another lynx-backup or lynx-restore holds the lock $lock"
    say "skipped: $reason"
    exit 0
fi
[ "$lock_status" -eq 0 ] || exit "$lock_status"
state=$(state_dir)
marker_file=$state/last-archive.json

step="snapshot and manifest"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
archive="lynx-portal-$stamp"
[ "$mode" != frequent ] || archive="$archive-frequent"
stage=$data_dir/snapshot
rm -rf "$stage"
mkdir -m 0700 "$stage"
# -h: the data directory is the portal's; never follow a name in it to somewhere else.
if [ -n "$portal_user" ] && [ "$(id -un)" != "$portal_user" ]; then chown -h "$portal_user:" "$stage"; fi
t0=$(date +%s.%N)
run portal_cli snapshot --to "$stage/portal.db" --manifest "$stage/manifest.json"
figures[snapshot_seconds]=$(elapsed "$t0")
figures[snapshot_bytes]=$(stat -c %s "$stage/portal.db")

# The change marker and the archive's comment (row counts and size, for lynx-restore --list),
# from the manifest, which root reads but never trusts for more than these numbers. The marker
# also covers the audit logs' names and sizes (they are only ever appended to), so that audit
# events alone are sent too.
step="reading the manifest"
audit_state=""
if [ -d "$data_dir/audit" ]; then audit_state=$(find "$data_dir/audit" -type f -printf '%P %s\n' | sort); fi
read -r marker comment < <(python3 -c '
import hashlib, json, sys
manifest = json.load(open(sys.argv[1]))
content = {"schema": manifest.get("schema_version"), "migrations": manifest.get("migrations"),
           "tables": [[t["name"], t["rows"], t["sha256"]] for t in manifest["tables"]],
           "audit": sys.argv[3]}
marker = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
comment = {"kind": sys.argv[2], "snapshot_bytes": manifest["snapshot"]["bytes"],
           "created_at": manifest.get("created_at"),
           "rows": {t["name"]: t["rows"] for t in manifest["tables"]}}
# borg expands {placeholders} in a comment: braces are doubled to stay literal.
text = json.dumps(comment, separators=(",", ":"), sort_keys=True)
print(marker, text.replace("{", "{{").replace("}", "}}"))
' "$stage/manifest.json" "$mode" "$audit_state")
if [ -z "$marker" ] || [ -z "$comment" ]; then say "could not read $stage/manifest.json"; exit 1; fi

if [ "$mode" = frequent ] && [ -f "$marker_file" ]; then
    last=$(python3 -c '
import json, sys
last = json.load(open(sys.argv[1]))
if last.get("repository") == sys.argv[2] and last.get("marker") == sys.argv[3]:
    print(last.get("archive", ""))
' "$marker_file" "$BORG_REPO" "$marker")
    if [ -n "$last" ]; then
        # No empty archives: the last one already holds exactly this content, so the off-site copy
        # is current as of now.
        step="recording an unchanged database"
        rm -rf "$stage"
        stage=""
        archive=$last outcome=unchanged
        write_status backup-last-snapshot.json "$archive" "$(elapsed "$started")" \
            "\"interval_seconds\":$((interval * 60)),\"changed\":false"
        say "unchanged since $archive: nothing sent"
        exit 0
    fi
fi

if [ "$mode" = frequent ]; then
    # Nothing goes off-site that does not match its own manifest (checked only when something
    # is to be sent: an unchanged run has returned above, at the cost of the snapshot alone).
    step="verifying the snapshot against its manifest"
    t0=$(date +%s.%N)
    run portal_cli snapshot verify "$stage/portal.db" --manifest "$stage/manifest.json" >/dev/null
    figures[verify_seconds]=$(elapsed "$t0")
fi

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
    --lock-wait 600 --comment "$comment" "::$archive" "${paths[@]}" >"$stats") || status=$?
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
step="recording the archive"
partial=$(mktemp "$marker_file.XXXXXX")
python3 -c '
import json, sys
print(json.dumps({"repository": sys.argv[1], "archive": sys.argv[2], "marker": sys.argv[3]}))
' "$BORG_REPO" "$archive" "$marker" >"$partial"
mv -f "$partial" "$marker_file"
[ "$mode" = frequent ] || write_status backup-last-good.json "$archive" "$(elapsed "$started")"
write_status backup-last-snapshot.json "$archive" "$(elapsed "$started")" \
    "\"interval_seconds\":$((interval * 60)),\"changed\":true"
say "created $archive (increment ${figures[increment_bytes]} bytes, repository ${figures[repository_bytes]} bytes)"

step="removing the local snapshot"
rm -rf "$stage"
stage=""

if [ "$prune" = yes ]; then
    # Over an append-only key these record deletions without freeing space: the backup host's
    # maintenance frees it (deploy/README.md, "Retention on an append-only repository").
    step="borg prune"
    run borg prune --lock-wait 600 "${prune_policy[@]}"
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
