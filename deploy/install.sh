#!/usr/bin/env bash
# Installs or upgrades lynx-portal on a Debian 12 server: packages, the portal user, the layout
# of docs/ARCHITECTURE.md, the release bundle, secrets (once), Caddy, the systemd units, the backup job,
# migrations (after a pre-upgrade snapshot when an existing database has some pending) before
# anything starts the new binary, and the quizzes; then runs `lynx-portal doctor` and a health request.
#
# Idempotent: every action first checks whether it is already done, and a second run with the
# same bundle reports "nothing to change". Secrets and data are never overwritten.
# Options given once are remembered in /etc/lynx-portal/install.conf for later runs (upgrades).
set -Eeuo pipefail

usage() {
    cat >&2 <<'USAGE'
usage: deploy/install.sh [--domain NAME] [--email ADDR] [--no-tls | --tls | --tls-internal]
                         [--http-port PORT] [--https-port PORT] [--caddy-admin ADDR] [--bundle DIR]
  --domain NAME       the site's DNS name (required on the first run; Caddy gets its certificate)
  --email ADDR        contact address for the Let's Encrypt (ACME) account
  --no-tls            plain HTTP on --http-port, no certificate (tests, or behind another proxy);
                      also turns off Secure cookies for the portal. --tls undoes it.
  --tls-internal      HTTPS with a certificate from Caddy's own local CA instead of Let's Encrypt,
                      for a loopback or private install (browsers must be told to trust it)
  --http-port PORT    the port for plain HTTP (with --no-tls, the site's port; default 80)
  --https-port PORT   the HTTPS port (default 443)
  --caddy-admin ADDR  Caddy's admin endpoint (default localhost:2019)
  --bundle DIR        the release bundle from `make release` whose binary, templates, static
                      files and quizzes to install (default: the bundle holding this script, else
                      dist/lynx-portal next to it); deploy files come from this script's folder
  --show-bundle       print the bundle this run would install and its version, change nothing
Run as root. Unchanged options can be left out on later runs.
USAGE
    exit 2
}

deploy_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
conf=/etc/lynx-portal/install.conf

# Fixed locations (the server layout in docs/ARCHITECTURE.md).
opt=/opt/lynx-portal
etc=/etc/lynx-portal
data=/var/lib/lynx-portal
logs=/var/log/lynx-portal
socket=/run/lynx-portal/portal.sock
cli=/usr/local/bin/lynx-portal
packages=(caddy sqlite3 borgbackup openssh-client curl cron procps tzdata ca-certificates
    libfcgi0ldbl libargon2-1 libsqlite3-0 libstdc++6)

step="starting"
trap 'echo "install: FAILED while ${step} (line ${LINENO}); nothing after it was done" >&2' ERR
fail() { echo "install: FAILED while ${step}: $*" >&2; exit 1; }

changes=0
changed() {
    changes=$((changes + 1))
    echo "install: $*"
}
note() { echo "install: $*"; }

# Options: command line first, then the last run's, then defaults.
domain="" email="" tls="" http_port="" https_port="" caddy_admin="" bundle="" show_bundle=no
while [ $# -gt 0 ]; do
    case "$1" in
        --domain) [ $# -ge 2 ] || usage; domain=$2; shift 2 ;;
        --email) [ $# -ge 2 ] || usage; email=$2; shift 2 ;;
        --no-tls) tls=no; shift ;;
        --tls) tls=yes; shift ;;
        --tls-internal) tls=internal; shift ;;
        --http-port) [ $# -ge 2 ] || usage; http_port=$2; shift 2 ;;
        --https-port) [ $# -ge 2 ] || usage; https_port=$2; shift 2 ;;
        --caddy-admin) [ $# -ge 2 ] || usage; caddy_admin=$2; shift 2 ;;
        --bundle) [ $# -ge 2 ] || usage; bundle=$2; shift 2 ;;
        --show-bundle) show_bundle=yes; shift ;;
        -h | --help) usage ;;
        *) echo "install: unknown option '$1'" >&2; usage ;;
    esac
done

find_bundle() {
    if [ -z "$bundle" ]; then
        if [ -x "$deploy_dir/../bin/lynx-portal" ]; then
            bundle="$deploy_dir/.."
        else
            bundle="$deploy_dir/../dist/lynx-portal"
        fi
    fi
    [ -x "$bundle/bin/lynx-portal" ] \
        || fail "no release bundle at $bundle (build it with \`make release\` or pass --bundle DIR)"
    bundle=$(cd "$bundle" && pwd)
}

if [ "$show_bundle" = yes ]; then
    step="finding the release bundle"
    find_bundle
    echo "install: bundle $bundle: lynx-portal $("$bundle/bin/lynx-portal" --version)"
    exit 0
fi

[ "$(id -u)" -eq 0 ] || { echo "install: run as root (sudo $0 ...)" >&2; exit 2; }

step="reading $conf"
# Debian's own Caddyfile leaves the admin endpoint at its default.
previous_caddy_admin=localhost:2019
if [ -f "$conf" ]; then
    while IFS='=' read -r key value; do
        case "$key" in
            domain) domain=${domain:-$value} ;;
            email) email=${email:-$value} ;;
            tls) tls=${tls:-$value} ;;
            http_port) http_port=${http_port:-$value} ;;
            https_port) https_port=${https_port:-$value} ;;
            caddy_admin) caddy_admin=${caddy_admin:-$value} ;;
        esac
    done < <(grep -E '^[a-z_]+=' "$conf")
fi
# The endpoint the running Caddy listens on is the one of the Caddyfile it was started with
# (install.conf may have been written before Caddy ever ran with it).
if [ -f /etc/caddy/Caddyfile ]; then
    previous_caddy_admin=$(awk '$1 == "admin" && NF >= 2 { print $2; exit }' /etc/caddy/Caddyfile)
    previous_caddy_admin=${previous_caddy_admin:-localhost:2019}
fi
tls=${tls:-yes}
http_port=${http_port:-80}
https_port=${https_port:-443}
caddy_admin=${caddy_admin:-localhost:2019}

step="checking options"
[ -n "$domain" ] || { echo "install: --domain NAME is required on the first run" >&2; usage; }
[[ $domain =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]] || fail "--domain '$domain' is not a DNS name"
[ -z "$email" ] || [[ $email =~ ^[^@[:space:]\"]+@[A-Za-z0-9.-]+$ ]] || fail "--email '$email' is not an address"
for port in "$http_port" "$https_port"; do
    if ! [[ $port =~ ^[0-9]+$ ]] || [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
        fail "--http-port/--https-port '$port' is not a port number"
    fi
done
admin_pattern='^[][A-Za-z0-9.:_/-]+$'
[[ $caddy_admin =~ $admin_pattern ]] || fail "--caddy-admin '$caddy_admin' is not an address"

step="finding the release bundle"
find_bundle
cd /
for file in Caddyfile portal.env.example borg.env.example lynx-portal-cli.sh \
    systemd/lynx-portal.socket systemd/lynx-portal.service systemd/lynx-portal.tmpfiles; do
    [ -f "$deploy_dir/$file" ] || fail "$deploy_dir/$file is missing"
done

if [ -d /run/systemd/system ]; then systemd_running=yes; else systemd_running=no; fi

# --- helpers: each compares first and acts only on a difference ----------------------------
# They always return 0 (a function called as a condition would run with `set -e` off) and say
# whether they changed anything in $did_change.
did_change=no

# ensure_owner PATH OWNER GROUP MODE: fix owner, group and mode when they differ.
ensure_owner() {
    local path=$1 want="$2:$3:${4#0}" have
    have=$(stat -c '%U:%G:%a' "$path")
    if [ "$have" != "$want" ]; then
        chown "$2:$3" "$path"
        chmod "$4" "$path"
        changed "set $path to $want (was $have)"
    fi
}

# ensure_dir PATH OWNER GROUP MODE
ensure_dir() {
    if [ ! -d "$1" ]; then
        install -d -o "$2" -g "$3" -m "$4" "$1"
        changed "created $1 ($2:$3 $4)"
    else
        ensure_owner "$@"
    fi
}

# ensure_file SOURCE DEST OWNER GROUP MODE: replaced atomically (a running binary keeps its inode).
ensure_file() {
    local source=$1 dest=$2 verb=updated
    did_change=no
    if [ -f "$dest" ] && cmp -s "$source" "$dest"; then
        ensure_owner "$dest" "$3" "$4" "$5"
        return 0
    fi
    [ -e "$dest" ] || verb=installed
    install -o "$3" -g "$4" -m "$5" "$source" "$dest.install-tmp"
    mv -f "$dest.install-tmp" "$dest"
    changed "$verb $dest"
    did_change=yes
}

# ensure_content DEST OWNER GROUP MODE TEXT: like ensure_file, from TEXT plus a newline.
ensure_content() {
    local staged
    staged=$(mktemp)
    printf '%s\n' "$5" >"$staged"
    ensure_file "$staged" "$1" "$2" "$3" "$4"
    rm -f "$staged"
}

# ensure_tree SOURCE DEST OWNER GROUP: DEST mirrors SOURCE (dirs 0750, files 0640).
ensure_tree() {
    local source=$1 dest=$2 owner=$3 group=$4 before=$changes relative
    ensure_dir "$dest" "$owner" "$group" 0750
    while IFS= read -r -d '' relative; do
        ensure_dir "$dest/$relative" "$owner" "$group" 0750
    done < <(cd "$source" && find . -mindepth 1 -type d -printf '%P\0' | sort -z)
    while IFS= read -r -d '' relative; do
        ensure_file "$source/$relative" "$dest/$relative" "$owner" "$group" 0640
    done < <(cd "$source" && find . -type f -printf '%P\0' | sort -z)
    while IFS= read -r -d '' relative; do
        if [ ! -e "$source/$relative" ]; then
            rm -rf "${dest:?}/$relative"
            changed "removed $dest/$relative (not in the bundle)"
        fi
    done < <(cd "$dest" && find . -mindepth 1 -depth -printf '%P\0')
    did_change=no
    [ "$changes" -eq "$before" ] || did_change=yes
}

# --- 1. packages ----------------------------------------------------------------------------
step="installing Debian packages"
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
    note "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    changed "installed packages: ${missing[*]}"
fi

# --- 2. the portal user ---------------------------------------------------------------------
step="creating the portal user"
if ! getent passwd portal >/dev/null; then
    useradd --system --user-group --home-dir "$data" --no-create-home \
        --shell /usr/sbin/nologin --comment "lynx-portal" portal
    changed "created system user portal (no login shell)"
fi
[ "$(getent passwd portal | cut -d: -f7)" = /usr/sbin/nologin ] || {
    usermod --shell /usr/sbin/nologin portal
    changed "set portal's shell to /usr/sbin/nologin"
}

# --- 3. layout ------------------------------------------------------------------------------
# Code is root's and read-only to the portal (it cannot rewrite itself); static files belong to
# Caddy's group, which serves them; data and logs are the portal's; secrets are root's alone.
step="creating the directory layout"
ensure_dir "$opt" root root 0755
ensure_dir "$opt/bin" root portal 0750
ensure_dir "$opt/deploy" root root 0755
ensure_dir "$etc" root portal 0750
ensure_dir "$data" portal portal 0750
ensure_dir "$data/audit" portal portal 0750
ensure_dir "$data/pre-upgrade" portal portal 0750
ensure_dir "$logs" portal portal 0750

# --- 4. the release bundle ------------------------------------------------------------------
# The version being replaced names the pre-upgrade snapshot (step 8b): "0.2.0 (commit abc)" ->
# 0.2.0-abc; a binary older than the version stamp prints its version alone.
step="reading the installed version"
previous_version=unknown
if [ -x "$opt/bin/lynx-portal" ]; then
    previous_version=$("$opt/bin/lynx-portal" --version 2>/dev/null | head -n 1) || true
    previous_version=${previous_version// (commit /-}
    previous_version=${previous_version//[^A-Za-z0-9.-]/}
    previous_version=${previous_version:-unknown}
fi
step="installing the release bundle from $bundle"
code_changed=no templates_changed=no
ensure_file "$bundle/bin/lynx-portal" "$opt/bin/lynx-portal" root portal 0750
code_changed=$did_change
ensure_tree "$bundle/templates" "$opt/templates" root portal
templates_changed=$did_change
ensure_tree "$bundle/static" "$opt/static" root caddy
if [ -d "$bundle/quizzes" ]; then ensure_tree "$bundle/quizzes" "$opt/quizzes" root portal; fi
if [ -f "$deploy_dir/README.md" ]; then ensure_file "$deploy_dir/README.md" "$opt/deploy/README.md" root root 0644; fi
ensure_file "$deploy_dir/lynx-portal-cli.sh" "$cli" root root 0755
step="checking the installed binary runs here"
"$opt/bin/lynx-portal" --version >/dev/null \
    || fail "$opt/bin/lynx-portal does not run on this machine (missing libraries? try ldd $opt/bin/lynx-portal)"

# --- 5. secrets (created once, never overwritten, never printed) ----------------------------
step="creating $etc/portal.env"
if [ ! -e "$etc/portal.env" ]; then
    umask 077
    staged="$etc/.portal.env.new"
    pepper=$(head -c 48 /dev/urandom | base64 -w0)
    session_secret=$(head -c 48 /dev/urandom | base64 -w0)
    while IFS= read -r line || [ -n "$line" ]; do
        case "$line" in
            LYNX_PEPPER=) printf 'LYNX_PEPPER=%s\n' "$pepper" ;;
            LYNX_SESSION_SECRET=) printf 'LYNX_SESSION_SECRET=%s\n' "$session_secret" ;;
            *) printf '%s\n' "$line" ;;
        esac
    done <"$deploy_dir/portal.env.example" >"$staged"
    unset pepper session_secret
    if ! grep -Eq '^LYNX_PEPPER=.{32,}$' "$staged" || ! grep -Eq '^LYNX_SESSION_SECRET=.{32,}$' "$staged"; then
        rm -f "$staged"
        fail "portal.env.example lacks the empty LYNX_PEPPER= and LYNX_SESSION_SECRET= lines to fill"
    fi
    chown root:root "$staged"
    mv "$staged" "$etc/portal.env"
    umask 022
    changed "created $etc/portal.env with new random secrets (not shown; keep a copy off the server)"
fi
ensure_owner "$etc/portal.env" root root 0600

step="creating $etc/borg.env"
if [ ! -e "$etc/borg.env" ]; then
    install -o root -g root -m 0600 "$deploy_dir/borg.env.example" "$etc/borg.env"
    changed "created $etc/borg.env from the template (fill it in)"
fi
ensure_owner "$etc/borg.env" root root 0600

step="recording the options in $conf"
ensure_content "$conf" root root 0640 "# Written by deploy/install.sh: the options of the last run, reused when one is left out.
domain=$domain
email=$email
tls=$tls
http_port=$http_port
https_port=$https_port
caddy_admin=$caddy_admin"

# --- 6. Caddy -------------------------------------------------------------------------------
step="writing /etc/caddy/Caddyfile from $deploy_dir/Caddyfile"
if [ "$tls" = yes ] || [ "$tls" = internal ]; then
    site=$domain
elif [ "$http_port" = 80 ]; then
    site="http://$domain"
else
    site="http://$domain:$http_port"
fi
# The tls placeholder becomes "tls internal", or its line goes (Let's Encrypt, or plain HTTP).
# shellcheck disable=SC2016 # $LYNX_TLS is the Caddyfile's placeholder, not a shell variable
if [ "$tls" = internal ]; then
    tls_edit='s|\{\$LYNX_TLS(:[^}]*)?\}|tls internal|'
else
    tls_edit='/\{\$LYNX_TLS(:[^}]*)?\}/d'
fi
render_caddyfile() {
    echo "# Written by lynx-portal's deploy/install.sh from deploy/Caddyfile with this server's values."
    echo "# Edit that file (or the install options) and re-run install.sh rather than this copy."
    sed -E \
        -e "s|\{\\\$LYNX_SITE(:[^}]*)?\}|$site|g" \
        -e "s|\{\\\$LYNX_SOCKET(:[^}]*)?\}|$socket|g" \
        -e "s|\{\\\$LYNX_ROOT(:[^}]*)?\}|$opt|g" \
        -e "s|\{\\\$LYNX_ACCESS_LOG(:[^}]*)?\}|/var/log/caddy/lynx-portal-access.log|g" \
        -e "s|\{\\\$LYNX_CADDY_ADMIN(:[^}]*)?\}|$caddy_admin|g" \
        -e "s|\{\\\$LYNX_HTTP_PORT(:[^}]*)?\}|$http_port|g" \
        -e "s|\{\\\$LYNX_HTTPS_PORT(:[^}]*)?\}|$https_port|g" \
        -e "$tls_edit" \
        "$deploy_dir/Caddyfile" \
        | if [ -n "$email" ]; then
            # The ACME account's contact, in the global options block right after "admin".
            awk -v email="$email" '{ print } !done && /^[[:space:]]*admin[[:space:]]/ { print "\temail " email; done = 1 }'
        else
            cat
        fi
}
staged_caddyfile=$(mktemp)
render_caddyfile >"$staged_caddyfile"
caddy_changed=no
if ! cmp -s "$staged_caddyfile" /etc/caddy/Caddyfile; then
    chmod 0644 "$staged_caddyfile"
    if ! validation=$(runuser -u caddy -- caddy validate --config "$staged_caddyfile" --adapter caddyfile 2>&1); then
        echo "$validation" >&2
        rm -f "$staged_caddyfile"
        fail "the Caddyfile rendered from $deploy_dir/Caddyfile does not validate (see above)"
    fi
fi
ensure_file "$staged_caddyfile" /etc/caddy/Caddyfile root root 0644
caddy_changed=$did_change
rm -f "$staged_caddyfile"

# --- 7. systemd units -----------------------------------------------------------------------
step="installing the systemd units"
units_changed=no socket_changed=no service_changed=no
ensure_file "$deploy_dir/systemd/lynx-portal.tmpfiles" /etc/tmpfiles.d/lynx-portal.conf root root 0644
tmpfiles_changed=$did_change
ensure_file "$deploy_dir/systemd/lynx-portal.socket" /etc/systemd/system/lynx-portal.socket root root 0644
socket_changed=$did_change
ensure_file "$deploy_dir/systemd/lynx-portal.service" /etc/systemd/system/lynx-portal.service root root 0644
service_changed=$did_change
dropin_dir=/etc/systemd/system/lynx-portal.service.d
if [ "$tls" = no ]; then
    ensure_dir "$dropin_dir" root root 0755
    ensure_content "$dropin_dir/no-tls.conf" root root 0644 \
        "# Written by deploy/install.sh --no-tls: cookies must work over plain HTTP.
[Service]
Environment=LYNX_COOKIE_SECURE=false"
    [ "$did_change" = no ] || service_changed=yes
elif [ -e "$dropin_dir/no-tls.conf" ]; then
    rm -f "$dropin_dir/no-tls.conf"
    rmdir --ignore-fail-on-non-empty "$dropin_dir"
    changed "removed $dropin_dir/no-tls.conf (TLS on: Secure cookies again)"
    service_changed=yes
fi
[ "$socket_changed$service_changed" = nono ] || units_changed=yes
# The hourly check and the alert it sends on failure (deploy/README.md, "Alerts").
for unit in lynx-portal-watch.service lynx-portal-watch.timer lynx-portal-alert@.service; do
    if [ -f "$deploy_dir/systemd/$unit" ]; then
        ensure_file "$deploy_dir/systemd/$unit" "/etc/systemd/system/$unit" root root 0644
        [ "$did_change" = no ] || units_changed=yes
    fi
done

if ! systemctl is-enabled --quiet lynx-portal.socket 2>/dev/null; then
    systemctl enable --quiet lynx-portal.socket
    changed "enabled lynx-portal.socket"
fi
if ! systemctl is-enabled --quiet caddy.service 2>/dev/null; then
    systemctl enable --quiet caddy.service
    changed "enabled caddy.service"
fi
if [ -f /etc/systemd/system/lynx-portal-watch.timer ] \
    && ! systemctl is-enabled --quiet lynx-portal-watch.timer 2>/dev/null; then
    systemctl enable --quiet lynx-portal-watch.timer
    changed "enabled lynx-portal-watch.timer (hourly check, alerts on failure)"
fi

# --- 8. the backup job (deploy/backup/, when the bundle has it) -----------------------------
step="installing the backup job"
if [ -d "$deploy_dir/backup" ]; then
    # script in deploy/backup/ -> installed command
    for pair in borg-backup.sh:lynx-backup borg-restore.sh:lynx-restore borg-verify.sh:lynx-backup-verify \
        lynx-borg.sh:lynx-borg lynx-portal-watch.sh:lynx-portal-watch lynx-portal-alert.sh:lynx-portal-alert; do
        if [ -f "$deploy_dir/backup/${pair%%:*}" ]; then
            ensure_file "$deploy_dir/backup/${pair%%:*}" "/usr/local/bin/${pair##*:}" root root 0755
        fi
    done
    # The helpers those commands share, sourced from where they look for it.
    if [ -f "$deploy_dir/backup/lynx-backup-common.sh" ]; then
        ensure_dir /usr/local/lib/lynx-portal root root 0755
        ensure_file "$deploy_dir/backup/lynx-backup-common.sh" /usr/local/lib/lynx-portal/lynx-backup-common.sh \
            root root 0644
    fi
    # Alerts: where they are sent (created once, like borg.env), the pending alert's directory
    # and the login message that shows it.
    if [ -f "$deploy_dir/alert.env.example" ] && [ ! -e "$etc/alert.env" ]; then
        install -o root -g root -m 0600 "$deploy_dir/alert.env.example" "$etc/alert.env"
        changed "created $etc/alert.env from the template (set LYNX_ALERT_URL to get alerts off the server)"
    fi
    if [ -e "$etc/alert.env" ]; then ensure_owner "$etc/alert.env" root root 0600; fi
    ensure_dir /var/lib/lynx-portal-alerts root root 0755
    if [ -f "$deploy_dir/profile.d/lynx-portal-alert.sh" ]; then
        ensure_file "$deploy_dir/profile.d/lynx-portal-alert.sh" /etc/profile.d/lynx-portal-alert.sh root root 0644
    fi
    # deploy/backup/crontab is in /etc/cron.d format (with a user field).
    if [ -f "$deploy_dir/backup/crontab" ]; then
        ensure_file "$deploy_dir/backup/crontab" /etc/cron.d/lynx-portal root root 0644
    fi
else
    note "no deploy/backup/ in this bundle: backup job not installed"
fi
# The hourly check's timer runs from now on, not only after the next boot.
if [ "$systemd_running" = yes ] && [ -f /etc/systemd/system/lynx-portal-watch.timer ] \
    && ! systemctl is-active --quiet lynx-portal-watch.timer; then
    systemctl daemon-reload
    systemctl start lynx-portal-watch.timer
    changed "started lynx-portal-watch.timer"
fi

# --- 8b. the database schema ----------------------------------------------------------------
# The one place that migrates, before anything starts the new binary (it refuses a schema that is
# not current). An existing database with migrations pending is first snapshotted into
# $data/pre-upgrade/ with the portal stopped (its socket stays open and queues requests), so that
# a rollback has the data as the previous version left it (deploy/README.md, "Rolling back").
step="checking the database schema"
portal_stopped=no
if [ -e "$data/portal.db" ]; then
    schema_status=0
    schema=$("$cli" migrate --check 2>&1) || schema_status=$?
    case "$schema_status:$schema" in
        0:*) ;;
        1:pending:*)
            note "database: ${schema}"
            if [ "$systemd_running" = yes ] && systemctl is-active --quiet lynx-portal.service; then
                step="stopping lynx-portal.service for the migration"
                systemctl stop lynx-portal.service
                portal_stopped=yes
                note "stopped lynx-portal.service for the migration (its socket queues requests meanwhile)"
            fi
            step="taking the pre-upgrade snapshot"
            snapshot="$data/pre-upgrade/portal-$previous_version-$(date -u +%Y%m%dT%H%M%SZ).db"
            "$cli" snapshot --to "$snapshot" --manifest "${snapshot%.db}.manifest.json" >/dev/null
            chmod 0640 "$snapshot" "${snapshot%.db}.manifest.json"
            changed "pre-upgrade snapshot: $snapshot (manifest ${snapshot%.db}.manifest.json)"
            ;;
        78:*)
            echo "$schema" >&2
            fail "$data/portal.db was migrated by a newer lynx-portal than this bundle's; nothing was migrated (deploy/README.md, \"Rolling back\")"
            ;;
        *)
            echo "$schema" >&2
            fail "lynx-portal migrate --check failed (exit status $schema_status, see above)"
            ;;
    esac
fi
step="migrating the database"
migrated=$("$cli" migrate)
case "$migrated" in
    "schema up to date"*) ;;
    *) changed "database: $migrated" ;;
esac

# --- 9. start or restart what changed -------------------------------------------------------
if [ "$systemd_running" = yes ]; then
    step="creating /run/lynx-portal and /run/lynx-portal-backup"
    if [ "$(stat -c '%U:%G:%a' /run/lynx-portal 2>/dev/null)" != "root:caddy:750" ] || [ "$tmpfiles_changed" = yes ]; then
        systemd-tmpfiles --create /etc/tmpfiles.d/lynx-portal.conf
        changed "set up /run/lynx-portal (root:caddy 0750) and /run/lynx-portal-backup (root 0700)"
    fi
    step="reloading systemd"
    [ "$units_changed" = no ] || systemctl daemon-reload
    step="starting lynx-portal.socket"
    if [ "$socket_changed" = yes ] && systemctl is-active --quiet lynx-portal.socket; then
        # A changed socket unit takes effect only on a new socket, which drops the connections
        # waiting on the old one: the only step here that can lose requests.
        systemctl stop lynx-portal.service lynx-portal.socket
        systemctl start lynx-portal.socket
        changed "restarted lynx-portal.socket (its unit changed)"
    elif ! systemctl is-active --quiet lynx-portal.socket; then
        systemctl start lynx-portal.socket
        changed "started lynx-portal.socket"
    fi
    step="restarting the portal"
    if [ "$portal_stopped" = yes ]; then
        # Stopped for the migration; a request that activated it meanwhile met the old schema.
        systemctl reset-failed lynx-portal.service 2>/dev/null || true
        systemctl start lynx-portal.service
        changed "started lynx-portal.service (after the migration)"
    elif systemctl is-active --quiet lynx-portal.service; then
        if [ "$code_changed" = yes ] || [ "$service_changed" = yes ]; then
            # The socket stays open across the restart: requests wait in its backlog, none is lost.
            systemctl restart lynx-portal.service
            changed "restarted lynx-portal.service (new binary or unit)"
        elif [ "$templates_changed" = yes ]; then
            systemctl reload lynx-portal.service
            changed "reloaded lynx-portal.service (new templates)"
        fi
    fi
    step="starting or reloading Caddy"
    if ! systemctl is-active --quiet caddy.service; then
        systemctl start caddy.service
        changed "started caddy.service"
    elif [ "$caddy_changed" = yes ] && [ "$previous_caddy_admin" = "$caddy_admin" ]; then
        systemctl reload caddy.service
        changed "reloaded caddy.service (new Caddyfile)"
    elif [ "$caddy_changed" = yes ]; then
        # `caddy reload` talks to the admin endpoint named in the new file, which the running
        # Caddy does not listen on yet.
        systemctl restart caddy.service
        changed "restarted caddy.service (new Caddyfile with a new admin endpoint)"
    fi
else
    note "systemd is not running here: skipped the start steps (/run/lynx-portal, daemon-reload, starting the socket and Caddy); the enabled units start at the next boot"
fi

# --- 10. quizzes ----------------------------------------------------------------------------
step="importing quizzes"
shopt -s nullglob
for quiz in "$opt"/quizzes/*.gift "$opt"/quizzes/*.aiken; do
    imported=$("$cli" quiz import "$quiz")
    if [[ $imported =~ \(0\ new,\ 0\ updated,\ [0-9]+\ unchanged,\ 0\ retired\) ]]; then
        continue
    fi
    changed "$imported"
done
shopt -u nullglob

# --- 11. checks -----------------------------------------------------------------------------
step="running lynx-portal doctor"
doctor_status=0
doctor=$("$cli" doctor 2>&1) || doctor_status=$?
health="$(tail -n 1 <<<"$doctor")"
if [ "$doctor_status" -ne 0 ]; then
    echo "$doctor" >&2
fi

health_status=0
if [ "$systemd_running" = yes ]; then
    step="checking /healthz through Caddy"
    active="" inactive=""
    for unit in caddy.service lynx-portal.socket; do
        if systemctl is-active --quiet "$unit"; then
            active+="${active:+, }$unit"
        else
            inactive+="${inactive:+, }$unit"
        fi
    done
    [ -z "$active" ] || health+="; $active active"
    if [ -n "$inactive" ]; then
        health_status=1
        health+="; NOT active: $inactive"
    fi
    insecure=()
    if [ "$tls" = yes ] || [ "$tls" = internal ]; then
        url="https://$domain:$https_port/healthz" resolve="$domain:$https_port:127.0.0.1"
        # Caddy's local CA is not in curl's trust store; this request stays on loopback.
        if [ "$tls" = internal ]; then insecure=(--insecure); fi
    else
        url="$site/healthz" resolve="$domain:$http_port:127.0.0.1"
    fi
    code=000 body=""
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        body=$(curl -sS "${insecure[@]}" --max-time 5 --resolve "$resolve" -w '\n%{http_code}' "$url" 2>/dev/null) || true
        code=${body##*$'\n'}
        [ "$code" != 200 ] || break
        sleep 1
    done
    if [ "$code" = 200 ]; then
        health+="; $url 200 ($(grep -oE '"(database|version|commit)":"[^"]*"' <<<"${body%$'\n'*}" | paste -sd, -))"
    elif [ "$tls" = yes ]; then
        # Expected until DNS points here and Let's Encrypt has issued the certificate.
        health+="; $url not answering yet (DNS and certificate pending? journalctl -u caddy)"
    else
        health_status=1
        health+="; $url FAILED (HTTP $code)"
    fi
else
    health+="; services not started (no systemd)"
fi

step="finishing"
cat <<STEPS

Left for you (see $opt/deploy/README.md):
  1. DNS: point $domain (A/AAAA records) at this server$(case "$tls" in
    yes) echo "; Caddy then obtains the certificate" ;;
    internal) echo " (HTTPS from Caddy's local CA: --tls-internal)" ;;
    *) echo " (plain HTTP, port $http_port: --no-tls)" ;; esac).
  2. Fill in $etc/borg.env (sudoedit), then create the off-site repository once:
       sudo lynx-borg init --encryption=repokey-blake2
  3. Export the borg key and keep it, with a copy of $etc/portal.env, off this server:
       sudo lynx-borg key export :: lynx-portal-borg.key
  4. Create the first learner and hand over the username and setup code:
       sudo lynx-portal user add NAME --tz Area/City
  5. Get alerts off the server: set LYNX_ALERT_URL in $etc/alert.env (sudoedit), then check that
     a test alert reaches you:
       sudo lynx-portal-alert --test
STEPS
echo
if [ "$changes" -eq 0 ]; then
    note "nothing to change"
else
    note "$changes change(s) made"
fi
note "health: $health"
if [ "$doctor_status" -ne 0 ] || [ "$health_status" -ne 0 ]; then
    echo "install: the portal is NOT healthy (details above)" >&2
    exit 1
fi
