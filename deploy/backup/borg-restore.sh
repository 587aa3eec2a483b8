#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# lynx-restore (installed from deploy/backup/borg-restore.sh): puts a verified snapshot back as
# the live database.
#
# Extracts the archive into a scratch directory next to the data, verifies the snapshot against
# its manifest (size, SHA-256, integrity_check, foreign keys, schema, row counts and content)
# and smoke-tests it through the portal's own code BEFORE touching anything: a corrupt or
# mismatching archive is refused with the live data untouched. Only then: end every session in
# the restored copy (everyone signs in again: a session revoked after the backup must not come
# back), stop the service, move every portal.db* aside as portal.db.broken.<epoch>* (never
# deleted), install the snapshot (portal:portal 0640), add back audit logs that are missing
# (never overwriting), apply pending migrations (an archive from an older release), start the
# service, wait for /healthz to be green, and print the row counts against the manifest.
# --dry-run stops after the verification.
set -euo pipefail

usage() {
    cat >&2 <<'USAGE'
usage: lynx-restore ARCHIVE | --latest | --before TIME [--dry-run] [--health-url URL]
       lynx-restore --list
  ARCHIVE           an archive name, lynx-portal-YYYYMMDDTHHMMSSZ[-frequent] (lynx-restore --list)
  --latest          the newest lynx-portal-* archive
  --before TIME     the newest archive taken at or before TIME, which names its zone:
                    2026-12-01T18:00Z, 2026-12-01T19:00+01:00, "2026-12-01 19:00 Europe/Madrid"
  --list            the archives, oldest first: when taken, age, kind, database size, row counts
  --dry-run         extract and verify only; change nothing
  --health-url URL  where to check that the portal is back (default: the site install.sh
                    recorded in /etc/lynx-portal/install.conf). Always this server's own Caddy:
                    the URL's host is resolved to 127.0.0.1, never through DNS.
Settings as lynx-backup, and LYNX_SERVICE_CTL (a command taking stop|start; default systemctl
on lynx-portal.socket and lynx-portal.service), LYNX_HEALTH_URL (as --health-url),
LYNX_HEALTH_RESOLVE (curl --resolve HOST:PORT:ADDR instead of HOST:PORT:127.0.0.1),
LYNX_RESTORE_SCRATCH (where to extract; default the data directory's parent).
USAGE
    exit 2
}

archive="" dry_run=no health_url_option="" before="" list=no
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) dry_run=yes ;;
        --health-url) [ $# -ge 2 ] || usage; health_url_option=$2; shift ;;
        --latest) [ -z "$archive" ] || usage; archive=--latest ;;
        --before)
            if [ $# -lt 2 ] || [ -n "$archive" ]; then usage; fi
            archive=--before before=$2
            shift
            ;;
        --list) list=yes ;;
        -h | --help) usage ;;
        -*) echo "lynx-restore: unknown option '$1'" >&2; usage ;;
        *) [ -z "$archive" ] || usage; archive=$1 ;;
    esac
    shift
done
[ -n "$archive" ] || [ "$list" = yes ] || usage
[ "$list" = no ] || [ -z "$archive" ] || usage

job=restore
step="starting"
started=$(date +%s.%N)
scratch=""
stopped=no
moved_aside=""
installed=no
step_errors=$(mktemp)
declare -A figures=()

here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
# Shared helpers: beside this script in the repository, in /usr/local/lib/lynx-portal installed.
common=$here/lynx-backup-common.sh
[ -r "$common" ] || common=/usr/local/lib/lynx-portal/lynx-backup-common.sh
# shellcheck source=lynx-backup-common.sh
. "$common"

# stop|start the portal. Production: the socket and the service (stopping only the service
# would let the next request start it again on the old file). The lock's descriptor is closed
# for it: a portal started from here must not hold the lock for the rest of its life.
service_ctl() {
    if [ -n "${LYNX_SERVICE_CTL:-}" ]; then
        local ctl
        read -r -a ctl <<<"$LYNX_SERVICE_CTL"
        "${ctl[@]}" "$1" 9>&-
    else
        systemctl "$1" lynx-portal.socket lynx-portal.service 9>&-
    fi
}

# The health check goes to this server's own Caddy, never to whatever DNS names: on a new server
# DNS still points at the old one (or nowhere) until the operator switches it. The URL is
# --health-url, LYNX_HEALTH_URL, else the site deploy/install.sh recorded (domain, TLS mode and
# ports); its host is resolved to 127.0.0.1 (LYNX_HEALTH_RESOLVE overrides). Over HTTPS on
# loopback the certificate is not checked: it may come from Caddy's local CA (--tls-internal),
# and the request never leaves this machine.
health_target() {
    health_url=${health_url_option:-${LYNX_HEALTH_URL:-}}
    health_resolve=${LYNX_HEALTH_RESOLVE:-}
    health_tls=""
    local conf=/etc/lynx-portal/install.conf domain="" http_port=80 https_port=443 key value
    local rest hostport host port
    if [ -z "$health_url" ] && [ -r "$conf" ]; then
        health_tls=yes
        while IFS='=' read -r key value; do
            case "$key" in
                domain) domain=$value ;;
                tls) health_tls=$value ;;
                http_port) http_port=$value ;;
                https_port) https_port=$value ;;
            esac
        done <"$conf"
        if [ -n "$domain" ] && [ "$health_tls" = no ]; then
            health_url="http://$domain:$http_port/healthz"
        elif [ -n "$domain" ]; then
            health_url="https://$domain:$https_port/healthz"
        fi
    fi
    [ -n "$health_url" ] || { say "pass --health-url URL (e.g. https://portal.example.org/healthz): no site in $conf"; return 1; }
    if [ -z "$health_resolve" ]; then
        rest=${health_url#*://}
        hostport=${rest%%/*}
        host=$hostport port=80
        [[ $health_url != https://* ]] || port=443
        if [[ $hostport =~ ^(.+):([0-9]+)$ ]]; then host=${BASH_REMATCH[1]} port=${BASH_REMATCH[2]}; fi
        health_resolve="$host:$port:127.0.0.1"
    fi
    health_curl=(--resolve "$health_resolve")
    if [[ $health_url == https://* && $health_resolve == *:127.0.0.1 ]]; then health_curl+=(--insecure); fi
}

# Green means HTTP 200 and the database reported ok (not merely some server answering). A URL
# that does not reach Caddy over loopback gets the public answer, the health alone. Sets
# health_no_certificate when Caddy had no certificate to offer (curl: TLS handshake failed).
health_no_certificate=no
health_green() {
    local body status=0
    body=$(curl -fsS --max-time 3 "${health_curl[@]}" "$health_url" 2>/dev/null) || status=$?
    if [ "$status" -eq 35 ]; then health_no_certificate=yes; fi
    [ "$status" -eq 0 ] || return 1
    [[ $body == *'"database":"ok"'* || $body == '{"status":"ok"}' ]]
}

# With Let's Encrypt (install.sh --tls, the default), Caddy has no certificate for the domain
# until DNS points at this server, so HTTPS cannot answer yet on a new server: the portal's own
# checks (database, socket, layout, secrets) stand in for /healthz until then.
doctor_green() {
    local cli=/usr/local/bin/lynx-portal output
    [ "$health_tls" = yes ] && [ "$health_no_certificate" = yes ] && [ -x "$cli" ] || return 1
    output=$("$cli" doctor 2>&1) || return 1
    say "$health_url has no certificate yet (DNS does not point here yet?); lynx-portal doctor instead: $(tail -n 1 <<<"$output")"
}

# The archives as `borg list` names them, with their comments (lynx-backup writes the manifest's
# row counts and the database size there), read from stdin as NAME<TAB>COMMENT lines. The time of
# an archive is the UTC stamp in its name: when its snapshot was taken.
#   archives_tool list            a table, oldest first
#   archives_tool pick TIME       the newest archive at or before TIME, and a line saying so
archives_tool() { python3 -c "$archives_program" "$@"; }
read -r -d '' archives_program <<'PYTHON' || true
import datetime, json, re, sys, zoneinfo

UTC = datetime.timezone.utc
now = datetime.datetime.now(UTC)

def age(seconds):
    seconds = max(0, int(seconds))
    if seconds < 3600:
        return "%d min" % (seconds // 60)
    if seconds < 2 * 86400:
        return "%.1f h" % (seconds / 3600)
    return "%.1f days" % (seconds / 86400)

def moment(text):
    """An instant from a time that names its zone: Z, an offset, or a zone name after a space."""
    match = re.fullmatch(r"\s*(\d{4}-\d{2}-\d{2})[T ](\d{1,2}:\d{2}(?::\d{2})?)\s*(\S*)\s*", text)
    if not match:
        sys.exit("--before: cannot read '%s': give a date and time with its zone, e.g. 2026-12-01T18:00Z, "
                 "2026-12-01T19:00+01:00 or '2026-12-01 19:00 Europe/Madrid'" % text)
    day, clock, zone = match.groups()
    if len(clock) == 4:
        clock = "0" + clock
    if zone in ("Z", "z", "UTC"):
        tz = UTC
    elif re.fullmatch(r"[+-]\d{2}(:?\d{2})?", zone):
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        tz = datetime.timezone(sign * datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0)))
    elif zone:
        try:
            tz = zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            sys.exit("--before: unknown time zone '%s' (a name like Europe/Madrid, or an offset like +01:00)" % zone)
    else:
        sys.exit("--before: '%s' names no zone: add Z (UTC), an offset (+01:00) or a zone name (Europe/Madrid)" % text)
    try:
        return datetime.datetime.fromisoformat("%sT%s" % (day, clock)).replace(tzinfo=tz).astimezone(UTC)
    except ValueError as error:
        sys.exit("--before: '%s': %s" % (text, error))

archives = []
for line in sys.stdin.read().splitlines():
    name, _, comment = line.partition("\t")
    match = re.fullmatch(r"lynx-portal-(\d{8}T\d{6}Z)(-frequent)?", name.strip())
    if not match:
        continue
    taken = datetime.datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    try:
        details = json.loads(comment) if comment.strip() else {}
    except ValueError:
        details = {}
    archives.append((taken, name.strip(), "frequent" if match.group(2) else "nightly", details))
archives.sort()

if sys.argv[1] == "check":
    moment(sys.argv[2])
elif sys.argv[1] == "list":
    print("%-38s %-21s %-10s %-9s %12s  %s" % ("ARCHIVE", "TAKEN (UTC)", "AGE", "KIND", "DB BYTES", "ROWS"))
    for taken, name, kind, details in archives:
        rows = details.get("rows")
        counts = " ".join("%s=%d" % item for item in sorted(rows.items())) if rows else "(not recorded)"
        size = details.get("snapshot_bytes")
        print("%-38s %-21s %-10s %-9s %12s  %s" % (name, taken.strftime("%Y-%m-%d %H:%M:%SZ"),
              age((now - taken).total_seconds()), kind, size if size is not None else "?", counts))
    print("%d archive(s)" % len(archives))
else:
    target = moment(sys.argv[2])
    chosen = [archive for archive in archives if archive[0] <= target]
    if not chosen:
        oldest = archives[0][1] if archives else "none"
        sys.exit("no lynx-portal-* archive was taken at or before %s (the oldest: %s)"
                 % (target.strftime("%Y-%m-%dT%H:%M:%SZ"), oldest))
    taken, name, kind, details = chosen[-1]
    print(name)
    print("picked %s (%s), taken %s: %s before the requested %s, %s old now"
          % (name, kind, taken.strftime("%Y-%m-%dT%H:%M:%SZ"), age((target - taken).total_seconds()),
             target.strftime("%Y-%m-%dT%H:%M:%SZ"), age((now - taken).total_seconds())), file=sys.stderr)
PYTHON

list_archives() {
    borg list --lock-wait 600 --glob-archives 'lynx-portal-*' --format '{name}{TAB}{comment}{NL}' 2>"$step_errors"
}

# --- the run ---------------------------------------------------------------------------------

finish() {
    local status=$? error
    trap - EXIT
    if [ -n "$scratch" ] && [ -d "$scratch" ]; then rm -rf "$scratch"; fi
    if [ "$status" -eq 0 ]; then
        log_run restore ok archive="$archive" dry_run="$dry_run" moved_aside="$moved_aside"
    else
        # Before saying anything more: say appends to the step's error record.
        error=$(last_step_error)
        say "FAILED at step '$step' (exit $status)"
        if [ "$stopped" = no ]; then
            say "nothing was changed: the live database and the service are as they were"
        elif [ "$installed" = no ] && [ -z "$moved_aside" ]; then
            say "the live database was not touched; starting the service again"
            service_ctl start || say "could not start the service: start it by hand"
        else
            say "the previous database is kept as $data_dir/portal.db.broken.$moved_aside*; the service is" \
                "stopped or unhealthy: see deploy/README.md, 'When a restore fails'"
        fi
        log_run restore failed step="$step" archive="$archive" dry_run="$dry_run" moved_aside="$moved_aside" \
            exit:="$status" error="$error"
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
if [ "$list" = yes ]; then
    # Read-only: no lock, no log line, nothing of the portal's.
    trap - EXIT
    listing=$(list_archives) || { cat "$step_errors" >&2; rm -f "$step_errors"; exit 1; }
    rm -f "$step_errors"
    archives_tool list <<<"$listing"
    exit 0
fi
if [ "$archive" = --before ]; then
    # A time that cannot be read is refused before anything else happens.
    step="reading --before"
    run archives_tool check "$before" </dev/null
fi
[ -x "$portal_bin" ] || { say "$portal_bin is missing (LYNX_PORTAL_BIN)"; exit 1; }
[ -d "$data_dir" ] || { say "$data_dir does not exist (LYNX_DATA_DIR; deploy/install.sh creates it)"; exit 1; }
if [ "$dry_run" = no ]; then health_target; fi

step="taking the lock"
take_lock restore

if [ "$archive" = --latest ]; then
    step="finding the latest archive"
    archive=$(latest_archive) || { cat "$step_errors" >&2; exit 1; }
    [ -n "$archive" ] || { say "the repository has no lynx-portal-* archive"; exit 1; }
elif [ "$archive" = --before ]; then
    step="finding the newest archive at or before $before"
    listing=$(list_archives) || { cat "$step_errors" >&2; exit 1; }
    picked=$(archives_tool pick "$before" <<<"$listing" 2>"$step_errors") || { cat "$step_errors" >&2; exit 1; }
    sed 's/^/lynx-restore: /' "$step_errors" >&2
    archive=$picked
fi
say "restoring $archive into $data_dir"

step="extracting $archive"
# Next to the data directory, not in it: a root-owned directory the portal user cannot rename
# or plant links in, on the same filesystem, so installing the snapshot is a rename.
scratch=$(mktemp -d "${LYNX_RESTORE_SCRATCH:-$(dirname "$data_dir")}/lynx-portal-restore.XXXXXX")
t0=$(date +%s.%N)
(cd "$scratch" && run borg extract --lock-wait 600 "::$archive")
figures[extract_seconds]=$(elapsed "$t0")
snapshot=$scratch/snapshot/portal.db
manifest=$scratch/snapshot/manifest.json
if [ ! -f "$snapshot" ] || [ ! -f "$manifest" ]; then
    say "$archive holds no snapshot/portal.db with snapshot/manifest.json: refused"
    exit 1
fi
# The portal user reads the extracted files (borg restored their owner, portal) to verify them.
if [ -n "$portal_user" ] && [ "$(id -un)" != "$portal_user" ]; then
    chgrp "$portal_user" "$scratch"
    chmod 0750 "$scratch"
fi

step="verifying the snapshot against its manifest"
t0=$(date +%s.%N)
if ! run portal_cli snapshot verify "$snapshot" --manifest "$manifest" --smoke; then
    say "$archive is refused: its snapshot does not match its manifest (see above); nothing was changed"
    exit 1
fi
figures[verify_seconds]=$(elapsed "$t0")

if [ "$dry_run" = yes ]; then
    step="done"
    say "dry run: $archive verified; would stop the service, move $data_dir/portal.db* aside, install it"
    exit 0
fi

# Sessions ended after the backup (logouts, resets, revocations) must not come back with it.
step="ending every session in the restored copy"
ended=$(run portal_cli snapshot end-sessions "$snapshot")
say "$ended"

recovery_started=$(date +%s.%N)
step="stopping the service"
run service_ctl stop
stopped=yes

step="moving the current database aside"
epoch=$(date +%s)
for suffix in "" -wal -shm -journal; do
    if [ -e "$data_dir/portal.db$suffix" ] || [ -L "$data_dir/portal.db$suffix" ]; then
        mv "$data_dir/portal.db$suffix" "$data_dir/portal.db.broken.$epoch$suffix"
        moved_aside=$epoch
    fi
done
[ -z "$moved_aside" ] || say "previous database kept as $data_dir/portal.db.broken.$epoch* (never deleted by this script)"

step="installing the snapshot"
if [ -n "$portal_user" ]; then chown -h "$portal_user:$portal_user" "$snapshot"; fi
chmod 0640 "$snapshot"
sync "$snapshot"
mv -T "$snapshot" "$data_dir/portal.db"
installed=yes
sync "$data_dir"
for suffix in -wal -shm -journal; do
    if [ -e "$data_dir/portal.db$suffix" ]; then say "unexpected $data_dir/portal.db$suffix appeared"; exit 1; fi
done

step="adding back missing audit logs"
restored_audit=0
if [ -d "$scratch/audit" ]; then
    if [ -L "$data_dir/audit" ]; then say "$data_dir/audit is a symbolic link: not touching it"; exit 1; fi
    if [ ! -d "$data_dir/audit" ]; then
        mkdir -m 0750 "$data_dir/audit"
        [ -z "$portal_user" ] || chown -h "$portal_user:$portal_user" "$data_dir/audit"
    fi
    for file in "$scratch"/audit/*; do
        if [ ! -f "$file" ] || [ -L "$file" ]; then continue; fi
        target=$data_dir/audit/$(basename "$file")
        if [ -e "$target" ] || [ -L "$target" ]; then continue; fi
        chmod 0640 "$file"
        [ -z "$portal_user" ] || chown -h "$portal_user:$portal_user" "$file"
        # A rename: replaces a name, never writes through one.
        mv -n -T "$file" "$target"
        restored_audit=$((restored_audit + 1))
    done
fi
figures[audit_files_added]=$restored_audit

step="migrating the restored database"
# An archive from an older release has migrations pending, and the portal refuses a schema that
# is not current: `lynx-portal migrate` is the only command that migrates. (An archive from a
# newer release was refused by the verification above.)
migrated=$(run portal_cli migrate)
case "$migrated" in "schema up to date"*) ;; *) say "database: $migrated" ;; esac

step="starting the service"
run service_ctl start

step="waiting for a green /healthz at $health_url"
deadline=$(($(date +%s) + ${LYNX_HEALTH_TIMEOUT:-60}))
health_seen="/healthz green"
until health_green; do
    if [ "$health_no_certificate" = yes ] && doctor_green; then
        health_seen="lynx-portal doctor passed (no certificate yet for $health_url)"
        break
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
        say "$health_url (resolved as $health_resolve: this server) is not green after ${LYNX_HEALTH_TIMEOUT:-60} s"
        exit 1
    fi
    sleep 0.2
done
figures[recovery_seconds]=$(elapsed "$recovery_started")

step="comparing row counts with the manifest"
run portal_cli snapshot compare --manifest "$manifest" --sessions-ended

step="done"
say "restored $archive: $health_seen ${figures[recovery_seconds]} s after the service was stopped"
