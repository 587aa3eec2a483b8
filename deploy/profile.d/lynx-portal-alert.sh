# Installed as /etc/profile.d/lynx-portal-alert.sh: shows a pending lynx-portal alert at every
# login (written by lynx-portal-alert, cleared by the next lynx-portal-watch run that passes).
# Usage: sourced by login shells; nothing to run.
# shellcheck shell=sh
if [ -s /var/lib/lynx-portal-alerts/current ]; then
    if [ -r /var/lib/lynx-portal-alerts/current ]; then
        printf '\n*** lynx-portal: an alert is pending ***\n'
        cat /var/lib/lynx-portal-alerts/current
        printf '(cleared by the next passing check: sudo systemctl start lynx-portal-watch.service)\n\n'
    else
        printf '\n*** lynx-portal: an alert is pending: sudo cat /var/lib/lynx-portal-alerts/current ***\n\n'
    fi
fi
