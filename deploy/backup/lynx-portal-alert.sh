#!/usr/bin/env bash
# Installed as /usr/local/bin/lynx-portal-alert: tells the operator that something failed.
#   lynx-portal-alert --unit UNIT    a systemd unit failed (OnFailure=lynx-portal-alert@%n.service)
#   lynx-portal-alert --tag TAG      a cron job logging under TAG failed (deploy/backup/crontab)
#   lynx-portal-alert --test         a test alert, to prove every channel reaches you
# Channels: the journal at priority crit (journalctl -p crit), /var/lib/lynx-portal-alerts/current
# (shown at every login by /etc/profile.d/lynx-portal-alert.sh, cleared by the next watch run
# that passes; not written by --test), wall, and, from /etc/lynx-portal/alert.env (root 0600):
# LYNX_ALERT_URL (the text is POSTed there: an ntfy.sh topic, a healthchecks.io /fail URL, any
# webhook) and LYNX_ALERT_EMAIL (mailed when a sendmail command exists).
# Exits 1 when a configured channel (URL, email) failed, 2 on a usage error.
# Usage: lynx-portal-alert --unit UNIT | --tag TAG | --test
# Settings for tests: LYNX_ALERT_ENV, LYNX_ALERT_DIR.
set -euo pipefail

usage() {
    echo "usage: lynx-portal-alert --unit UNIT | --tag TAG | --test" >&2
    exit 2
}

env_file=${LYNX_ALERT_ENV:-/etc/lynx-portal/alert.env}
alert_dir=${LYNX_ALERT_DIR:-/var/lib/lynx-portal-alerts}
host=$(hostname -f 2>/dev/null || hostname)
now=$(date -u +%FT%TZ)

[ $# -ge 1 ] || usage
mode=$1
case "$mode" in
    --unit | --tag)
        if [ $# -ne 2 ] || [ -z "$2" ]; then usage; fi
        subject=$2
        ;;
    --test) [ $# -eq 1 ] || usage; subject="a test" ;;
    -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) usage ;;
esac

# KEY=VALUE lines, parsed and never executed; only LYNX_ALERT_* names are taken.
if [ -r "$env_file" ]; then
    while IFS= read -r line || [ -n "$line" ]; do
        [[ $line =~ ^[[:space:]]*(LYNX_ALERT_[A-Z0-9_]*)=(.*)$ ]] || continue
        key=${BASH_REMATCH[1]} value=${BASH_REMATCH[2]}
        if [[ $value =~ ^\"(.*)\"$ || $value =~ ^\'(.*)\'$ ]]; then value=${BASH_REMATCH[1]}; fi
        export "$key=$value"
    done <"$env_file"
fi

case "$mode" in
    --unit)
        title="lynx-portal ALERT on $host: $subject failed"
        details=$(journalctl -u "$subject" -n 25 --no-pager -o short-iso 2>&1 || true)
        ;;
    --tag)
        title="lynx-portal ALERT on $host: $subject failed"
        details=$(journalctl -t "$subject" -n 25 --no-pager -o short-iso --since "-6h" 2>&1 || true)
        ;;
    --test)
        title="lynx-portal test alert from $host"
        details="A test of lynx-portal's alerts (lynx-portal-alert --test): if you read this, they reach you."
        ;;
esac
text="$title at $now
$details

What to do: sudo lynx-portal doctor; journalctl -p crit -t lynx-portal-alert; the runbook's Alerts section
(/opt/lynx-portal/deploy/README.md)."

failed=()

# 1. The journal, at priority crit.
if ! systemd-cat -t lynx-portal-alert -p crit <<<"$text" 2>/dev/null; then
    logger -t lynx-portal-alert -p user.crit <<<"$text" || failed+=(journal)
fi

# 2. The file shown at every login (root:adm 0640; a test alert leaves no file behind).
if [ "$mode" != --test ]; then
    install -d -m 0755 "$alert_dir"
    staged=$(mktemp "$alert_dir/.current.XXXXXX")
    printf '%s\n' "$text" >"$staged"
    chgrp adm "$staged" 2>/dev/null || true
    chmod 0640 "$staged"
    mv -fT "$staged" "$alert_dir/current"
fi

# 3. Everyone logged in.
wall <<<"$text" 2>/dev/null || true

# 4. A URL: the text as the body of a POST (ntfy.sh shows it, healthchecks.io logs it).
if [ -n "${LYNX_ALERT_URL:-}" ]; then
    if curl -fsS --max-time 20 --retry 2 -o /dev/null -H "Title: $title" -H "Priority: urgent" \
        -H "Content-Type: text/plain; charset=utf-8" --data-binary @- "$LYNX_ALERT_URL" <<<"$text"; then
        echo "lynx-portal-alert: posted to LYNX_ALERT_URL"
    else
        echo "lynx-portal-alert: POST to LYNX_ALERT_URL FAILED" >&2
        failed+=(LYNX_ALERT_URL)
    fi
fi

# 5. Mail, where the server can send it.
if [ -n "${LYNX_ALERT_EMAIL:-}" ]; then
    sendmail=$(command -v sendmail || echo /usr/sbin/sendmail)
    if [ ! -x "$sendmail" ]; then
        echo "lynx-portal-alert: LYNX_ALERT_EMAIL is set but there is no sendmail command (install a mail transfer agent)" >&2
        failed+=(LYNX_ALERT_EMAIL)
    elif printf 'To: %s\nSubject: %s\nContent-Type: text/plain; charset=utf-8\n\n%s\n' \
        "$LYNX_ALERT_EMAIL" "$title" "$text" | "$sendmail" -t; then
        echo "lynx-portal-alert: mailed $LYNX_ALERT_EMAIL"
    else
        failed+=(LYNX_ALERT_EMAIL)
    fi
fi

channels="journal, $([ "$mode" = --test ] || echo "$alert_dir/current, ")wall${LYNX_ALERT_URL:+, URL}${LYNX_ALERT_EMAIL:+, email}"
echo "lynx-portal-alert: $title ($channels)"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "lynx-portal-alert: channel(s) FAILED: ${failed[*]}" >&2
    exit 1
fi
if [ "$mode" = --test ] && [ -z "${LYNX_ALERT_URL:-}${LYNX_ALERT_EMAIL:-}" ]; then
    echo "lynx-portal-alert: no LYNX_ALERT_URL or LYNX_ALERT_EMAIL in $env_file: only people logged in to this server see alerts" >&2
fi
