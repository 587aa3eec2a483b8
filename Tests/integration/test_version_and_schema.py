"""The binary's stamp and the schema gate.

The stamp: `--version`, doctor's first line and the operator's /healthz carry the VERSION file's
release and the commit of the tree this runs in (the suite builds through make, which stamps;
an unstamped build says "dev"/"unknown" and fails here).

The gate: `lynx-portal migrate` is the only command that changes the schema. `serve`, `user`,
`quiz` and `doctor` refuse a database with migrations pending or with migrations this binary does
not know (a newer portal migrated it); `migrate` refuses the newer one without touching it;
`migrate --check` exits 0 current, 1 pending, 78 newer."""
import hashlib
import re
import sqlite3
import subprocess

import requests

from conftest import BINARY, REPO, Stack

VERSION = (REPO / "VERSION").read_text().strip()
FUTURE = "v99-from-a-newer-portal"


def git(*args):
    return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True).stdout.strip()


def expected_stamp():
    commit = git("rev-parse", "--short=12", "HEAD")
    if git("status", "--porcelain", "--untracked-files=no"):
        commit += "-dirty"
    return VERSION, commit


def write(path, sql, *args):
    db = sqlite3.connect(path)
    with db:
        db.execute(sql, args)
    db.close()


def migrations(path):
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    rows = [row[0] for row in db.execute("SELECT identifier FROM grdb_migrations ORDER BY identifier")]
    db.close()
    return rows


def digest(path):
    """The database's content (schema and rows, WAL included), not its file: a checkpoint may
    move pages from the WAL into the file without changing a row."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    dump = "\n".join(db.iterdump())
    db.close()
    return hashlib.sha256(dump.encode()).hexdigest()


def test_version_names_the_release_and_the_commit_of_this_tree():
    version, commit = expected_stamp()
    out = subprocess.run([str(BINARY), "--version"], capture_output=True, text=True, check=True).stdout.strip()
    assert out == f"{version} (commit {commit})", f"{out!r}: build through make (scripts/stamp-build.sh)"


def test_doctor_and_the_operators_healthz_show_version_and_commit(stack):
    version, commit = expected_stamp()
    doctor = stack.cli("doctor", check=False).stdout.splitlines()
    assert doctor[0] == f"ok    version: lynx-portal {version} (commit {commit})", doctor[:3]
    body = requests.get(stack.base + "/healthz", timeout=10).json()
    assert (body["version"], body["commit"]) == (version, commit), body


def test_serve_refuses_a_fresh_data_directory_until_migrate_runs(fresh_stack_factory):
    stack = fresh_stack_factory()
    stack.data.mkdir(parents=True)
    # Not Stack.start_portal: that migrates a fresh data directory first, as install.sh does.
    result = subprocess.run([str(BINARY), "serve", "--socket", str(stack.socket)], env=stack.env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 78, result.stderr
    assert "does not exist; migrations pending (v1-" in result.stderr, result.stderr
    assert "run `lynx-portal migrate` (install.sh does, after a snapshot)" in result.stderr
    assert not (stack.data / "portal.db").exists(), "serve created the database"
    check = stack.cli("migrate", "--check", check=False)
    assert check.returncode == 1 and "pending: v1-" in check.stdout, check.stdout + check.stderr
    assert "applied: v1-" in stack.cli("migrate").stdout
    check = stack.cli("migrate", "--check", check=False)
    assert check.returncode == 0 and "schema current" in check.stdout, check.stdout + check.stderr
    stack.start()
    assert requests.get(stack.base + "/healthz", timeout=10).json()["status"] == "ok"


def test_pending_migrations_are_refused_by_every_command_but_migrate(fresh_stack_factory, name):
    stack = fresh_stack_factory()
    stack.migrate()
    db = stack.data / "portal.db"
    last = "v7-session-activity"
    # As the release before v7 left it: the column v7 adds absent, the migration not recorded.
    write(db, "ALTER TABLE session DROP COLUMN last_seen_at")
    write(db, "DELETE FROM grdb_migrations WHERE identifier = ?", last)
    check = stack.cli("migrate", "--check", check=False)
    assert (check.returncode, check.stdout.strip()) == (1, f"pending: {last}"), check.stdout + check.stderr
    expected = f"migrations pending ({last}): run `lynx-portal migrate` (install.sh does, after a snapshot)"
    for command in (["user", "add", name], ["quiz", "import", str(REPO / "quizzes" / "phase-0.gift")]):
        result = stack.cli(*command, check=False)
        assert result.returncode == 78 and expected in result.stderr, (command, result.stderr)
    doctor = stack.cli("doctor", check=False)
    assert doctor.returncode != 0
    assert any(line.startswith("FAIL  database:") and expected in line for line in doctor.stdout.splitlines()), \
        doctor.stdout
    assert stack.start_portal(expect_exit=True) == 78
    assert expected in stack.portal_log.read_text()
    assert last not in migrations(db), "a command other than migrate migrated"
    assert stack.cli("migrate").stdout.strip() == f"applied: {last}"
    stack.start()
    stack.learner(name)


def test_a_database_from_a_newer_portal_is_refused_and_never_touched(fresh_stack_factory, name):
    stack = fresh_stack_factory()
    stack.migrate()
    db = stack.data / "portal.db"
    write(db, "INSERT INTO grdb_migrations (identifier) VALUES (?)", FUTURE)
    snapshots = stack.data / "pre-upgrade"
    snapshots.mkdir()
    (snapshots / "portal-0.2.0-1a2b3c4d5e6f-20260101T000000Z.db").write_bytes(b"")
    before = digest(db)
    expected = re.compile(
        rf"this database was migrated by a newer lynx-portal \(unknown migrations: {FUTURE}\); run that version "
        rf"again, or restore the snapshot taken before the upgrade \(ls {re.escape(str(snapshots))}/; "
        rf"deploy/README\.md, Rolling back\); snapshots there: "
        rf"{re.escape(str(snapshots / 'portal-0.2.0-1a2b3c4d5e6f-20260101T000000Z.db'))}")
    for command in (["migrate"], ["migrate", "--check"], ["user", "add", name], ["user", "list"]):
        result = stack.cli(*command, check=False)
        assert result.returncode == 78 and expected.search(result.stderr), (command, result.stderr)
    doctor = stack.cli("doctor", check=False)
    assert doctor.returncode != 0 and expected.search(doctor.stdout), doctor.stdout
    assert stack.start_portal(expect_exit=True) == 78
    assert expected.search(stack.portal_log.read_text())
    assert digest(db) == before and FUTURE in migrations(db)


def test_the_newer_message_says_when_there_is_no_snapshot(tmp_path):
    stack = Stack(tmp_path)
    stack.migrate()
    write(stack.data / "portal.db", "INSERT INTO grdb_migrations (identifier) VALUES (?)", FUTURE)
    result = stack.cli("migrate", check=False)
    assert result.returncode == 78
    assert f"unknown migrations: {FUTURE}" in result.stderr
    assert f"no snapshot found in {stack.data / 'pre-upgrade'}" in result.stderr, result.stderr
