"""An upgrade from an earlier release, built for real, and the documented rollback.

The earlier release is the commit in Tests/deploy/upgrade-from, built by earlier_bundle.py
(cached). In a booted Debian 12 guest: that release is installed with its own install.sh, a
learner logs in for the first time and takes a quiz; then the current bundle's install.sh
($LYNX_BUNDLE) upgrades it. The data must be kept, every migration applied once, and a
pre-upgrade snapshot left behind. Then the earlier binary is put back by hand: with a newer
schema it must refuse to start (exit 78, naming the snapshot). Finally deploy/README.md's
"Rolling back" commands bring the earlier release back on the pre-upgrade data.

The tests run in order and share the guest: each one continues where the last one stopped.
"""
import re
import subprocess
import time

import pytest
import requests

import earlier_bundle
from conftest import (BUNDLE, PASSWORD, REPO, Client, apt_cache_patient, boot_guest, figures, free_port,
                      require_root)
from test_fresh_vps import add_learner, take_quiz_with_one_wrong_answer

HTTP_PORT = free_port()
ADMIN_PORT = free_port()
BASE = f"http://localhost:{HTTP_PORT}"
DATA = "/var/lib/lynx-portal"
PRE_UPGRADE = f"{DATA}/pre-upgrade"
LEARNER = "upgrader"
# The schema gate's refusal (the contract of `serve`, `doctor`, `user`, `quiz` with a database
# that has migrations the binary does not know).
GATE_MESSAGE = "newer lynx-portal"

state = {}


def migrations_in(schema_source):
    """The migration identifiers a version of Sources/PortalStore/Schema.swift registers."""
    found = re.findall(r'registerMigration\(\s*"([^"]+)"', schema_source)
    assert found, "no registerMigration(...) in Schema.swift"
    return found


def earlier_source(path):
    return subprocess.run(["git", "-C", str(REPO), "show", f"{state['commit']}:{path}"], capture_output=True,
                          text=True, check=True).stdout


@pytest.fixture(scope="module")
def guest(request):
    """A booted guest with the earlier bundle at /srv/earlier and the current one at /srv/current."""
    require_root()
    assert (BUNDLE / "bin" / "lynx-portal").exists(), f"no release bundle at {BUNDLE}: run `make release`"
    commit = earlier_bundle.upgrade_from_commit()
    started = time.monotonic()
    try:
        earlier = earlier_bundle.build(commit)
    except earlier_bundle.EarlierBundleError as error:
        pytest.fail(str(error), pytrace=False)
    figures["earlier release bundle (built, or reused from the cache)"] = f"{time.monotonic() - started:.0f} s"
    state.update(commit=commit, earlier=earlier)
    yield from boot_guest(request, "upgrade",
                          [f"--bind-ro={earlier}:/srv/earlier", f"--bind-ro={BUNDLE.resolve()}:/srv/current"])


def sql(guest, query, database=f"{DATA}/portal.db"):
    return guest.run(f"runuser -u portal -- sqlite3 -readonly -separator '|' {database} \"{query}\"",
                     timeout=30).stdout.strip()


def unchanged(path):
    """A database file read without ever writing beside it (no -wal, no -shm): a snapshot."""
    return f"'file:{path}?immutable=1'"


def applied_migrations(guest, database=f"{DATA}/portal.db"):
    return sql(guest, "SELECT identifier FROM grdb_migrations ORDER BY rowid", database).splitlines()


def learner_work(guest, database=f"{DATA}/portal.db"):
    """(attempts, review cards) of the test's learner."""
    row = sql(guest, f"SELECT (SELECT count(*) FROM attempt a JOIN learner l ON l.id = a.learner_id "
                     f"WHERE l.username = '{LEARNER}'), (SELECT count(*) FROM review_card c JOIN learner l "
                     f"ON l.id = c.learner_id WHERE l.username = '{LEARNER}')", database)
    attempts, cards = row.split("|")
    return int(attempts), int(cards)


def healthz(timeout=30):
    try:
        return requests.get(BASE + "/healthz", timeout=timeout).status_code
    except requests.RequestException as error:
        return type(error).__name__


def logs_in(guest):
    client = Client(BASE)
    response = client.login(LEARNER, PASSWORD)
    assert response.status_code == 303, response.text[:500]
    assert client.get("/review").status_code == 200
    return client


def install(guest, bundle, options=""):
    started = time.monotonic()
    result = apt_cache_patient(guest, f"{bundle}/deploy/install.sh {options}")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    return output, time.monotonic() - started


def installed_binary_is(guest, bundle):
    return guest.run(f"cmp -s {bundle}/bin/lynx-portal /opt/lynx-portal/bin/lynx-portal", check=False).returncode == 0


def test_the_earlier_release_installs_with_its_own_installer(guest):
    output, seconds = install(guest, "/srv/earlier", f"--domain localhost --no-tls --http-port {HTTP_PORT} "
                                                     f"--caddy-admin localhost:{ADMIN_PORT}")
    figures["install.sh of the earlier release, fresh"] = f"{seconds:.1f} s"
    assert re.search(r"^install: health: doctor: all checks passed; .* 200 ", output, re.M), output[-3000:]
    assert installed_binary_is(guest, "/srv/earlier")
    # As install.sh names the pre-upgrade snapshot: "0.2.0 (commit abc)" -> 0.2.0-abc.
    version = guest.run("/opt/lynx-portal/bin/lynx-portal --version").stdout.splitlines()[0]
    state["old_version"] = re.sub(r"[^A-Za-z0-9.-]", "", version.replace(" (commit ", "-"))
    assert healthz() == 200


def test_a_learner_works_on_the_earlier_release(guest):
    code = add_learner(guest, LEARNER)
    client = Client(BASE)
    response = client.first_login(LEARNER, code, PASSWORD)
    assert response.status_code == 200 and client.session_cookie(), response.text[:500]
    take_quiz_with_one_wrong_answer(guest, client)
    state["work"] = learner_work(guest)
    assert state["work"] == (1, 1), state["work"]
    state["migrations_before"] = applied_migrations(guest)
    assert state["migrations_before"] == migrations_in(earlier_source("Sources/PortalStore/Schema.swift"))


def test_the_current_release_upgrades_it(guest):
    output, seconds = install(guest, "/srv/current")
    state["upgrade_output"] = output
    figures["install.sh of the current release over the earlier one (upgrade)"] = f"{seconds:.1f} s"
    assert "install: updated /opt/lynx-portal/bin/lynx-portal" in output, output[-3000:]
    assert re.search(r"^install: health: doctor: all checks passed; .* 200 ", output, re.M), output[-3000:]
    assert installed_binary_is(guest, "/srv/current")
    assert healthz() == 200


def test_every_migration_is_applied_exactly_once(guest):
    known = migrations_in((REPO / "Sources" / "PortalStore" / "Schema.swift").read_text())
    new = [m for m in known if m not in state["migrations_before"]]
    assert new, (f"the current release adds no migration to the one in Tests/deploy/upgrade-from "
                 f"({state['commit']}): pick an earlier commit, or this test upgrades nothing")
    applied = applied_migrations(guest)
    assert applied == known, (applied, known)
    counts = sql(guest, "SELECT count(*), count(DISTINCT identifier) FROM grdb_migrations")
    assert counts == f"{len(known)}|{len(known)}", counts
    # A second run of the installer (and its `migrate`) finds nothing left to apply.
    output, _ = install(guest, "/srv/current")
    assert "install: nothing to change" in output, output[-3000:]
    assert applied_migrations(guest) == known


def test_the_learner_keeps_password_and_work_after_the_upgrade(guest):
    client = logs_in(guest)
    assert learner_work(guest) == state["work"]
    # Work done after the upgrade, which a rollback to the pre-upgrade snapshot gives up.
    take_quiz_with_one_wrong_answer(guest, client)
    assert learner_work(guest)[0] == state["work"][0] + 1


def test_the_upgrade_left_a_pre_upgrade_snapshot(guest):
    listing = guest.run(f"ls -1 {PRE_UPGRADE}/", check=False).stdout.split()
    pattern = rf"portal-{re.escape(state['old_version'])}-\d{{8}}T\d{{6}}Z\.db"
    snapshots = [name for name in listing if re.fullmatch(pattern, name)]
    assert len(snapshots) == 1, f"expected one {PRE_UPGRADE}/{pattern}, found {listing}"
    snapshot = f"{PRE_UPGRADE}/{snapshots[0]}"
    state["snapshot"] = snapshot
    # Taken by the upgrade's install.sh, which then applied the new migrations itself, once.
    output = state["upgrade_output"]
    assert f"install: pre-upgrade snapshot: {snapshot} " in output, output[-3000:]
    new = [m for m in migrations_in((REPO / "Sources" / "PortalStore" / "Schema.swift").read_text())
           if m not in state["migrations_before"]]
    assert f"install: database: applied: {', '.join(new)}\n" in output, output[-3000:]
    assert output.index("install: pre-upgrade snapshot:") < output.index("install: database: applied:")
    # Taken before the migrations: the earlier release's schema, and the learner's work of then.
    assert applied_migrations(guest, unchanged(snapshot)) == state["migrations_before"]
    assert learner_work(guest, unchanged(snapshot)) == state["work"]
    mode = guest.run(f"stat -c '%U:%G' {snapshot}").stdout.strip()
    assert mode == "portal:portal", mode


def test_the_earlier_binary_refuses_the_newer_schema(guest):
    """Needs the schema gate in the EARLIER release: Tests/deploy/upgrade-from must name a commit
    that has it (GATE_MESSAGE in its Sources/)."""
    gated = subprocess.run(["git", "-C", str(REPO), "grep", "-q", "-F", GATE_MESSAGE, state["commit"], "--",
                            "Sources"], capture_output=True).returncode == 0
    assert gated, (f"the earlier release {state['commit']} (Tests/deploy/upgrade-from) predates the schema gate "
                   f"('{GATE_MESSAGE}' is not in its Sources/), so its refusal of a newer schema cannot be "
                   "checked: point upgrade-from at a commit that has the gate")
    guest.run("install -o root -g portal -m 0750 /srv/earlier/bin/lynx-portal /opt/lynx-portal/bin/lynx-portal")
    time.sleep(1.1)  # the journal below starts at the next whole second
    since = guest.run("date +%s").stdout.strip()
    guest.run("systemctl restart lynx-portal.service", check=False)
    assert healthz(timeout=60) != 200
    deadline = time.monotonic() + 20
    while (guest.run("systemctl show -p ActiveState --value lynx-portal.service").stdout.strip()
           not in ("failed", "inactive") and time.monotonic() < deadline):
        time.sleep(0.2)
    status = guest.run("systemctl show -p ExecMainStatus --value lynx-portal.service").stdout.strip()
    assert status == "78", status
    journal = guest.run(f"journalctl --no-pager -u lynx-portal.service --since @{since}").stdout
    assert GATE_MESSAGE in journal and state["snapshot"] in journal, journal[-3000:]
    doctor = guest.run("lynx-portal doctor", check=False)
    assert doctor.returncode != 0, doctor.stdout
    assert GATE_MESSAGE in doctor.stdout + doctor.stderr, doctor.stdout + doctor.stderr
    assert healthz() != 200


def rollback_commands(snapshot, previous):
    """deploy/README.md's "Rolling back" commands for an upgrade that migrated the database, with
    the example snapshot and kept release replaced by this upgrade's."""
    section = re.search(r"^## Rolling back\n(.*?)^## ", readme_text(), re.M | re.S)
    assert section, "no '## Rolling back' section in deploy/README.md"
    blocks = [block for block in re.findall(r"^```sh\n(.*?)^```", section.group(1), re.M | re.S)
              if "pre-upgrade/portal-" in block and "deploy/install.sh" in block]
    assert len(blocks) == 1, f"expected one rollback command block in 'Rolling back', found {len(blocks)}"
    script, snapshots = re.subn(r"^snapshot=\S+", f"snapshot={snapshot}", blocks[0], flags=re.M)
    assert snapshots == 1, "the rollback block no longer sets snapshot=...: update this test"
    script, installs = re.subn(r"/root/lynx-portal-[^/\s]+/deploy/install\.sh", f"{previous}/deploy/install.sh", script)
    assert installs == 1, "the rollback block no longer runs the kept release's install.sh: update this test"
    return script


def readme_text():
    return (REPO / "deploy" / "README.md").read_text()


def test_the_documented_rollback_brings_the_earlier_release_back(guest):
    assert "snapshot" in state, "no pre-upgrade snapshot to roll back to (see the test before)"
    script = rollback_commands(state["snapshot"], "/srv/earlier")
    (guest.root / "root" / "rollback.sh").write_text(script)
    started = time.monotonic()
    result = apt_cache_patient(guest, "bash -eu /root/rollback.sh")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    figures["rollback: the runbook's commands, the earlier release's install.sh included"] = \
        f"{time.monotonic() - started:.1f} s"
    assert re.search(r"^install: health: doctor: all checks passed; .* 200 ", output, re.M), output[-3000:]
    assert installed_binary_is(guest, "/srv/earlier")
    assert healthz() == 200
    logs_in(guest)
    # The data of before the upgrade: the first attempt, not the one taken after the upgrade.
    assert learner_work(guest) == state["work"]
    assert applied_migrations(guest) == state["migrations_before"]
    # The newer database was moved aside, not deleted.
    assert guest.run(f"ls {DATA}/").stdout.count("portal.db.newer.") >= 1
