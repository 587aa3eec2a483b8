"""Recovery onto a new server, proven: deploy/README.md's backup set-up and "Restore: the server
is gone", run for real in two booted Debian 12 guests.

Server A is installed from scratch ($LYNX_BUNDLE) with its backups set up as the runbook says:
its own SSH key, restricted on the backup host to `borg serve --append-only --restrict-to-path`
(the backup host is a loopback sshd on this machine, Tests/integration/borg_support.py; the
guests share the host's network), the backup host's key pinned, borg.env filled in, the
repository created through that key. Learners log in and work on A, and the installed
`lynx-backup` sends an archive off-site; after more work, the runbook's write freeze for a
planned move (the portal stopped) and a last `lynx-backup`.

Server B is installed fresh, then recovered as the runbook says: portal.env put back from the
off-server copy, a new SSH key that replaces A's on the backup host, borg.env, `lynx-restore
--latest`, doctor. A's Caddy stays up meanwhile, on its own ports: B's health check must reach
B's Caddy, never A's. Learners then log in on B with their passwords and find their work.
"""
import importlib.util
import json
import pathlib
import re
import secrets
import shutil
import sys
import tempfile
import time

import pytest
import requests

import conftest
from conftest import (BUNDLE, PASSWORD, REPO, Client, apt_cache_patient, boot_guest, figures, free_port,
                      require_root)
from test_fresh_vps import add_learner, take_quiz_with_one_wrong_answer

A_HTTP, A_ADMIN = free_port(), free_port()
B_HTTP, B_HTTPS, B_ADMIN = free_port(), free_port(), free_port()
A_BASE = f"http://localhost:{A_HTTP}"
B_BASE = f"https://localhost:{B_HTTPS}"
LEARNERS = ["movera", "moverb"]
ACCESS_LOG = "/var/log/caddy/lynx-portal-access.log"
README = (REPO / "deploy" / "README.md").read_text()

# B answers with a certificate from its Caddy's local CA (install.sh --tls-internal), checked
# against that CA's root certificate.
LOCAL_CA_ROOT = "var/lib/caddy/.local/share/caddy/pki/authorities/local/root.crt"

state = {}


def load_borg_support():
    """Tests/integration/borg_support.py, which imports the integration suite's conftest."""
    spec = importlib.util.spec_from_file_location("borg_support", REPO / "Tests" / "integration" / "borg_support.py")
    module = importlib.util.module_from_spec(spec)
    saved = sys.modules["conftest"]
    sys.modules["conftest"] = conftest.integration
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules["conftest"] = saved
    return module


@pytest.fixture(scope="module")
def backup_host():
    """The off-site backup host: a loopback sshd whose keys may only run borg serve
    --append-only --restrict-to-path on one repository (an absolute path, as in the runbook)."""
    require_root()
    tmp = tempfile.mkdtemp(prefix="lynx-portal-backup-host-", dir="/var/tmp")
    host = load_borg_support().SSHBackupHost(tmp)
    try:
        host.start()
        yield host
    finally:
        host.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def booted(request, name):
    yield from boot_guest(request, name, [f"--bind-ro={BUNDLE.resolve()}:/srv/current"])


@pytest.fixture(scope="module")
def server_a(request):
    yield from booted(request, "old-server")


@pytest.fixture(scope="module")
def server_b(request, server_a):
    yield from booted(request, "new-server")


def put(guest, path, text, mode="0600", owner="root:root"):
    """Writes a file into the guest as root would (the operator copying something over)."""
    staged = guest.root / "root" / ".lynx-test-upload"
    staged.write_text(text)
    guest.run(f"install -D -o {owner.split(':')[0]} -g {owner.split(':')[1]} -m {mode} /root/.lynx-test-upload {path}"
              f" && rm -f /root/.lynx-test-upload")


def install(guest, options):
    started = time.monotonic()
    result = apt_cache_patient(guest, f"/srv/current/deploy/install.sh {options}")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    return output, time.monotonic() - started


def readme_block(heading):
    """The text of one '### heading' section of deploy/README.md."""
    match = re.search(rf"^### {re.escape(heading)}\n(.*?)(?=^##)", README, re.M | re.S)
    assert match, f"no '### {heading}' section in deploy/README.md"
    return match.group(1)


def set_up_backups(guest, host, replace_key=False):
    """deploy/README.md "Set it up (once)", steps 2 to 5, with the example host and repository
    replaced by the backup host's: the commands themselves are the runbook's."""
    setup = readme_block("Set it up (once)")
    repository = str(host.repo)
    # Step 2: a key for backups only.
    keygen = ("install -d -m 0700 /root/.ssh && ssh-keygen -t ed25519 -N '' -C \"lynx-portal-backup@$(hostname)\" "
              "-f /root/.ssh/lynx-portal-backup")
    assert "sudo install -d -m 0700 /root/.ssh" in setup and \
        "ssh-keygen -t ed25519 -N '' -C \"lynx-portal-backup@$(hostname)\" -f /root/.ssh/lynx-portal-backup" in setup
    guest.run(keygen)
    public = guest.run("cat /root/.ssh/lynx-portal-backup.pub").stdout.strip()
    # Step 3: the restricted line on the backup host; a new server's replaces the old one's.
    options = 'command="borg serve --append-only --restrict-to-path /srv/borg/lynx-portal",restrict'
    assert options in setup, "deploy/README.md step 3 changed: update this test"
    line = options.replace("/srv/borg/lynx-portal", repository) + " " + public + "\n"
    keys = pathlib.Path(host.dir / "authorized_keys")
    keys.write_text(line if replace_key else keys.read_text() + line)
    # Step 4: pin the backup host's key, and compare its fingerprint with the host's own.
    assert "ssh-keyscan -t ed25519 backup.example.org >> /root/.ssh/known_hosts" in setup
    guest.run(f"ssh-keyscan -p {host.port} -t ed25519 127.0.0.1 >> /root/.ssh/known_hosts")
    pinned = guest.run("ssh-keygen -lf /root/.ssh/known_hosts").stdout.split()[1]
    own = load_borg_support().run(["ssh-keygen", "-lf", host.dir / "host_key.pub"]).stdout.split()[1]
    assert pinned == own, (pinned, own)
    # Step 5: borg.env, in the runbook's form with the absolute repository path.
    assert "BORG_REPO=ssh://borg@backup.example.org/srv/borg/lynx-portal" in setup
    assert "BORG_RSH=ssh -i /root/.ssh/lynx-portal-backup -o BatchMode=yes" in setup
    put(guest, "/etc/lynx-portal/borg.env",
        f"BORG_REPO=ssh://{host.user}@127.0.0.1:{host.port}{repository}\n"
        f"BORG_PASSPHRASE={state['passphrase']}\n"
        "BORG_RSH=ssh -i /root/.ssh/lynx-portal-backup -o BatchMode=yes\n"
        # No scheduled frequent snapshots: this test counts the archives and restores --latest.
        "LYNX_SNAPSHOT_INTERVAL_MINUTES=0\n")


def learner_rows(guest):
    query = ("SELECT l.username, (SELECT count(*) FROM attempt a WHERE a.learner_id = l.id), "
             "(SELECT count(*) FROM review_card c WHERE c.learner_id = l.id) FROM learner l ORDER BY l.username")
    return guest.run(f"runuser -u portal -- sqlite3 -readonly -separator '|' /var/lib/lynx-portal/portal.db "
                     f"\"{query}\"").stdout.split()


def curl_health_requests(guest):
    """/healthz requests made with curl in the guest's Caddy access log."""
    lines = guest.run(f"cat {ACCESS_LOG}", check=False).stdout.splitlines()
    count = 0
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        request = entry.get("request", {})
        agent = " ".join(request.get("headers", {}).get("User-Agent", []))
        if request.get("uri") == "/healthz" and agent.startswith("curl/"):
            count += 1
    return count


def test_server_a_backs_up_its_learners_work_off_site(server_a, backup_host):
    started = time.monotonic()
    output, seconds = install(server_a, f"--domain localhost --no-tls --http-port {A_HTTP} "
                                        f"--caddy-admin localhost:{A_ADMIN}")
    figures["new server: install.sh on server A"] = f"{seconds:.1f} s"
    state["passphrase"] = secrets.token_urlsafe(32)
    set_up_backups(server_a, backup_host)
    # Step 6: the repository, created through the restricted key.
    server_a.run("lynx-borg init --encryption=repokey-blake2")
    # Step 8: the key exported, to be kept off the server.
    server_a.run("lynx-borg key export :: /root/lynx-portal-borg.key && test -s /root/lynx-portal-borg.key")
    for name in LEARNERS:
        code = add_learner(server_a, name)
        client = Client(A_BASE)
        response = client.first_login(name, code, PASSWORD)
        assert response.status_code == 200 and client.session_cookie(), response.text[:500]
        created = client.submit("/journal/new", "/journal/new",
                                {"title": f"{name} on the old server", "body": "Written before the move."})
        assert created.status_code == 303, created.text[:500]
        take_quiz_with_one_wrong_answer(server_a, client)
    state["rows"] = learner_rows(server_a)
    assert len(state["rows"]) == len(LEARNERS) and all(row.endswith("|1|1") for row in state["rows"]), state["rows"]
    # The nightly backup, with the portal serving.
    backup = server_a.run("lynx-backup", check=False, timeout=600)
    assert backup.returncode == 0, backup.stdout[-3000:] + backup.stderr[-3000:]
    assert re.search(r"lynx-verify: .*verified", backup.stderr), backup.stderr[-3000:]
    # Work after it, then the runbook's write freeze for a planned move: the portal stopped,
    # a last lynx-backup. Nothing written before the freeze may be lost.
    late = Client(A_BASE)
    assert late.login(LEARNERS[0], PASSWORD).status_code == 303
    created = late.submit("/journal/new", "/journal/new", {"title": "after the nightly", "body": "Late work."})
    assert created.status_code == 303, created.text[:500]
    freeze = readme_block("Planned move to a new server")
    assert "sudo systemctl stop lynx-portal.socket lynx-portal.service" in freeze and "sudo lynx-backup" in freeze
    server_a.run("systemctl stop lynx-portal.socket lynx-portal.service")
    state["rows"] = learner_rows(server_a)
    final = server_a.run("lynx-backup", check=False, timeout=600)
    assert final.returncode == 0, final.stdout[-3000:] + final.stderr[-3000:]
    assert re.search(r"lynx-verify: .*verified", final.stderr), final.stderr[-3000:]
    archives = server_a.run("lynx-borg list --short").stdout.split()
    assert len(archives) == 2 and all(a.startswith("lynx-portal-") for a in archives), archives
    state["archive"] = archives[-1]
    # The off-server copies the runbook asks for.
    state["portal_env"] = (server_a.root / "etc" / "lynx-portal" / "portal.env").read_text()
    figures["new server: server A installed, backups set up, learners worked, lynx-backup"] = \
        f"{time.monotonic() - started:.0f} s"


def test_server_b_is_recovered_from_the_off_site_repository(server_a, server_b, backup_host):
    assert "archive" in state, "server A made no backup (see the test before)"
    started = time.monotonic()
    procedure = readme_block("Restore: the server is gone")
    output, seconds = install(server_b, f"--domain localhost --tls-internal --https-port {B_HTTPS} "
                                        f"--http-port {B_HTTP} --caddy-admin localhost:{B_ADMIN}")
    figures["new server: install.sh on server B"] = f"{seconds:.1f} s"
    # The pepper and session secret from the off-server copy, root:root 0600.
    assert "/etc/lynx-portal/portal.env" in procedure
    put(server_b, "/etc/lynx-portal/portal.env", state["portal_env"])
    # A new key, which replaces A's on the backup host; the same borg.env values.
    set_up_backups(server_b, backup_host, replace_key=True)
    locked_out = server_a.run("lynx-borg list --short", check=False, timeout=120)
    assert locked_out.returncode != 0, "the old server's key still reaches the repository"
    # A's Caddy still answers on its own port (502: the portal is frozen); B's health check
    # must not reach it.
    assert requests.get(A_BASE + "/healthz", timeout=30).status_code == 502
    a_checks = curl_health_requests(server_a)
    b_checks = curl_health_requests(server_b)
    assert "sudo lynx-restore --latest" in procedure
    restore = server_b.run("lynx-restore --latest", check=False, timeout=600)
    output = restore.stdout + restore.stderr
    assert restore.returncode == 0, output[-4000:]
    assert f"restored {state['archive']}: /healthz green" in output, output[-3000:]
    assert curl_health_requests(server_a) == a_checks, "the restore on B checked A's /healthz"
    assert curl_health_requests(server_b) > b_checks, "the restore on B never asked B's Caddy"
    doctor = server_b.run("lynx-portal doctor", check=False)
    assert doctor.returncode == 0 and "doctor: all checks passed" in doctor.stdout, doctor.stdout + doctor.stderr
    assert learner_rows(server_b) == state["rows"]
    for name in LEARNERS:
        client = Client(B_BASE)
        client.http.verify = str(server_b.root / LOCAL_CA_ROOT)
        client.http.trust_env = False  # else REQUESTS_CA_BUNDLE would replace that CA
        response = client.login(name, PASSWORD)
        assert response.status_code == 303, (name, response.status_code, response.text[:500])
        journal = client.get("/journal")
        assert journal.status_code == 200 and f"{name} on the old server" in journal.text, journal.text[:500]
        if name == LEARNERS[0]:
            assert "after the nightly" in journal.text, journal.text[:500]
    health = requests.get(B_BASE + "/healthz", timeout=30, verify=str(server_b.root / LOCAL_CA_ROOT))
    assert health.status_code == 200, health.text
    figures["new server: server B installed and recovered (install, keys, lynx-restore, logins)"] = \
        f"{time.monotonic() - started:.0f} s"


def test_the_restore_checks_the_new_server_before_it_has_a_certificate(server_b):
    """With Let's Encrypt (the default), Caddy has no certificate until DNS points at the new
    server: lynx-restore says so and checks the portal with doctor instead of failing."""
    assert "archive" in state, "server A made no backup (see the tests before)"
    install(server_b, "--tls --domain portal.example.org")
    restore = server_b.run("lynx-restore --latest", check=False, timeout=600)
    output = restore.stdout + restore.stderr
    assert restore.returncode == 0, output[-4000:]
    url = f"https://portal.example.org:{B_HTTPS}/healthz"
    assert (f"{url} has no certificate yet (DNS does not point here yet?); lynx-portal doctor instead: "
            "doctor: all checks passed") in output, output[-3000:]
    assert f"restored {state['archive']}: lynx-portal doctor passed (no certificate yet for {url})" in output, \
        output[-3000:]
