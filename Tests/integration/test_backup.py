"""Backups and disaster recovery (deploy/backup/) with real parts only: the portal binary behind
real Caddy, a real encrypted borg repository (repokey-blake2) reached over a loopback sshd with an
append-only restricted key, or a local one where SSH adds nothing to what a test checks.
"""
import datetime
import hashlib
import http.server
import json
import os
import re
import sqlite3
import subprocess
import threading
import time
import zoneinfo

import pytest

from borg_support import BACKUP, BINARY, BackupRig, dump, run, run_drill
from conftest import free_port

# A moved script is a failure of every test here, never a reason to skip them.
assert BACKUP.exists(), f"{BACKUP} is missing: the backup tests cannot run"

LOCK_MESSAGE = "another lynx-backup or lynx-restore is running"


@pytest.fixture
def ssh_rig():
    with BackupRig(over_ssh=True) as rig:
        yield rig


@pytest.fixture(scope="module")
def local_rig():
    with BackupRig(over_ssh=False) as rig:
        rig.seed_class(learners=2, entries=1)
        yield rig


def test_disaster_recovery_drill_restores_every_row_over_ssh(ssh_rig):
    record = run_drill(ssh_rig)
    print(json.dumps({key: value for key, value in record.items() if "output" not in key}, indent=1, default=str))
    assert record["health_after_delete"][0] == 503, record["health_after_delete"]
    assert record["dump_equal"], (record["rows_before"], record["rows_after"])
    assert record["rows_before"]["session"] >= 3 and record["sessions_after"] == 0
    assert record["rows_after"]["learner"] == 3
    assert record["rows_after"]["journal_entry"] == 6
    assert record["rows_after"]["attempt"] == 3
    assert record["rows_after"]["review_card"] >= 3
    assert all(record["logins"].values()), record["logins"]
    assert record["backup_log"]["outcome"] == "ok" and record["verify_log"]["outcome"] == "ok"
    assert record["restore_log"]["outcome"] == "ok"
    assert "row counts match" in record["restore_output"]
    # /healthz and doctor report fresh backup and verified-restore ages.
    backup = record["health_after_restore"]["backup"]
    assert backup["status"] == "ok", backup
    assert 0 <= backup["last_good_backup_age_seconds"] < 600
    assert 0 <= backup["last_verified_restore_age_seconds"] < 600
    doctor = ssh_rig.stack.cli("doctor", check=False).stdout
    assert re.search(r"^ok +backup: last good backup 0\.\d h ago \(lynx-portal-\d{8}T\d{6}Z\)$", doctor, re.M), doctor
    assert re.search(r"^ok +backup verify: last verified restore 0\.\d h ago$", doctor, re.M), doctor
    assert record["health_after_restore"]["alerts"] == [], record["health_after_restore"]
    # The pre-disaster files were deleted, so there was nothing to move aside; a second restore
    # over a live database moves it aside and never deletes it, and adds back missing audit logs.
    audit = ssh_rig.stack.data / "audit"
    logs = sorted(path.name for path in audit.glob("*.log"))
    assert logs
    for path in audit.glob("*.log"):
        path.unlink()
    ssh_rig.restore(record["archive"])
    assert sorted(path.name for path in audit.glob("*.log")) == logs
    assert any('"event":"journal_created"' in (audit / log).read_text() for log in logs)
    broken = sorted(ssh_rig.stack.data.glob("portal.db.broken.*"))
    assert broken, "the live database was not moved aside"
    restored, kept = dump(ssh_rig.stack.data / "portal.db"), dump(broken[0])
    assert kept["journal_entry"] == restored["journal_entry"]
    assert len(kept["session"]) > len(restored["session"]), "the logins' sessions are in the kept copy only"


def test_backup_under_concurrent_writes_contains_every_acknowledged_entry(local_rig, tmp_path):
    rig = local_rig
    client = rig.stack.client()
    client.login("drill1")
    csrf = client.csrf_from("/journal/new")
    acknowledged = []  # (entry id, monotonic time the portal answered)
    stop = threading.Event()

    def write_loop():
        for number in range(5000):  # bounded: stops by itself
            if stop.is_set():
                return
            response = client.post("/journal/new", {"csrf": csrf, "title": f"load {number}", "body": "x" * 500})
            assert response.status_code == 303, response.text
            acknowledged.append((int(response.headers["Location"].rsplit("/", 1)[1]), time.monotonic()))

    writer = threading.Thread(target=write_loop)
    writer.start()
    try:
        while len(acknowledged) < 50:
            time.sleep(0.01)
        backup_started = time.monotonic()
        result = rig.backup("--no-verify")
        backup_ended = time.monotonic()
    finally:
        stop.set()
        writer.join(timeout=60)
    before = [entry for entry, at in acknowledged if at < backup_started]
    during = [entry for entry, at in acknowledged if backup_started <= at <= backup_ended]
    assert during, "the write loop was not writing while the backup ran"
    archive = rig.log_lines()[-1]["archive"]
    rig.borg("extract", f"::{archive}", "snapshot", cwd=tmp_path)
    snapshot = tmp_path / "snapshot" / "portal.db"
    db = sqlite3.connect(f"file:{snapshot}?mode=ro", uri=True)
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        present = {row[0] for row in db.execute("SELECT id FROM journal_entry")}
    finally:
        db.close()
    missing = [entry for entry in before if entry not in present]
    assert not missing, f"{len(missing)} acknowledged entries missing from the snapshot"
    assert "integrity_check ok" in result.stdout
    print(f"{len(before)} entries acknowledged before the backup, {len(during)} during it; "
          f"snapshot holds {len(present)}")


def make_archive(rig, tmp_path, tamper):
    """Builds an archive the way lynx-backup lays it out, with the snapshot or manifest altered."""
    stage = tmp_path / "stage"
    (stage / "snapshot").mkdir(parents=True)
    snapshot, manifest_path = stage / "snapshot" / "portal.db", stage / "snapshot" / "manifest.json"
    rig.stack.cli("snapshot", "--to", str(snapshot), "--manifest", str(manifest_path))
    manifest = json.loads(manifest_path.read_text())
    if tamper == "flipped bytes":
        data = bytearray(snapshot.read_bytes())
        middle = len(data) // 2
        data[middle:middle + 4] = bytes(byte ^ 0xFF for byte in data[middle:middle + 4])
        snapshot.write_bytes(bytes(data))
    elif tamper == "wrong manifest":
        next(table for table in manifest["tables"] if table["name"] == "journal_entry")["rows"] += 1
    elif tamper == "empty snapshot, consistent hash":
        # integrity_check passes an empty database: only the manifest's tables catch this.
        snapshot.write_bytes(b"")
        manifest["snapshot"].update(bytes=0, sha256=hashlib.sha256(b"").hexdigest())
    manifest_path.write_text(json.dumps(manifest))
    # Not named lynx-portal-*: `--latest` in other tests must never pick a tampered archive.
    name = f"tampered-{tamper.split()[0].rstrip(',')}-{os.urandom(4).hex()}"
    rig.borg("create", f"::{name}", "snapshot", cwd=stage)
    return name


@pytest.mark.parametrize("tamper", ["flipped bytes", "wrong manifest", "empty snapshot, consistent hash"])
def test_restore_refuses_a_tampered_archive_and_leaves_the_live_database_alone(local_rig, tmp_path, tamper):
    rig = local_rig
    live = rig.stack.data / "portal.db"
    before, pid = dump(live), rig.portal_pid()
    archive = make_archive(rig, tmp_path, tamper)
    result = rig.restore(archive, check=False)
    assert result.returncode != 0
    assert "refused" in result.stderr and "nothing was changed" in result.stderr, result.stderr
    assert dump(live) == before
    assert rig.portal_pid() == pid, "the service was stopped"
    assert not list(rig.stack.data.glob("portal.db.broken.*"))
    assert rig.health()[0] == 200
    failed = rig.log_lines()[-1]
    assert failed["job"] == "restore" and failed["outcome"] == "failed"
    assert failed["step"] == "verifying the snapshot against its manifest"


def test_dry_run_verifies_and_changes_nothing(local_rig):
    rig = local_rig
    rig.backup("--no-verify")
    live = rig.stack.data / "portal.db"
    before, pid = dump(live), rig.portal_pid()
    result = rig.restore("--latest", "--dry-run")
    assert "verified:" in result.stdout and "dry run" in result.stderr
    assert dump(live) == before and rig.portal_pid() == pid
    assert not list(rig.stack.data.glob("portal.db.broken.*"))


def test_restore_ends_every_session_so_one_ended_after_the_backup_cannot_come_back(local_rig, name):
    rig = local_rig
    client = rig.stack.learner(name)
    assert client.get("/journal", allow_redirects=False).status_code == 200
    rig.backup("--no-verify")
    # The archive holds this session; once restored it must not open /journal again.
    result = rig.restore("--latest")
    assert re.search(r"^lynx-restore: ended [1-9]\d* session\(s\) in .*: everyone signs in again$",
                     result.stderr, re.M), result.stderr
    assert "row counts match" in result.stdout, result.stdout
    after = client.get("/journal", allow_redirects=False)
    assert after.status_code == 303 and after.headers["Location"].startswith("/login"), after.status_code
    db = sqlite3.connect(f"file:{rig.stack.data / 'portal.db'}?mode=ro", uri=True)
    try:
        assert db.execute("SELECT count(*) FROM session").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM learner WHERE username = ?", (name,)).fetchone() == (1,)
    finally:
        db.close()
    assert client.login(name).status_code in (200, 303)
    assert client.get("/journal", allow_redirects=False).status_code == 200


def test_ping_url_is_called_only_after_a_verified_restore(local_rig, tmp_path):
    rig = local_rig
    pings = []

    class Ping(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            pings.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Ping)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/ping/lynx"
        env_file = rig.write_borg_env(tmp_path / "borg.env", LYNX_BACKUP_PING_URL=url)
        tampered = make_archive(rig, tmp_path, "flipped bytes")
        failed = rig.verify(tampered, check=False, LYNX_BORG_ENV=env_file)
        assert failed.returncode != 0 and pings == []
        rig.backup("--no-verify")
        rig.verify("--latest", LYNX_BORG_ENV=env_file)
        assert pings == ["/ping/lynx"]
        assert rig.log_lines()[-1]["pinged"] is True
    finally:
        server.shutdown()
        thread.join()


def test_second_backup_at_once_exits_with_the_lock_message(local_rig, tmp_path):
    rig = local_rig
    # A portal binary that lingers on `snapshot`, so the first backup holds the lock a while.
    slow = tmp_path / "slow-lynx-portal"
    slow.write_text(f'#!/bin/sh\n[ "$1" = snapshot ] && sleep 3\nexec "{BINARY}" "$@"\n')
    slow.chmod(0o755)
    first = subprocess.Popen([str(BACKUP), "--no-verify"], env=rig.script_env(LYNX_PORTAL_BIN=slow),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 20
        while not (rig.stack.data / "snapshot").exists():
            assert first.poll() is None and time.time() < deadline, first.communicate()
            time.sleep(0.02)
        second = rig.backup("--no-verify", check=False)
        restore = rig.restore("--latest", check=False)
    finally:
        out, err = first.communicate(timeout=120)
    assert second.returncode != 0 and LOCK_MESSAGE in second.stderr, second.stderr
    assert restore.returncode != 0 and LOCK_MESSAGE in restore.stderr, restore.stderr
    assert first.returncode == 0, err
    refused = [line for line in rig.log_lines() if line.get("step") == "taking the lock"]
    assert len(refused) == 2 and all(line["outcome"] == "failed" for line in refused)


@pytest.mark.parametrize("failure", ["wrong passphrase", "unreachable repository"])
def test_borg_failure_exits_non_zero_and_logs_the_failed_step(local_rig, tmp_path, failure):
    rig = local_rig
    if failure == "wrong passphrase":
        env_file = rig.write_borg_env(tmp_path / "borg.env", BORG_PASSPHRASE="not-the-passphrase-" + "x" * 20)
    else:
        port = free_port()  # nothing listens there
        env_file = rig.write_borg_env(
            tmp_path / "borg.env", BORG_REPO=f"ssh://nobody@127.0.0.1:{port}/srv/borg/lynx-portal",
            BORG_RSH="ssh -F /dev/null -o BatchMode=yes -o ConnectTimeout=5 -o StrictHostKeyChecking=no "
                     "-o UserKnownHostsFile=/dev/null")
    live = rig.stack.data / "portal.db"
    before = dump(live)
    status_file = rig.stack.data / "backup-last-good.json"
    status_before = status_file.read_text() if status_file.exists() else None
    result = rig.backup(check=False, LYNX_BORG_ENV=env_file)
    assert result.returncode != 0
    assert "FAILED at step 'borg create'" in result.stderr, result.stderr
    line = rig.log_lines()[-1]
    assert (line["job"], line["outcome"], line["step"]) == ("backup", "failed", "borg create"), line
    assert line["error"], line
    if failure == "wrong passphrase":
        assert "passphrase" in line["error"].lower(), line
    assert dump(live) == before
    assert not (rig.stack.data / "snapshot").exists(), "the local snapshot was left behind"
    assert (status_file.read_text() if status_file.exists() else None) == status_before
    # The failure is recorded for doctor and /healthz: a failing check until the next success.
    failed_file = rig.stack.data / "backup-last-failed.json"
    failed = json.loads(failed_file.read_text())
    assert failed["step"] == "borg create" and failed["message"] == line["error"], failed
    assert abs(failed["epoch"] - time.time()) < 120, failed
    doctor = rig.stack.cli("doctor", check=False)
    assert doctor.returncode != 0
    assert re.search(r"^FAIL  backup: the last backup failed 0\.\d h ago at step 'borg create': ", doctor.stdout, re.M), \
        doctor.stdout
    status, body = rig.health()
    assert status == 200 and body["status"] == "ok", body
    assert [alert["check"] for alert in body["alerts"]] == ["backup"], body
    assert "borg create" in body["alerts"][0]["message"], body
    rig.backup("--no-verify")
    assert "backup" not in [alert["check"] for alert in rig.health()[1]["alerts"]]
    assert re.search(r"^ok +backup: last good backup 0\.\d h ago", rig.stack.cli("doctor", check=False).stdout, re.M)
    failed_file.unlink()


def test_a_stale_backup_fails_doctor_and_is_an_alert_in_healthz_but_not_an_outage(local_rig):
    rig = local_rig
    old = int(time.time()) - 30 * 3600
    for name in ("backup-last-good.json", "backup-last-verified.json"):
        (rig.stack.data / name).write_text(json.dumps({"epoch": old, "archive": "lynx-portal-old"}))
    # The snapshot age has its own check (test_frequent_snapshots.py): recent here.
    (rig.stack.data / "backup-last-snapshot.json").write_text(json.dumps(
        {"epoch": int(time.time()), "archive": "lynx-portal-recent", "interval_seconds": 900}))
    for name in ("backup-last-failed.json", "backup-verify-last-failed.json"):  # earlier tests' failures
        (rig.stack.data / name).unlink(missing_ok=True)
    status, body = rig.health()
    assert status == 200 and body["status"] == "ok" and body["database"] == "ok", body
    assert body["backup"]["status"] == "warning" and "over 26 h" in body["backup"]["warning"], body
    assert body["backup"]["last_good_backup_age_seconds"] >= 30 * 3600
    assert [alert["check"] for alert in body["alerts"]] == ["backup"], body
    assert re.search(r"last good backup is 30\.\d h old \(over 26 h\)", body["alerts"][0]["message"]), body
    doctor = rig.stack.cli("doctor", check=False)
    assert doctor.returncode != 0
    assert re.search(r"^FAIL  backup: last good backup is 30\.\d h old \(over 26 h\)", doctor.stdout, re.M), doctor.stdout
    # A stale verified restore alone stays a warning.
    assert re.search(r"^WARN  backup verify: last verified restore 30\.\d h ago \(over 26 h\)", doctor.stdout, re.M), \
        doctor.stdout
    # A failed verification newer than the last verified restore is a failure until one succeeds.
    (rig.stack.data / "backup-verify-last-failed.json").write_text(json.dumps(
        {"epoch": int(time.time()) - 60, "step": "extracting lynx-portal-old", "message": "Archive does not exist"}))
    doctor = rig.stack.cli("doctor", check=False).stdout
    assert re.search(r"^FAIL  backup verify: the last verification failed 0\.0 h ago at step 'extracting "
                     r"lynx-portal-old': Archive does not exist", doctor, re.M), doctor
    assert "backup verify" in [alert["check"] for alert in rig.health()[1]["alerts"]]
    rig.verify("--latest")  # a fresh verified restore clears that half of the warning and the failure
    body = rig.health()[1]
    assert "verified restore" not in body["backup"]["warning"]
    assert [alert["check"] for alert in body["alerts"]] == ["backup"], body
    (rig.stack.data / "backup-verify-last-failed.json").unlink()


def test_a_failed_verification_is_recorded_for_doctor(local_rig):
    rig = local_rig
    result = rig.verify("lynx-portal-no-such-archive", check=False)
    assert result.returncode != 0
    failed = json.loads((rig.stack.data / "backup-verify-last-failed.json").read_text())
    assert failed["step"].startswith("extracting lynx-portal-no-such-archive"), failed
    doctor = rig.stack.cli("doctor", check=False).stdout
    assert re.search(r"^FAIL  backup verify: the last verification failed .* at step 'extracting "
                     r"lynx-portal-no-such-archive'", doctor, re.M), doctor
    rig.verify("--latest")
    assert "backup verify" not in [alert["check"] for alert in rig.health()[1]["alerts"]]
    (rig.stack.data / "backup-verify-last-failed.json").unlink()


def test_scripts_are_shellcheck_clean():
    scripts = sorted(str(path) for path in BACKUP.parent.glob("*.sh"))
    result = run(["shellcheck", *scripts], check=False)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("utc, expected", [
    ("2025-03-02 02:30:00", {"lynx-backup"}),                                   # a Sunday, 02:30 UTC
    ("2025-03-02 04:30:00", {"lynx-backup-verify --check-repository"}),         # Sunday 04:30 UTC
    ("2025-03-01 05:30:00", {"lynx-backup-verify --verify-data"}),              # the 1st, 05:30 UTC
    ("2025-03-03 04:30:00", set()),                                             # a Monday
    ("2025-03-01 03:30:00", set()),
])
def test_crontab_fires_each_job_at_its_utc_time_whatever_the_server_zone(utc, expected):
    lines = [line for line in (BACKUP.parent / "crontab").read_text().splitlines()
             if line and not line.startswith("#") and "=" not in line.split()[0]]
    # The frequent snapshot: called every minute, due by the interval in borg.env (its own test,
    # test_frequent_snapshots.py), alerting like the others on failure.
    frequent = [line for line in lines if "--frequent" in line]
    assert frequent == ['* * * * * root { lynx-backup --frequent --if-due 2>&1 | logger -t lynx-backup; '
                        '[ "${PIPESTATUS[0]}" = 0 ] || lynx-portal-alert --tag lynx-backup; }'], frequent
    lines = [line for line in lines if line not in frequent]
    assert len(lines) == 3
    instant = datetime.datetime.fromisoformat(utc).replace(tzinfo=datetime.timezone.utc)
    for zone in ("UTC", "Pacific/Auckland", "America/Los_Angeles"):
        # The same instant, as the server's clock in `zone` shows it (cron reads local time).
        local = instant.astimezone(zoneinfo.ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S")
        fired = set()
        for line in lines:
            minute, hour, dom, month, dow, user, command = line.split(None, 6)
            assert (minute, hour, dom, month, dow, user) == ("30", "*", "*", "*", "*", "root"), line
            guard, job = command.split(" && ", 1)
            result = subprocess.run(["faketime", local, "bash", "-c", guard.replace("\\%", "%")],
                                    env={**os.environ, "TZ": zone}, capture_output=True, text=True)
            if result.returncode == 0:
                fired.add(job.removeprefix("{ ").split(" 2>&1")[0])
            # A failed job alerts at once: the job's own exit status, not logger's.
            assert job.endswith('[ "${PIPESTATUS[0]}" = 0 ] || lynx-portal-alert --tag lynx-backup; }'), job
        assert fired == expected, (zone, utc, fired)
