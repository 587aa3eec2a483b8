"""Alerts on a bare Debian 12 VPS, in a booted guest installed with --tls-internal.

The chain under test: lynx-portal-watch.timer -> lynx-portal-watch.service (the served
certificate's dates into certificate.json, then `lynx-portal doctor`) -> OnFailure=
lynx-portal-alert@.service -> lynx-portal-alert (journal at crit, the login message, wall, a
POST to LYNX_ALERT_URL). The URL is a small HTTP server on the host (the guest shares the
host's network). Each condition is made for real: a database file with the wrong mode (doctor
fails on it today), a certificate issued with openssl whose end is near, a backup whose borg
repository cannot be reached, run through the cron line itself.
"""
import datetime
import http.server
import json
import re
import subprocess
import threading
import time

import pytest

from conftest import free_port
from test_runbook import apt_install, run_retrying_apt_lock

HTTP_PORT = free_port()
HTTPS_PORT = free_port()
ADMIN_PORT = free_port()
ALERT_PORT = free_port()
DOMAIN = "localhost"
OPTIONS = (f"--domain {DOMAIN} --tls-internal --http-port {HTTP_PORT} --https-port {HTTPS_PORT} "
           f"--caddy-admin localhost:{ADMIN_PORT}")
ALERT_FILE = "/var/lib/lynx-portal-alerts/current"
CERT_JSON = "/var/lib/lynx-portal/certificate.json"


class Receiver(http.server.BaseHTTPRequestHandler):
    posts = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode(errors="replace")
        Receiver.posts.append({"path": self.path, "title": self.headers.get("Title", ""), "body": body})
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def posts():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", ALERT_PORT), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Receiver.posts
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def guest(booted_guest, posts):
    result = run_retrying_apt_lock(booted_guest, f"/srv/src/deploy/install.sh {OPTIONS}")
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    booted_guest.run(f"sed -i 's|^LYNX_ALERT_URL=.*|LYNX_ALERT_URL=http://127.0.0.1:{ALERT_PORT}/alerts|' "
                     "/etc/lynx-portal/alert.env")
    return booted_guest


def start_watch(guest):
    """Runs the hourly check now, as the timer would; returns systemctl's exit status."""
    return guest.run("systemctl start lynx-portal-watch.service", check=False, timeout=300).returncode


def wait_for(condition, what, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


def wait_for_alert(guest, posts, count_before, needle):
    wait_for(lambda: len(posts) > count_before, f"a POST to LYNX_ALERT_URL mentioning {needle!r}")
    post = posts[-1]
    assert needle in post["title"] + post["body"], post
    # The alert unit ran to its end: the other channels are done too.
    wait_for(lambda: guest.run(f"test -s {ALERT_FILE}", check=False).returncode == 0, "the login alert file")
    return post


def served_certificate_dates():
    """notBefore/notAfter of the certificate Caddy serves, read from the host side with openssl."""
    pem = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{HTTPS_PORT}", "-servername", DOMAIN],
                         input="", capture_output=True, text=True, timeout=30).stdout
    dates = subprocess.run(["openssl", "x509", "-noout", "-startdate", "-enddate"], input=pem,
                           capture_output=True, text=True, check=True).stdout
    parsed = {}
    for key, value in re.findall(r"^(notBefore|notAfter)=(.*)$", dates, re.M):
        moment = datetime.datetime.strptime(value.strip(), "%b %d %H:%M:%S %Y %Z")
        parsed[key] = int(moment.replace(tzinfo=datetime.timezone.utc).timestamp())
    return parsed["notBefore"], parsed["notAfter"]


def certificate_json(guest):
    stat = guest.run(f"stat -c '%U:%G %a' {CERT_JSON}").stdout.strip()
    assert stat == "portal:portal 640", stat
    return json.loads(guest.run(f"cat {CERT_JSON}").stdout)


# --- installed, enabled, idempotent ---------------------------------------------------------


def test_install_sets_up_the_alert_chain_and_a_second_run_changes_nothing(guest):
    expected = {
        "/usr/local/bin/lynx-portal-watch": "root:root 755",
        "/usr/local/bin/lynx-portal-alert": "root:root 755",
        "/etc/lynx-portal/alert.env": "root:root 600",
        "/etc/profile.d/lynx-portal-alert.sh": "root:root 644",
        "/var/lib/lynx-portal-alerts": "root:root 755",
        "/etc/systemd/system/lynx-portal-watch.service": "root:root 644",
        "/etc/systemd/system/lynx-portal-watch.timer": "root:root 644",
        "/etc/systemd/system/lynx-portal-alert@.service": "root:root 644",
    }
    for path, want in expected.items():
        assert guest.run(f"stat -c '%U:%G %a' {path}").stdout.strip() == want, path
    assert guest.run("systemctl is-enabled lynx-portal-watch.timer").stdout.strip() == "enabled"
    assert guest.run("systemctl is-active lynx-portal-watch.timer").stdout.strip() == "active"
    assert unit_value(guest, "lynx-portal-watch.service", "OnFailure") == "lynx-portal-alert@lynx-portal-watch.service.service"
    guest.run("systemd-analyze verify lynx-portal-watch.service lynx-portal-watch.timer "
              "lynx-portal-alert@lynx-portal-watch.service.service")
    again = guest.run("/srv/src/deploy/install.sh", timeout=600)
    changes = [line for line in again.stdout.splitlines()
               if line.startswith("install: ") and not line.startswith("install: health:")]
    assert changes == ["install: nothing to change"], changes


def unit_value(guest, unit, name):
    return guest.run(f"systemctl show -p {name} --value {unit}").stdout.strip()


# --- a healthy server: the certificate is recorded, nothing alerts ---------------------------


def test_watch_records_the_served_certificate_and_passes(guest, posts):
    before = len(posts)
    assert start_watch(guest) == 0, guest.run("journalctl -u lynx-portal-watch.service -n 40 --no-pager").stdout
    recorded = certificate_json(guest)
    not_before, not_after = served_certificate_dates()
    assert recorded["domain"] == DOMAIN and "error" not in recorded, recorded
    assert (recorded["not_before"], recorded["not_after"]) == (not_before, not_after), recorded
    assert abs(recorded["checked_at"] - time.time()) < 120, recorded
    assert guest.run(f"test -e {ALERT_FILE}", check=False).returncode != 0
    assert len(posts) == before, posts[before:]


def test_alert_test_mode_reaches_the_url_and_leaves_no_login_message(guest, posts):
    before = len(posts)
    result = guest.run("lynx-portal-alert --test")
    assert "posted to LYNX_ALERT_URL" in result.stdout, result.stdout
    assert len(posts) == before + 1 and "test alert" in posts[-1]["title"], posts[before:]
    assert guest.run(f"test -e {ALERT_FILE}", check=False).returncode != 0
    # A URL that does not answer is a failure the operator sees.
    closed = free_port()
    guest.run(f"echo LYNX_ALERT_URL=http://127.0.0.1:{closed}/x >/root/closed-alert.env")
    result = guest.run("LYNX_ALERT_ENV=/root/closed-alert.env lynx-portal-alert --test", check=False)
    assert result.returncode == 1 and "POST to LYNX_ALERT_URL FAILED" in result.stderr, result.stderr


# --- a condition doctor fails on today: the whole chain ---------------------------------------


def test_a_failing_doctor_alerts_on_every_channel_and_a_passing_run_clears_it(guest, posts):
    before = len(posts)
    since = guest.run("date +%s").stdout.strip()
    guest.run("chmod 0644 /var/lib/lynx-portal/portal.db")
    try:
        assert start_watch(guest) != 0
        post = wait_for_alert(guest, posts, before, "lynx-portal-watch.service failed")
        assert "FAIL" in post["body"] and "layout" in post["body"], post["body"]
        assert post["path"] == "/alerts"
        critical = guest.run(f"journalctl -p crit -t lynx-portal-alert --since @{since} --no-pager").stdout
        assert "lynx-portal-watch.service failed" in critical, critical
        login = guest.run("bash -l -c true").stdout
        assert "lynx-portal: an alert is pending" in login and "lynx-portal-watch.service failed" in login, login
        assert guest.run(f"stat -c '%U:%G %a' {ALERT_FILE}").stdout.strip() == "root:adm 640"
    finally:
        guest.run("chmod 0640 /var/lib/lynx-portal/portal.db")
    assert start_watch(guest) == 0
    assert guest.run(f"test -e {ALERT_FILE}", check=False).returncode != 0
    assert "alert is pending" not in guest.run("bash -l -c true").stdout


# --- a backup that fails alerts at once, through the cron line ------------------------------


def cron_job(guest, name):
    """The command of /etc/cron.d/lynx-portal's line for `name`, without its UTC-hour guard."""
    for line in guest.run("cat /etc/cron.d/lynx-portal").stdout.splitlines():
        if line.startswith("30 ") and f"{{ {name} 2>&1" in line:
            return line.split(None, 6)[6].split(" && ", 1)[1].replace("\\%", "%")
    pytest.fail(f"no cron line for {name}")


@pytest.fixture
def unreachable_repository(guest):
    guest.run("cp -a /etc/lynx-portal/borg.env /root/borg.env.saved && printf '%s\\n' "
              "BORG_REPO=ssh://borg@127.0.0.1:1/srv/borg/nowhere 'BORG_PASSPHRASE=not used' "
              "'BORG_RSH=ssh -o BatchMode=yes -o ConnectTimeout=5' >/etc/lynx-portal/borg.env")
    yield
    guest.run("mv /root/borg.env.saved /etc/lynx-portal/borg.env && rm -f /var/lib/lynx-portal-alerts/current")


def test_a_failed_backup_alerts_at_once_through_its_cron_line(guest, posts, unreachable_repository):
    if guest.run("command -v ssh", check=False).returncode != 0:
        apt_install(guest, "openssh-client")
    before = len(posts)
    job = cron_job(guest, "lynx-backup")
    guest.run(f"cd / && SHELL=/bin/bash PATH={GUEST_CRON_PATH} bash -c {quote(job)}", check=False, timeout=300)
    post = wait_for_alert(guest, posts, before, "lynx-backup failed")
    assert "FAILED" in post["body"], post["body"]
    assert '"outcome": "failed"' in guest.run("tail -n 1 /var/log/lynx-portal/backup.log").stdout


GUEST_CRON_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def quote(text):
    return "'" + text.replace("'", "'\"'\"'") + "'"


# --- conditions the hourly doctor fails on once doctor checks them ------------------------------
# doctor FAILs on a failed backup (backup-last-failed.json), on a certificate near its end
# (remaining < min(14 days, lifetime / 4), read from certificate.json) and on low disk space from
# the change that adds those checks; with an older doctor these three tests fail on the watch run
# passing (the certificate test checks certificate.json's figures before that).


def test_the_hourly_check_alerts_after_a_failed_backup(guest, posts, unreachable_repository):
    guest.run(f"cd / && bash -c {quote(cron_job(guest, 'lynx-backup'))}", check=False, timeout=300)
    guest.run(f"rm -f {ALERT_FILE}")
    before = len(posts)
    assert start_watch(guest) != 0, "doctor passed although the last backup failed"
    post = wait_for_alert(guest, posts, before, "lynx-portal-watch.service failed")
    assert "backup" in post["body"], post["body"]


SHORT_CERT = r"""
set -e
d=/etc/caddy/short && rm -rf $d && install -d -o root -g caddy -m 0750 $d && cd $d
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -subj /CN=test-ca -days 3 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout site.key -out site.csr -subj /CN=DOMAIN \
    -addext subjectAltName=DNS:DOMAIN 2>/dev/null
touch index.txt && echo 01 >serial
printf '%s\n' '[ca]' 'default_ca=own' '[own]' 'dir=.' 'database=index.txt' 'serial=serial' 'new_certs_dir=.' \
    'certificate=ca.pem' 'private_key=ca.key' 'default_md=sha256' 'policy=any' 'copy_extensions=copy' \
    '[any]' 'commonName=supplied' >ca.cnf
openssl ca -batch -config ca.cnf -in site.csr -out site.pem -startdate START -enddate END 2>/dev/null
chgrp caddy site.pem site.key && chmod 0640 site.pem site.key
sed -i "s|^\(\s*\)tls internal$|\1tls $d/site.pem $d/site.key|" /etc/caddy/Caddyfile
grep -q "tls $d/site.pem" /etc/caddy/Caddyfile
systemctl reload caddy
"""


def test_a_certificate_near_its_end_is_recorded_and_alerts(guest, posts):
    now = int(time.time())
    start, end = now - 20 * 3600, now + 2 * 3600  # 22 h of life, 2 h left: under a quarter
    stamp = lambda t: datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y%m%d%H%M%SZ")
    script = SHORT_CERT.replace("DOMAIN", DOMAIN).replace("START", stamp(start)).replace("END", stamp(end))
    guest.run(f"bash -c {quote(script)}", timeout=120)
    try:
        wait_for(lambda: served_certificate_dates() == (start, end), "Caddy serving the short-lived certificate", 30)
        guest.run(f"rm -f {ALERT_FILE}")
        before = len(posts)
        status = start_watch(guest)
        recorded = certificate_json(guest)
        assert (recorded["not_before"], recorded["not_after"]) == (start, end), recorded
        assert status != 0, "doctor passed although the certificate ends in 2 hours"
        post = wait_for_alert(guest, posts, before, "lynx-portal-watch.service failed")
        assert "certificate" in post["body"], post["body"]
    finally:
        # install.sh writes the Caddyfile back from deploy/Caddyfile (tls internal again).
        guest.run("/srv/src/deploy/install.sh", check=False, timeout=600)
        guest.run(f"rm -f {ALERT_FILE}")


FULL_DISK = r"""
set -e
systemctl stop lynx-portal.socket lynx-portal.service
rm -rf /root/data-saved && cp -a /var/lib/lynx-portal /root/data-saved
used=$(du -sk /var/lib/lynx-portal | cut -f1)
mount -t tmpfs -o size=$((used + 4096))k,mode=0750,uid=$(id -u portal),gid=$(id -g portal) lynx-test-small /var/lib/lynx-portal
cp -a /root/data-saved/. /var/lib/lynx-portal/
systemctl start lynx-portal.socket
free=$(df -k --output=avail /var/lib/lynx-portal | tail -n 1)
runuser -u portal -- head -c $(( (free - 128) * 1024 )) /dev/zero >/var/lib/lynx-portal/filler
df -k /var/lib/lynx-portal
"""

RESTORE_DISK = r"""
systemctl stop lynx-portal.socket lynx-portal.service
umount /var/lib/lynx-portal
rm -rf /root/data-saved
systemctl start lynx-portal.socket
"""


def test_a_nearly_full_data_disk_alerts(guest, posts):
    """The data directory on a small tmpfs filled to 128 KiB of free space (a mount inside the
    guest's own mount namespace: the host's disk is never filled)."""
    guest.run(f"rm -f {ALERT_FILE}")
    guest.run(f"bash -c {quote(FULL_DISK)}", timeout=120)
    try:
        before = len(posts)
        assert start_watch(guest) != 0, "doctor passed with 128 KiB free in the data directory"
        post = wait_for_alert(guest, posts, before, "lynx-portal-watch.service failed")
        assert "disk" in post["body"].lower(), post["body"]
    finally:
        guest.run(f"bash -c {quote(RESTORE_DISK)}", check=False, timeout=120)
        guest.run(f"rm -f {ALERT_FILE}")
    assert guest.run("findmnt -n /var/lib/lynx-portal", check=False).stdout.strip() == ""
