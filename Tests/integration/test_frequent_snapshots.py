"""Frequent snapshots and point-in-time restore (deploy/backup/): `lynx-backup --frequent`, the
retention policy, `lynx-restore --before` and `--list`, and the snapshot-age alert, with the real
portal behind Caddy and a real encrypted borg repository (over the loopback sshd with the
append-only key where a restore is involved).
"""
import datetime
import json
import os
import re
import sqlite3
import subprocess
import time
import zoneinfo

import pytest

import random

from borg_support import BACKUP, BINARY, BackupRig, dump, run, run_frequent_drill

INTERVAL_SECONDS = 15 * 60  # LYNX_SNAPSHOT_INTERVAL_MINUTES's default


@pytest.fixture(scope="module")
def rig():
    with BackupRig(over_ssh=False) as rig:
        rig.seed_class(learners=1, entries=1)
        yield rig


@pytest.fixture
def ssh_rig():
    with BackupRig(over_ssh=True) as rig:
        yield rig


def frequent_lines(rig):
    return [line for line in rig.log_lines() if line["job"] == "frequent"]


def manifest_of(rig, archive, tmp_path):
    target = tmp_path / archive
    target.mkdir()
    rig.borg("extract", f"::{archive}", "snapshot/manifest.json", cwd=target)
    return json.loads((target / "snapshot" / "manifest.json").read_text())


def rows(manifest):
    return {table["name"]: table["rows"] for table in manifest["tables"]}


def write_entry(client, csrf, title):
    response = client.post("/journal/new", {"csrf": csrf, "title": title, "body": "written between snapshots"})
    assert response.status_code == 303, response.text
    return int(response.headers["Location"].rsplit("/", 1)[1])


def test_a_frequent_snapshot_is_sent_only_when_the_data_changed(rig, tmp_path):
    first = rig.frequent()
    line = frequent_lines(rig)[-1]
    assert line["outcome"] == "ok", line
    archive = line["archive"]
    assert re.fullmatch(r"lynx-portal-\d{8}T\d{6}Z-frequent", archive), archive
    assert archive in rig.archives()
    # Checked against its manifest before it was sent, and timed like the nightly run.
    assert line["verify_seconds"] >= 0 and line["snapshot_bytes"] > 0 and line["increment_bytes"] > 0, line
    assert "created " + archive in first.stderr
    status = json.loads((rig.stack.data / "backup-last-snapshot.json").read_text())
    assert status["archive"] == archive and status["interval_seconds"] == INTERVAL_SECONDS and status["changed"], status
    assert not (rig.stack.data / "snapshot").exists()

    # Nothing written since: no archive, but the off-site copy is known current as of now.
    archives = rig.archives()
    time.sleep(1.1)  # a new archive would get a new name
    again = rig.frequent()
    assert rig.archives() == archives, "an archive was sent although nothing changed"
    line = frequent_lines(rig)[-1]
    assert (line["outcome"], line["archive"]) == ("unchanged", archive), line
    assert f"unchanged since {archive}: nothing sent" in again.stderr
    status = json.loads((rig.stack.data / "backup-last-snapshot.json").read_text())
    assert status["archive"] == archive and status["changed"] is False, status

    # One journal entry later, the next run sends it.
    client = rig.stack.learner("freq1")
    entry = write_entry(client, client.csrf_from("/journal/new"), "between snapshots")
    time.sleep(1.1)
    rig.frequent()
    line = frequent_lines(rig)[-1]
    assert line["outcome"] == "ok" and line["archive"] != archive, line
    manifest = manifest_of(rig, line["archive"], tmp_path)
    db = sqlite3.connect(f"file:{rig.stack.data / 'portal.db'}?mode=ro", uri=True)
    try:
        live = {name: db.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in rows(manifest)}
        assert db.execute("SELECT count(*) FROM journal_entry WHERE id = ?", (entry,)).fetchone() == (1,)
    finally:
        db.close()
    assert rows(manifest) == live
    # The archive's comment carries the row counts and size that lynx-restore --list shows.
    listed = rig.borg("list", "--format", "{name}{TAB}{comment}{NL}", "--glob-archives", line["archive"]).stdout
    comment = json.loads(listed.split("\t", 1)[1])
    assert comment["kind"] == "frequent" and comment["rows"] == rows(manifest), comment
    assert comment["snapshot_bytes"] == manifest["snapshot"]["bytes"]
    # The nightly run also records the content it sent: a frequent run right after it sends nothing.
    rig.backup("--no-verify")
    nightly = rig.log_lines()[-1]["archive"]
    assert re.fullmatch(r"lynx-portal-\d{8}T\d{6}Z", nightly), nightly
    rig.frequent()
    assert frequent_lines(rig)[-1]["outcome"] == "unchanged" and frequent_lines(rig)[-1]["archive"] == nightly


def test_audit_events_alone_are_sent_too(rig):
    rig.frequent()
    time.sleep(1.1)
    rig.frequent()
    assert frequent_lines(rig)[-1]["outcome"] == "unchanged"
    # A failed login for an unknown name: an audit event, and not a row in the database.
    audit = rig.stack.data / "audit"
    sizes = {path.name: path.stat().st_size for path in audit.glob("*.log")}
    rows_before = dump(rig.stack.data / "portal.db")
    response = rig.stack.client().login("freq-nobody", "not-a-password")
    assert response.status_code != 303
    assert {path.name: path.stat().st_size for path in audit.glob("*.log")} != sizes, "no audit event written"
    assert dump(rig.stack.data / "portal.db") == rows_before, "the database changed: not an audit-only change"
    time.sleep(1.1)
    rig.frequent()
    line = frequent_lines(rig)[-1]
    assert line["outcome"] == "ok", line
    listed = rig.borg("list", "--short", f"::{line['archive']}").stdout.split()
    assert sorted(name.rsplit("/", 1)[1] for name in listed if name.startswith("audit/")) == sorted(
        path.name for path in audit.glob("*.log"))


def corrupting_binary(tmp_path):
    """The portal binary, except that `snapshot` writes a manifest one journal row short."""
    wrapper = tmp_path / "corrupting-lynx-portal"
    wrapper.write_text(f"""#!/bin/sh
"{BINARY}" "$@" || exit $?
if [ "$1" = snapshot ] && [ "$2" = --to ]; then
    python3 -c '
import json, sys
manifest = json.load(open(sys.argv[1]))
next(t for t in manifest["tables"] if t["name"] == "journal_entry")["rows"] -= 1
json.dump(manifest, open(sys.argv[1], "w"))
' "$5"
fi
""")
    wrapper.chmod(0o755)
    return wrapper


def test_a_snapshot_that_does_not_match_its_manifest_is_never_sent_and_alerts(rig, tmp_path):
    client = rig.stack.learner("freq2")
    write_entry(client, client.csrf_from("/journal/new"), "changed, so a run would send")
    archives = rig.archives()
    result = rig.frequent(check=False, LYNX_PORTAL_BIN=corrupting_binary(tmp_path))
    assert result.returncode != 0
    assert "FAILED at step 'verifying the snapshot against its manifest'" in result.stderr, result.stderr
    assert rig.archives() == archives, "a snapshot that failed its manifest was sent"
    line = frequent_lines(rig)[-1]
    assert (line["outcome"], line["step"]) == ("failed", "verifying the snapshot against its manifest"), line
    failed = json.loads((rig.stack.data / "backup-snapshot-last-failed.json").read_text())
    assert failed["job"] == "frequent" and failed["step"] == line["step"], failed
    # The nightly job's own failure record is not touched by a frequent run.
    assert not (rig.stack.data / "backup-last-failed.json").exists()
    doctor = rig.stack.cli("doctor", check=False)
    assert doctor.returncode != 0
    assert re.search(r"^FAIL  backup snapshot: the last frequent snapshot failed 0\.0 h ago at step "
                     r"'verifying the snapshot against its manifest'", doctor.stdout, re.M), doctor.stdout
    assert "backup snapshot" in [alert["check"] for alert in rig.health()[1]["alerts"]]
    rig.frequent()
    assert frequent_lines(rig)[-1]["outcome"] == "ok"
    assert "backup snapshot" not in [alert["check"] for alert in rig.health()[1]["alerts"]]
    assert re.search(r"^ok +backup snapshot: newest good snapshot 0 min ago \(lynx-portal-\d{8}T\d{6}Z-frequent\), "
                     r"one every 15 min$", rig.stack.cli("doctor", check=False).stdout, re.M)


def test_a_snapshot_older_than_twice_the_interval_alerts_in_doctor_and_healthz(rig):
    status_file = rig.stack.data / "backup-last-snapshot.json"
    saved = status_file.read_text() if status_file.exists() else None
    (rig.stack.data / "backup-snapshot-last-failed.json").unlink(missing_ok=True)  # an earlier test's record
    try:
        for minutes, alerted in ((29, False), (31, True)):
            status_file.write_text(json.dumps({"epoch": int(time.time()) - minutes * 60, "archive": "lynx-portal-x",
                                               "interval_seconds": INTERVAL_SECONDS}))
            status, body = rig.health()
            assert status == 200 and body["status"] == "ok", body
            assert ("backup snapshot" in [alert["check"] for alert in body["alerts"]]) == alerted, body
            assert minutes * 60 <= body["backup"]["last_snapshot_age_seconds"] < minutes * 60 + 60, body
            assert body["backup"]["snapshot_interval_seconds"] == INTERVAL_SECONDS
            doctor = rig.stack.cli("doctor", check=False).stdout
            if alerted:
                assert re.search(r"^FAIL  backup snapshot: newest good snapshot is 3[12] min old \(over twice the "
                                 r"interval of 15 min\): is the frequent lynx-backup --frequent running\?$", doctor,
                                 re.M), doctor
            else:
                assert re.search(r"^ok +backup snapshot: newest good snapshot 29 min ago", doctor, re.M), doctor
        # A frequent run brings it back: the database is unchanged or sent, either way current.
        rig.frequent()
        assert "backup snapshot" not in [alert["check"] for alert in rig.health()[1]["alerts"]]
        saved = None
    finally:
        if saved is not None:
            status_file.write_text(saved)


def slow_binary(tmp_path, seconds):
    slow = tmp_path / "slow-lynx-portal"
    slow.write_text(f'#!/bin/sh\n[ "$1" = snapshot ] && [ "$2" = --to ] && sleep {seconds}\nexec "{BINARY}" "$@"\n')
    slow.chmod(0o755)
    return slow


def start_and_wait_for_the_stage(rig, args, env):
    process = subprocess.Popen([str(BACKUP), *args], env=rig.script_env(**env),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    while not (rig.stack.data / "snapshot").exists():
        assert process.poll() is None and time.time() < deadline, process.communicate()
        time.sleep(0.02)
    return process


def test_a_frequent_run_skips_while_the_nightly_runs_and_the_nightly_waits_for_a_frequent_one(rig, tmp_path):
    client = rig.stack.learner("freq3")
    csrf = client.csrf_from("/journal/new")
    write_entry(client, csrf, "for the nightly")
    # The nightly holds the lock: a frequent run skips, exit 0, logged, no failure recorded.
    nightly = start_and_wait_for_the_stage(rig, ["--no-verify"], {"LYNX_PORTAL_BIN": slow_binary(tmp_path, 3)})
    try:
        skipped = rig.frequent()
    finally:
        out, err = nightly.communicate(timeout=300)
    assert nightly.returncode == 0, err
    assert "skipped: another lynx-backup or lynx-restore holds the lock" in skipped.stderr, skipped.stderr
    line = next(line for line in reversed(frequent_lines(rig)) if line["outcome"] == "skipped")
    assert "holds the lock" in line["reason"], line
    assert rig.log_lines()[-1]["job"] == "backup" and rig.log_lines()[-1]["outcome"] == "ok"

    # A frequent run holds the lock: the nightly waits for it and succeeds; so does a restore.
    write_entry(client, csrf, "for the frequent run")
    time.sleep(1.1)
    frequent = start_and_wait_for_the_stage(rig, ["--frequent"], {"LYNX_PORTAL_BIN": slow_binary(tmp_path, 3)})
    try:
        waited = rig.backup("--no-verify", check=False)
    finally:
        out, err = frequent.communicate(timeout=300)
    assert frequent.returncode == 0, err
    assert waited.returncode == 0, waited.stderr
    assert re.search(r"a frequent snapshot \(pid \d+\) is running: waiting for it", waited.stderr), waited.stderr
    jobs = [(line["job"], line["outcome"]) for line in rig.log_lines()[-2:]]
    assert jobs == [("frequent", "ok"), ("backup", "ok")], jobs
    frequent = start_and_wait_for_the_stage(rig, ["--frequent"], {"LYNX_PORTAL_BIN": slow_binary(tmp_path, 3)})
    try:
        restore = rig.restore("--latest", "--dry-run", check=False)
    finally:
        frequent.communicate(timeout=300)
    assert restore.returncode == 0 and "a frequent snapshot" in restore.stderr, restore.stderr


@pytest.mark.parametrize("utc, due", [("2026-12-01 10:16:00", False), ("2026-12-01 10:15:00", True)])
def test_the_every_minute_cron_call_runs_only_at_a_multiple_of_the_interval(rig, utc, due):
    before = len(rig.log_lines())
    env = rig.script_env(TZ="America/Los_Angeles")
    local = datetime.datetime.fromisoformat(utc).replace(tzinfo=datetime.timezone.utc).astimezone(
        zoneinfo.ZoneInfo("America/Los_Angeles")).strftime("%Y-%m-%d %H:%M:%S")
    result = run(["faketime", local, BACKUP, "--frequent", "--if-due"], env=env, check=False)
    assert result.returncode == 0, result.stderr
    lines = rig.log_lines()[before:]
    if due:
        assert [line["job"] for line in lines] == ["frequent"], lines
        assert lines[0]["outcome"] in ("ok", "unchanged"), lines
    else:
        assert (result.stdout, result.stderr, lines) == ("", "", []), result
    # 0 turns the schedule off; an interval that is not a number fails loudly.
    env_file = rig.write_borg_env(rig.tmp / "borg-off.env", LYNX_SNAPSHOT_INTERVAL_MINUTES="0")
    off = run(["faketime", local, BACKUP, "--frequent", "--if-due"], env={**env, "LYNX_BORG_ENV": str(env_file)},
              check=False)
    assert (off.returncode, off.stderr, len(rig.log_lines())) == (0, "", before + len(lines)), off
    env_file = rig.write_borg_env(rig.tmp / "borg-bad.env", LYNX_SNAPSHOT_INTERVAL_MINUTES="quarter")
    bad = run([BACKUP, "--frequent", "--if-due"], env={**env, "LYNX_BORG_ENV": str(env_file)}, check=False)
    assert bad.returncode != 0 and "LYNX_SNAPSHOT_INTERVAL_MINUTES must be a whole number" in bad.stderr, bad.stderr
    (rig.stack.data / "backup-snapshot-last-failed.json").unlink()
    # ...and never stops the nightly backup, which says so and goes on.
    nightly = rig.backup("--no-verify", LYNX_BORG_ENV=env_file)
    assert "LYNX_SNAPSHOT_INTERVAL_MINUTES must be a whole number" in nightly.stderr, nightly.stderr
    assert rig.log_lines()[-1]["job"] == "backup" and rig.log_lines()[-1]["outcome"] == "ok"


def test_retention_keeps_every_archive_of_48_hours_then_one_an_hour(tmp_path):
    """The policy `lynx-backup --print-prune-command` prints (the nightly prune uses the same),
    run as `borg prune --dry-run` on a real repository holding archives at chosen times."""
    command = run([BACKUP, "--print-prune-command"], env={**os.environ, "LYNX_BORG_ENV": ""}).stdout.split()
    assert command[:4] == ["borg", "prune", "--list", "--stats"] and command[-1] == "REPOSITORY", command
    policy = command[4:-1]
    assert policy == ["--glob-archives", "lynx-portal-\\*", "--keep-within=48H", "--keep-hourly=168",
                      "--keep-daily=14", "--keep-weekly=8", "--keep-monthly=12"], policy
    env = {**os.environ, "BORG_PASSPHRASE": "retention-test", "BORG_BASE_DIR": str(tmp_path / "base"),
           "BORG_REPO": str(tmp_path / "repo")}
    run(["borg", "init", "--encryption=repokey-blake2"], env=env)
    (tmp_path / "file").write_text("x")
    now = datetime.datetime.now(datetime.timezone.utc).replace(minute=0, second=0, microsecond=0)
    expected = {}
    # Every 15 minutes in one hour 47 h ago and in the last hour: all kept (within 48 h). Two an
    # hour 60 h and 100 h ago: only the later of each hour (hourly). borg also keeps the oldest
    # archive while a rule has fewer periods than its count: the one 120 h ago.
    for hours, minutes, kept in [(47, (2, 17, 32, 47), True), (1, (2, 17, 32, 47), True),
                                 (60, (10,), False), (60, (40,), True), (100, (10,), False), (100, (40,), True),
                                 (120, (5,), True)]:
        for minute in minutes:
            moment = now - datetime.timedelta(hours=hours) + datetime.timedelta(minutes=minute)
            name = "lynx-portal-" + moment.strftime("%Y%m%dT%H%M%SZ") + "-frequent"
            run(["borg", "create", "--timestamp", moment.strftime("%Y-%m-%dT%H:%M:%S"), f"::{name}", "file"],
                env={**env, "TZ": "UTC"}, cwd=tmp_path)
            expected[name] = kept
    result = run(["borg", "prune", "--dry-run", "--list", *[part.replace("\\", "") for part in policy]],
                 env={**env, "TZ": "UTC"})
    listing = result.stdout + result.stderr
    decided = {}
    for line in listing.splitlines():
        match = re.search(r"(Keeping archive|Would prune).*?(lynx-portal-\S+)", line)
        if match:
            decided[match.group(2)] = match.group(1) == "Keeping archive"
    assert decided == expected, listing


def snapshot_moment(archive):
    stamp = re.search(r"(\d{8}T\d{6}Z)", archive).group(1)
    return datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)


def test_restore_before_a_moment_brings_back_that_archive_over_ssh(ssh_rig, tmp_path):
    rig = ssh_rig
    rig.seed_class(learners=2, entries=1)
    rig.frequent()
    earlier = frequent_lines(rig)[-1]["archive"]
    earlier_rows = dump(rig.stack.data / "portal.db")
    time.sleep(1.5)
    moment = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    time.sleep(1.5)
    client = rig.stack.client()
    client.login("drill1")
    csrf = client.csrf_from("/journal/new")
    for number in range(3):
        write_entry(client, csrf, f"after the moment {number}")
    rig.frequent()
    later = frequent_lines(rig)[-1]["archive"]
    assert later != earlier and snapshot_moment(earlier) <= moment < snapshot_moment(later)

    # --list: every archive, when taken, its kind, size and row counts from its manifest.
    listing = rig.restore("--list").stdout
    for archive, entries in ((earlier, len(earlier_rows["journal_entry"])), (later, len(earlier_rows["journal_entry"]) + 3)):
        line = next(line for line in listing.splitlines() if line.startswith(archive + " "))
        assert snapshot_moment(archive).strftime("%Y-%m-%d %H:%M:%SZ") in line and " frequent " in line, line
        assert f"journal_entry={entries}" in line and "learner=" in line, line
        assert re.search(r" \d+ min +frequent +\d{5,} ", line), line
    assert listing.strip().endswith("2 archive(s)"), listing

    # The same moment written three ways picks the same archive; each says what and how old.
    madrid = moment.astimezone(zoneinfo.ZoneInfo("Europe/Madrid")).strftime("%Y-%m-%d %H:%M:%S Europe/Madrid")
    for text in (moment.strftime("%Y-%m-%dT%H:%M:%SZ"), moment.astimezone(
            datetime.timezone(datetime.timedelta(hours=-5))).isoformat()):
        dry = rig.restore("--before", text, "--dry-run")
        assert f"picked {earlier} (frequent)" in dry.stderr and "dry run" in dry.stderr, dry.stderr
    result = rig.restore("--before", madrid)
    assert re.search(rf"^lynx-restore: picked {earlier} \(frequent\), taken \S+Z: \d+ min before the requested "
                     rf"{moment.strftime('%Y-%m-%dT%H:%M:%SZ')}, \d+ min old now$", result.stderr, re.M), result.stderr
    assert f"restoring {earlier}" in result.stderr and "row counts match" in result.stdout, result.stdout
    restored = dump(rig.stack.data / "portal.db")
    assert {t: r for t, r in restored.items() if t != "session"} == \
        {t: r for t, r in earlier_rows.items() if t != "session"}
    assert rig.log_lines()[-1]["job"] == "restore" and rig.log_lines()[-1]["archive"] == earlier

    # Before every archive, or a time without a zone: refused, nothing changed.
    before_all = (snapshot_moment(earlier) - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%MZ")
    for text, message in ((before_all, "no lynx-portal-* archive was taken at or before"),
                          ("2026-12-01 18:00", "names no zone"), ("2026-12-01 18:00 Mars/Olympus", "unknown time zone")):
        refused = rig.restore("--before", text, check=False)
        assert refused.returncode != 0 and message in refused.stderr, refused.stderr
    assert dump(rig.stack.data / "portal.db") == restored


DRILL_INTERVAL = 8  # seconds: the real scripts, a short interval (a run over SSH takes about 2 s here)


def test_recovery_point_drill_loses_at_most_one_interval_and_restores_an_earlier_moment_exactly(ssh_rig, tmp_path):
    rig = ssh_rig
    destroy_after = random.uniform(3.2 * DRILL_INTERVAL, 4.8 * DRILL_INTERVAL)
    record = run_frequent_drill(rig, DRILL_INTERVAL, destroy_after)
    runs, acknowledged, destroyed = record["runs"], record["acknowledged"], record["destroyed"]
    summary = {"destroy_after": destroy_after, "runs": [(round(r["start"] - runs[0]["start"], 2),
                                                        round(r["end"] - r["start"], 2), r["outcome"], r["archive"])
                                                       for r in runs],
               "acknowledged": len(acknowledged), "write_errors": record["write_errors"][:5]}
    print(json.dumps(summary, indent=1))
    assert record["health_after_destroy"] == 503, record["health_after_destroy"]
    assert len(acknowledged) > 50 and not record["write_errors"], summary
    sent = [run for run in runs if run["outcome"] == "ok"]
    assert len(sent) >= 3, summary  # the load changes the data every interval: each run sends
    assert all(run["outcome"] == "ok" for run in runs if run["start"] < destroyed - 0.5), summary
    # The bound below holds when each run ends within its interval, as on a real server by far.
    assert all(run["end"] - run["start"] < DRILL_INTERVAL for run in runs), \
        ("a snapshot run took longer than the interval: the schedule was not kept", summary)

    # The latest archive is what came back: the last run that sent one.
    last = sent[-1]
    assert record["restored_archive"] == last["archive"], (record["restored_archive"], summary)
    present = record["present"]
    before = [entry for entry, at in acknowledged if at < last["start"]]
    missing = [entry for entry in before if entry not in present]
    assert not missing, f"{len(missing)} writes acknowledged before the last snapshot started are missing"
    after = [entry for entry, at in acknowledged if at > last["end"]]
    assert not [entry for entry in after if entry in present], "writes after the snapshot came back?"
    # The loss window: from the last snapshot's start to the disaster, at most one interval. A run
    # under way when the files went either took its snapshot first (it is `last`) or failed on a
    # missing database at once: then the window is one interval plus that failed run's start.
    failed = [run for run in runs if run["outcome"] == "failed"]
    slack = max((run["end"] - run["start"] for run in failed if run["start"] > last["start"]), default=0)
    window = destroyed - last["start"]
    lost = [entry for entry, at in acknowledged if entry not in present]
    print(f"loss window {window:.2f} s (interval {DRILL_INTERVAL} s), {len(lost)} of {len(acknowledged)} writes lost")
    assert window <= DRILL_INTERVAL + slack, (window, slack, summary)
    assert slack < 2, (slack, summary)

    # Back to an earlier moment: the second archive's time, as Madrid's clock showed it, brings
    # back exactly that archive's rows.
    earlier = sent[1]["archive"]
    moment = snapshot_moment(earlier)
    extracted = tmp_path / "earlier"
    extracted.mkdir()
    rig.borg("extract", f"::{earlier}", "snapshot", cwd=extracted)
    expected = dump(extracted / "snapshot" / "portal.db")
    manifest = json.loads((extracted / "snapshot" / "manifest.json").read_text())
    madrid = moment.astimezone(zoneinfo.ZoneInfo("Europe/Madrid")).strftime("%Y-%m-%d %H:%M:%S Europe/Madrid")
    result = rig.restore("--before", madrid)
    assert f"picked {earlier} (frequent)" in result.stderr and "row counts match" in result.stdout, result.stderr
    restored = dump(rig.stack.data / "portal.db")
    assert {t: r for t, r in restored.items() if t != "session"} == {t: r for t, r in expected.items() if t != "session"}
    assert {t: len(r) for t, r in restored.items() if t != "session"} == \
        {name: count for name, count in rows(manifest).items() if name != "session"}
    ids = {row[0] for row in restored["journal_entry"]}
    earlier_run = sent[1]
    assert {entry for entry, at in acknowledged if at < earlier_run["start"]} <= ids
    assert not {entry for entry, at in acknowledged if at > earlier_run["end"]} & ids
