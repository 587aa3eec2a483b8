# Shared by lynx-backup, lynx-backup-verify and lynx-restore (deploy/backup/borg-*.sh), and
# lynx-borg: sourced, never run. Installed as /usr/local/lib/lynx-portal/lynx-backup-common.sh.
# The sourcing script sets job (its name in messages), step_errors, started (date +%s.%N) and a
# figures array for its log line, and calls read_settings.
# shellcheck shell=bash

# Where the job works; read again after borg.env, which may set them.
read_settings() {
    data_dir=${LYNX_DATA_DIR:-/var/lib/lynx-portal}
    log_dir=${LYNX_LOG_DIR:-/var/log/lynx-portal}
    portal_bin=${LYNX_PORTAL_BIN:-/opt/lynx-portal/bin/lynx-portal}
    portal_user=${LYNX_PORTAL_USER-portal}
}

# Messages go to stderr and into the step's error record, so a failure's log line says why.
say() {
    echo "lynx-${job:-borg}: $*" >&2
    [ -z "${step_errors:-}" ] || echo "$*" >>"$step_errors" 2>/dev/null || true
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
# replaces a name without following it. write_status FILE ARCHIVE DURATION [EXTRA], EXTRA being
# more JSON members (e.g. `"interval_seconds":900`).
write_status() {
    local file=$data_dir/$1 now partial extra=${4:+,$4}
    now=$(date +%s)
    partial=$(mktemp "$data_dir/.$1.XXXXXX")
    printf '{"epoch":%s,"time":"%s","archive":"%s","duration_seconds":%s%s}\n' \
        "$now" "$(date -u -d "@$now" +%Y-%m-%dT%H:%M:%SZ)" "$2" "$3" "$extra" >"$partial"
    chmod 0640 "$partial"
    [ -z "$portal_user" ] || chown -h "$portal_user:$portal_user" "$partial"
    mv -f "$partial" "$file"
}

# A failed run, for doctor and /healthz (BackupStatus.swift): write_failure FILE JOB STEP MESSAGE
# writes {"epoch", "time", "job", "step", "message"} the same careful way as write_status. The check
# alerts while the failure is newer than the job's last success. Never fails the caller: the
# run has already failed, and its log line still says why.
write_failure() {
    local file=$data_dir/$1 partial
    [ -d "$data_dir" ] || return 0
    partial=$(mktemp "$data_dir/.$1.XXXXXX" 2>/dev/null) || { say "could not record the failure in $file"; return 0; }
    if python3 -c '
import json, sys, time
now = int(time.time())
print(json.dumps({"epoch": now, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
                  "job": sys.argv[1], "step": sys.argv[2], "message": sys.argv[3]}))
' "$2" "$3" "$4" >"$partial" && chmod 0640 "$partial" \
        && { [ -z "$portal_user" ] || chown -h "$portal_user:$portal_user" "$partial"; } \
        && mv -f "$partial" "$file"; then
        return 0
    fi
    rm -f "$partial"
    say "could not record the failure in $file"
}

elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }'; }

# The run's line in backup.log: log_run JOB OUTCOME [KEY=value ...], with the time, the run's
# duration (from $started) and its figures (the caller's `figures` array) added.
# shellcheck disable=SC2154 # started and figures: set by the sourcing script (see the top).
log_run() {
    local logged_job=$1 outcome=$2 key extra=()
    shift 2
    for key in "${!figures[@]}"; do extra+=("$key:=${figures[$key]}"); done
    log_json time="$(date -u +%Y-%m-%dT%H:%M:%SZ)" job="$logged_job" outcome="$outcome" "$@" \
        duration_seconds:="$(elapsed "$started")" "${extra[@]}" 2>/dev/null \
        || say "could not write the log line to $log_dir/backup.log"
}

# The last non-blank line the failed step wrote to stderr (collected in $step_errors).
last_step_error() { grep -v '^[[:space:]]*$' "$step_errors" 2>/dev/null | tail -n 1 | cut -c1-300 || true; }

# The default lock lives in a directory only root can write (/etc/tmpfiles.d/lynx-portal.conf
# makes it at boot; made here too if missing), never in world-writable /run/lock, where any local
# user could create the file first and hold it, or put a link in its place.
#
# take_lock [KIND]: the holder writes "PID KIND" into the lock file. A frequent snapshot
# (KIND frequent) never waits: it returns 75 when the lock is taken, and the caller skips the run.
# Every other job waits up to LYNX_BACKUP_LOCK_WAIT seconds (default 900) for a frequent snapshot
# to finish, so the nightly backup or a restore is never failed by one; against any other holder
# it fails at once, as before.
take_lock() {
    local kind=${1:-backup} dir=/run/lynx-portal-backup holder="" deadline
    lock=${LYNX_BACKUP_LOCK:-$dir/backup.lock}
    if [ -z "${LYNX_BACKUP_LOCK:-}" ]; then
        [ -e "$dir" ] || mkdir -m 0700 "$dir"
        if [ -L "$dir" ] || [ "$(stat -c '%u %a' "$dir")" != "$(id -u) 700" ]; then
            say "$dir must be a directory owned by $(id -un) with mode 0700; not starting"
            return 1
        fi
    fi
    exec 9>>"$lock"
    if ! flock -n 9; then
        [ "$kind" != frequent ] || return 75
        # The holder writes its line right after taking the lock: give it a moment to appear.
        deadline=$(($(date +%s) + 3))
        while holder=$(head -c 40 "$lock" 2>/dev/null); [ -z "$holder" ] && [ "$(date +%s)" -lt "$deadline" ]; do
            sleep 0.1
        done
        if [[ $holder == *" frequent"* ]]; then
            say "a frequent snapshot (pid ${holder%% *}) is running: waiting for it (at most ${LYNX_BACKUP_LOCK_WAIT:-900} s)"
            if ! flock -w "${LYNX_BACKUP_LOCK_WAIT:-900}" 9; then
                say "the frequent snapshot still holds the lock $lock after ${LYNX_BACKUP_LOCK_WAIT:-900} s; not starting"
                return 1
            fi
        else
            say "another lynx-backup or lynx-restore is running (lock $lock held by pid ${holder%% *}); not starting"
            return 1
        fi
    fi
    echo "$$ $kind" >"$lock"
}

# Root-only state of the backup jobs (the last archive sent and its change marker): kept out
# of the data directory, which the portal user could write. Default /var/lib/lynx-portal-backup.
state_dir() {
    local dir=${LYNX_BACKUP_STATE_DIR:-/var/lib/lynx-portal-backup}
    [ -e "$dir" ] || mkdir -m 0700 "$dir"
    if [ -z "${LYNX_BACKUP_STATE_DIR:-}" ] && { [ -L "$dir" ] || [ "$(stat -c '%u %a' "$dir")" != "$(id -u) 700" ]; }; then
        say "$dir must be a directory owned by $(id -un) with mode 0700"
        return 1
    fi
    echo "$dir"
}

# The retention policy, in one place: every archive of the last 48 hours, the last one of each
# hour for a week (168 hours that have archives), then 14 daily, 8 weekly, 12 monthly. Used by
# the nightly prune and printed by `lynx-backup --print-prune-command` for the backup host.
# shellcheck disable=SC2034 # used by the sourcing scripts
prune_policy=(--glob-archives 'lynx-portal-*' --keep-within=48H --keep-hourly=168 --keep-daily=14 --keep-weekly=8 --keep-monthly=12)

# The snapshot interval, minutes (LYNX_SNAPSHOT_INTERVAL_MINUTES in borg.env, default 15; 0: no
# frequent snapshots). Exits the caller on a value that is not a whole number.
snapshot_interval() {
    local minutes=${LYNX_SNAPSHOT_INTERVAL_MINUTES:-15}
    if ! [[ $minutes =~ ^[0-9]+$ ]] || [ "$minutes" -gt 1440 ]; then
        say "LYNX_SNAPSHOT_INTERVAL_MINUTES must be a whole number of minutes from 0 to 1440, not '$minutes'"
        return 1
    fi
    echo "$((10#$minutes))"
}

latest_archive() {
    borg list --lock-wait 600 --short --sort-by timestamp --last 1 --glob-archives 'lynx-portal-*' 2>"$step_errors"
}
