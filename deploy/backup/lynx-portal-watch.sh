#!/usr/bin/env bash
# Installed as /usr/local/bin/lynx-portal-watch and run hourly, as root, by
# lynx-portal-watch.timer (and about 10 minutes after boot):
#   1. with TLS on (tls=yes or internal in /etc/lynx-portal/install.conf), fetches the certificate
#      Caddy serves for the domain on 127.0.0.1:https_port and writes its dates to
#      DATA_DIR/certificate.json (portal:portal 0640, replaced atomically):
#        {"domain": "...", "not_before": EPOCH, "not_after": EPOCH, "checked_at": EPOCH}
#      or {"domain": "...", "error": "...", "checked_at": EPOCH} when it cannot;
#      `lynx-portal doctor` reads that file;
#   2. runs `lynx-portal doctor` and exits 1 when it fails: the unit's OnFailure= then runs
#      lynx-portal-alert. A run that passes clears the pending alert (/var/lib/lynx-portal-alerts/current).
# Usage: lynx-portal-watch
# Settings for tests: LYNX_INSTALL_CONF, LYNX_DATA_DIR, LYNX_PORTAL_CLI, LYNX_ALERT_DIR.
set -euo pipefail

if [ "${1:-}" = -h ] || [ "${1:-}" = --help ]; then
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
fi
[ $# -eq 0 ] || { echo "usage: lynx-portal-watch (no arguments)" >&2; exit 2; }

conf=${LYNX_INSTALL_CONF:-/etc/lynx-portal/install.conf}
data_dir=${LYNX_DATA_DIR:-/var/lib/lynx-portal}
cli=${LYNX_PORTAL_CLI:-/usr/local/bin/lynx-portal}
alert_dir=${LYNX_ALERT_DIR:-/var/lib/lynx-portal-alerts}

domain="" tls=no https_port=443
if [ -r "$conf" ]; then
    while IFS='=' read -r key value; do
        case "$key" in
            domain) domain=$value ;;
            tls) tls=$value ;;
            https_port) https_port=$value ;;
        esac
    done < <(grep -E '^[a-z_]+=' "$conf")
fi

# A JSON string's content: quotes, backslashes and control characters cannot break the object.
json_text() {
    printf '%s' "$1" | tr -d '\000-\037' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g'
}

# Written beside the target and renamed over it: a reader never sees half a file, and a link
# planted at the target's name is replaced, never followed.
# A write that fails (a full disk) is reported and the check goes on: doctor says why.
write_certificate_json() {
    local staged
    if staged=$(mktemp "$data_dir/.certificate.json.XXXXXX") && printf '%s\n' "$1" >"$staged" \
        && chmod 0640 "$staged" && chown portal:portal "$staged" && mv -fT "$staged" "$data_dir/certificate.json"; then
        return 0
    fi
    [ -z "${staged:-}" ] || rm -f "$staged"
    echo "lynx-portal-watch: could not write $data_dir/certificate.json" >&2
}

check_certificate() {
    local now pem dates not_before not_after error=""
    now=$(date +%s)
    if ! pem=$(timeout 20 openssl s_client -connect "127.0.0.1:$https_port" -servername "$domain" \
        </dev/null 2>/dev/null | openssl x509 2>/dev/null) || [ -z "$pem" ]; then
        error="no certificate served for $domain on 127.0.0.1:$https_port"
    elif ! dates=$(openssl x509 -noout -startdate -enddate <<<"$pem" 2>&1); then
        error="cannot read the served certificate: $dates"
    else
        not_before=$(sed -n 's/^notBefore=//p' <<<"$dates")
        not_after=$(sed -n 's/^notAfter=//p' <<<"$dates")
        if ! not_before=$(date -d "$not_before" +%s 2>/dev/null) || ! not_after=$(date -d "$not_after" +%s 2>/dev/null); then
            error="cannot parse the certificate's dates: $(tr '\n' ' ' <<<"$dates")"
        fi
    fi
    if [ -n "$error" ]; then
        echo "lynx-portal-watch: certificate: $error" >&2
        write_certificate_json "{\"domain\": \"$(json_text "$domain")\", \"error\": \"$(json_text "$error")\", \"checked_at\": $now}"
    else
        echo "lynx-portal-watch: certificate for $domain valid from $(date -u -d "@$not_before" +%FT%TZ) to $(date -u -d "@$not_after" +%FT%TZ)"
        write_certificate_json "{\"domain\": \"$(json_text "$domain")\", \"not_before\": $not_before, \"not_after\": $not_after, \"checked_at\": $now}"
    fi
}

case "$tls" in
    yes | internal)
        if [ -n "$domain" ] && [ -d "$data_dir" ]; then check_certificate; fi
        ;;
esac

status=0
"$cli" doctor || status=$?
if [ "$status" -ne 0 ]; then
    echo "lynx-portal-watch: lynx-portal doctor FAILED (exit $status): an alert follows" >&2
    exit 1
fi
if [ -e "$alert_dir/current" ]; then
    rm -f "$alert_dir/current"
    echo "lynx-portal-watch: all checks pass again: cleared the pending alert"
fi
