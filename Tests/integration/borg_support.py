"""Test support for the backup scripts (deploy/backup/): a loopback SSH backup host, a real
encrypted borg repository, replaceable service control for the portal, and the DR drill.

Everything starts real processes on this machine only (127.0.0.1) and is stopped by the
`BackupRig` context manager, even when a test fails. Used by test_backup.py and by
experiments/41-deploy/dr-drill.py, which writes the drill log.
"""
import contextlib
import getpass
import json
import os
import pathlib
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time

import requests

from conftest import BINARY, PASSWORD, REPO, Stack, free_port

BACKUP_DIR = REPO / "deploy" / "backup"
BACKUP = BACKUP_DIR / "borg-backup.sh"
RESTORE = BACKUP_DIR / "borg-restore.sh"
VERIFY = BACKUP_DIR / "borg-verify.sh"
QUIZ = REPO / "quizzes" / "phase-0.gift"
SSHD = "/usr/sbin/sshd"


def run(command, check=True, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 300)
    result = subprocess.run([str(part) for part in command], **kw)
    if check and result.returncode != 0:
        raise RuntimeError(f"{command} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


class SSHBackupHost:
    """A loopback sshd with its own host key and port, standing in for the off-site backup host.

    The client key may only run `borg serve --append-only --restrict-to-path REPO`, exactly as
    deploy/README.md tells the operator to set it up on the real backup host."""

    def __init__(self, tmp):
        self.dir = pathlib.Path(tmp) / "ssh"
        self.dir.mkdir(mode=0o700)
        self.repo = pathlib.Path(tmp) / "backup-host" / "lynx-portal.borg"
        self.repo.parent.mkdir()
        self.port = free_port()
        self.user = getpass.getuser()
        self.process = None
        self.log = self.dir / "sshd.log"

    def start(self):
        for key in ("host_key", "client_key"):
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"lynx-test-{key}", "-f", self.dir / key])
        client_public = (self.dir / "client_key.pub").read_text().strip()
        (self.dir / "authorized_keys").write_text(
            f'command="borg serve --append-only --restrict-to-path {self.repo}",restrict {client_public}\n')
        host_public = (self.dir / "host_key.pub").read_text().split()
        (self.dir / "known_hosts").write_text(f"[127.0.0.1]:{self.port} {host_public[0]} {host_public[1]}\n")
        (self.dir / "sshd_config").write_text("\n".join([
            f"Port {self.port}",
            "ListenAddress 127.0.0.1",
            f"HostKey {self.dir / 'host_key'}",
            f"PidFile {self.dir / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.dir / 'authorized_keys'}",
            f"AllowUsers {self.user}",
            "StrictModes no",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "PermitRootLogin forced-commands-only",
            "LogLevel VERBOSE",
            "",
        ]))
        if os.geteuid() == 0:
            # sshd's privilege-separation directory (Debian's tmpfiles creates it under systemd).
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        run([SSHD, "-t", "-f", self.dir / "sshd_config"])
        log = open(self.log, "ab")
        self.process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.dir / "sshd_config")],
                                        stdout=log, stderr=log)
        deadline = time.time() + 15
        while True:
            try:
                with socket_to(self.port):
                    break
            except OSError:
                if self.process.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"sshd did not start: {self.log.read_text()}")
                time.sleep(0.05)
        return self

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    @property
    def url(self):
        return f"ssh://{self.user}@127.0.0.1:{self.port}{self.repo}"

    @property
    def rsh(self):
        return (f"ssh -F /dev/null -i {self.dir / 'client_key'} -o IdentitiesOnly=yes -o BatchMode=yes "
                f"-o UserKnownHostsFile={self.dir / 'known_hosts'} -o GlobalKnownHostsFile=/dev/null "
                f"-o StrictHostKeyChecking=yes -o ConnectTimeout=10")


def socket_to(port):
    return socket.create_connection(("127.0.0.1", port), timeout=1)


class BackupRig:
    """A running Caddy + portal stack, a borg repository (over SSH or local) and the environment
    the deploy/backup scripts need, with the portal under a replaceable service control.

    LYNX_SERVICE_CTL names a small script that stops the portal by the pid in a file and starts
    it again detached with the stack's command and environment, as systemctl would."""

    def __init__(self, over_ssh=True, passphrase=None, stack_env=None, prepare_data=None):
        self.prepare_data = prepare_data
        self.tmp = pathlib.Path(tempfile.mkdtemp(prefix="lynx-backup-"))
        self.over_ssh = over_ssh
        self.passphrase = passphrase or os.urandom(24).hex()
        self.stack = Stack(self.tmp / "stack", env=stack_env)
        self.stack.tmp.mkdir()
        self.host = None
        self.logs = self.tmp / "log"
        self.pid_file = self.tmp / "portal.pid"
        self.borg_env_file = self.tmp / "borg.env"
        self.borg_base = self.tmp / "borg-base"

    # lifecycle

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self):
        if self.over_ssh:
            self.host = SSHBackupHost(self.tmp).start()
            self.repo_url = self.host.url
        else:
            self.repo_url = str(self.tmp / "local-repo.borg")
        self.write_borg_env()
        self.write_service_ctl()
        if self.prepare_data:
            self.prepare_data(self.stack)
        self.stack.start()
        self.pid_file.write_text(f"{self.stack.portal.pid}\n")
        run(["borg", "init", "--encryption=repokey-blake2", self.repo_url], env=self.borg_environment())

    def close(self):
        with contextlib.suppress(Exception):
            self.stop_detached_portal()
        with contextlib.suppress(Exception):
            self.stack.stop()
        if self.host:
            with contextlib.suppress(Exception):
                self.host.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def stop_detached_portal(self):
        """The portal the service-control script started (not the stack's own child)."""
        if not self.pid_file.exists():
            return
        pid = int(self.pid_file.read_text().strip() or 0)
        if pid and pid != (self.stack.portal.pid if self.stack.portal else None) and alive(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.time() + 15
            while alive(pid) and time.time() < deadline:
                time.sleep(0.05)
            if alive(pid):
                os.kill(pid, signal.SIGKILL)

    # configuration

    def borg_environment(self, **extra):
        env = dict(os.environ)
        env.update({"BORG_REPO": self.repo_url, "BORG_PASSPHRASE": self.passphrase,
                    "BORG_BASE_DIR": str(self.borg_base)})
        if self.host:
            env["BORG_RSH"] = self.host.rsh
        env.update(extra)
        return env

    def write_borg_env(self, path=None, **override):
        values = {"BORG_REPO": self.repo_url, "BORG_PASSPHRASE": self.passphrase}
        if self.host:
            values["BORG_RSH"] = self.host.rsh
        values.update(override)
        path = pathlib.Path(path or self.borg_env_file)
        path.write_text("# test borg.env\n" + "".join(f"{key}={value}\n" for key, value in values.items()))
        path.chmod(0o600)
        return path

    def write_service_ctl(self):
        env_file = self.tmp / "portal-service.env"
        keys = ["LYNX_PEPPER", "LYNX_SESSION_SECRET", "LYNX_DATA_DIR", "LYNX_TEMPLATES_DIR", "LYNX_COOKIE_SECURE"]
        env_file.write_text("".join(f"{key}='{self.stack.env[key]}'\n" for key in keys))
        env_file.chmod(0o600)
        command = " ".join(f"'{part}'" for part in self.stack.portal_command())
        self.service_ctl = self.tmp / "service-ctl.sh"
        self.service_ctl.write_text(f"""#!/usr/bin/env bash
# Test stand-in for `systemctl stop|start lynx-portal.socket lynx-portal.service`.
set -euo pipefail
alive() {{ [ -r "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat")" != Z ]; }}
case "${{1:-}}" in
    stop)
        pid=$(cat '{self.pid_file}')
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 300); do alive "$pid" || exit 0; sleep 0.05; done
        echo "service-ctl: portal $pid did not stop" >&2; exit 1 ;;
    start)
        rm -f '{self.stack.socket}'
        set -a; . '{env_file}'; set +a
        setsid {command} >>'{self.stack.portal_log}' 2>&1 </dev/null &
        echo $! >'{self.pid_file}'
        for _ in $(seq 600); do [ -S '{self.stack.socket}' ] && exit 0; sleep 0.05; done
        echo "service-ctl: portal socket did not appear" >&2; exit 1 ;;
    *) echo "usage: $0 stop|start" >&2; exit 2 ;;
esac
""")
        self.service_ctl.chmod(0o755)

    def script_env(self, **extra):
        env = dict(os.environ)
        for key in ("BORG_REPO", "BORG_PASSPHRASE", "BORG_PASSCOMMAND", "BORG_RSH"):
            env.pop(key, None)
        env.update({
            "LYNX_DATA_DIR": str(self.stack.data),
            "LYNX_LOG_DIR": str(self.logs),
            "LYNX_PORTAL_BIN": str(BINARY),
            "LYNX_PORTAL_USER": "",
            "LYNX_BORG_ENV": str(self.borg_env_file),
            "LYNX_SERVICE_CTL": str(self.service_ctl),
            "LYNX_HEALTH_URL": self.stack.base + "/healthz",
            "LYNX_BACKUP_LOCK": str(self.tmp / "backup.lock"),
            "LYNX_BACKUP_STATE_DIR": str(self.tmp / "backup-state"),
            "BORG_BASE_DIR": str(self.borg_base),
            "TMPDIR": str(self.tmp),
        })
        env.update({key: str(value) for key, value in extra.items()})
        return env

    # the scripts

    def backup(self, *args, check=True, **env):
        return run([BACKUP, *args], check=check, env=self.script_env(**env))

    def frequent(self, *args, check=True, **env):
        """One frequent snapshot (`lynx-backup --frequent`)."""
        return run([BACKUP, "--frequent", *args], check=check, env=self.script_env(**env))

    def restore(self, *args, check=True, **env):
        return run([RESTORE, *args], check=check, env=self.script_env(**env))

    def verify(self, *args, check=True, **env):
        return run([VERIFY, *args], check=check, env=self.script_env(**env))

    def borg(self, *args, check=True, cwd=None):
        return run(["borg", *args], check=check, env=self.borg_environment(), cwd=cwd)

    def log_lines(self):
        path = self.logs / "backup.log"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def archives(self):
        return self.borg("list", "--short", "--sort-by", "timestamp").stdout.split()

    def service(self, action):
        """stop|start the portal through the same command the restore script uses."""
        run([self.service_ctl, action])

    def portal_pid(self):
        return int(self.pid_file.read_text().strip())

    def seed_class(self, learners=3, entries=2):
        """Through HTTP: learners set passwords, keep journal entries and take the phase-0 quiz
        with one wrong answer (so a review card exists). Returns the usernames."""
        from test_learning import answer_quiz
        self.stack.cli("quiz", "import", str(QUIZ))
        names = []
        for index in range(learners):
            name = f"drill{index + 1}"
            client = self.stack.learner(name)
            for number in range(entries):
                created = client.submit("/journal/new", "/journal/new",
                                        {"title": f"{name} entry {number + 1}",
                                         "body": f"What {name} learned, part {number + 1}.\nSecond line."})
                assert created.status_code == 303, created.text
            result, missed = answer_quiz(self.stack, client, wrong_questions=1)
            assert result.status_code == 200 and missed, result.text
            names.append(name)
        return names

    def health(self):
        try:
            response = requests.get(self.stack.base + "/healthz", timeout=2)
            return response.status_code, response.json()
        except (requests.RequestException, ValueError):
            return None, None


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except OSError:
        return False


def dump(path):
    """Every row of every table, in rowid order: the DR drill's before/after comparison."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [row[0] for row in db.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return {table: db.execute(f'SELECT * FROM "{table}" ORDER BY rowid').fetchall() for table in tables}
    finally:
        db.close()


def wait_green(base, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with contextlib.suppress(requests.RequestException, ValueError):
            response = requests.get(base + "/healthz", timeout=2)
            if response.status_code == 200 and response.json().get("database") == "ok":
                return response.json()
        time.sleep(0.02)
    raise AssertionError(f"{base}/healthz not green after {timeout} s")


def run_drill(rig, learners=3, entries=2):
    """The disaster-recovery drill, end to end: seed through HTTP, back up over SSH, delete
    portal.db*, restore --latest, then compare. Returns what happened, with timings."""
    record = {"phases": []}

    def phase(name, started):
        record["phases"].append((name, time.perf_counter() - started))

    started = time.perf_counter()
    record["learners"] = rig.seed_class(learners, entries)
    phase("seed through HTTP (learners, journal entries, quiz attempts)", started)

    db = rig.stack.data / "portal.db"
    before = dump(db)
    record["rows_before"] = {table: len(rows) for table, rows in before.items()}

    started = time.perf_counter()
    backup = rig.backup()
    phase("lynx-backup (snapshot, manifest, borg create over SSH, prune, compact, verify)", started)
    record["backup_output"] = backup.stderr
    lines = rig.log_lines()
    record["backup_log"] = next(line for line in reversed(lines) if line["job"] == "backup")
    record["verify_log"] = next(line for line in reversed(lines) if line["job"] == "verify")
    record["archive"] = record["backup_log"]["archive"]

    deleted = time.perf_counter()
    for path in rig.stack.data.glob("portal.db*"):
        path.unlink()
    record["deleted_files"] = "portal.db*"
    status, body = rig.health()
    record["health_after_delete"] = (status, body)

    started = time.perf_counter()
    restore = rig.restore("--latest")
    phase("lynx-restore --latest (extract, verify, stop, install, start, /healthz green)", started)
    record["restore_output"] = restore.stderr + restore.stdout
    green = wait_green(rig.stack.base)
    record["recovery_seconds"] = time.perf_counter() - deleted
    record["health_after_restore"] = green

    after = dump(db)
    record["rows_after"] = {table: len(rows) for table, rows in after.items()}
    # The restore ends every session on purpose; every other row must be back as it was.
    record["sessions_after"] = len(after.get("session", []))
    record["dump_equal"] = ({t: rows for t, rows in before.items() if t != "session"}
                            == {t: rows for t, rows in after.items() if t != "session"})

    started = time.perf_counter()
    logins = {}
    for name in record["learners"]:
        client = rig.stack.client()
        response = client.login(name, PASSWORD, allow_redirects=True)
        journal = client.get("/journal")
        logins[name] = (response.status_code == 200 and client.session_cookie() is not None
                        and f"{name} entry 1" in journal.text)
    record["logins"] = logins
    phase("learners log in and see their journals", started)
    record["restore_log"] = next(line for line in reversed(rig.log_lines()) if line["job"] == "restore")
    return record


def run_frequent_drill(rig, interval, destroy_after, learners=2):
    """The recovery-point drill: a write load (journal entries through HTTP), `lynx-backup
    --frequent` started every `interval` seconds (standing in for cron, whose every-minute call
    and due check are tested on their own), the database destroyed `destroy_after` seconds in,
    then `lynx-restore --latest`. Returns what happened, with monotonic times."""
    import threading

    record = {"interval": interval, "runs": [], "acknowledged": [], "write_errors": []}
    names = rig.seed_class(learners, 1)
    client = rig.stack.client()
    client.login(names[0])
    csrf = client.csrf_from("/journal/new")
    stop_writing, stop_scheduling = threading.Event(), threading.Event()

    def write_loop():
        for number in range(100000):  # bounded: stops by itself
            if stop_writing.is_set():
                return
            try:
                response = client.post("/journal/new", {"csrf": csrf, "title": f"load {number}", "body": "y" * 300})
            except requests.RequestException as error:
                record["write_errors"].append(repr(error))
                continue
            if response.status_code == 303:
                record["acknowledged"].append((int(response.headers["Location"].rsplit("/", 1)[1]), time.monotonic()))
            else:
                record["write_errors"].append(response.status_code)
            time.sleep(0.02)  # a class's steady pace, under the per-learner limits on journal entries

    def schedule():
        start = time.monotonic()
        for tick in range(10000):  # bounded
            due = start + tick * interval
            while time.monotonic() < due:
                if stop_scheduling.is_set():
                    return
                time.sleep(0.01)
            if stop_scheduling.is_set():
                return
            begun = time.monotonic()
            result = rig.frequent(check=False)
            line = next((line for line in reversed(rig.log_lines()) if line["job"] == "frequent"), {})
            record["runs"].append({"start": begun, "end": time.monotonic(), "exit": result.returncode,
                                   "outcome": line.get("outcome"), "archive": line.get("archive"),
                                   "stderr": result.stderr[-500:]})

    writer, scheduler = threading.Thread(target=write_loop), threading.Thread(target=schedule)
    writer.start()
    scheduler.start()
    try:
        time.sleep(destroy_after)
        # The disaster: the portal stops acknowledging (the writer stops), the files go.
        stop_writing.set()
        writer.join(timeout=60)
        record["destroyed"] = time.monotonic()
        for path in rig.stack.data.glob("portal.db*"):
            path.unlink()
    finally:
        stop_writing.set()
        stop_scheduling.set()
        writer.join(timeout=60)
        scheduler.join(timeout=300)
    record["health_after_destroy"] = rig.health()[0]
    restore = rig.restore("--latest")
    record["restore_output"] = restore.stderr + restore.stdout
    record["restored_archive"] = next(line for line in reversed(rig.log_lines()) if line["job"] == "restore")["archive"]
    wait_green(rig.stack.base)
    db = sqlite3.connect(f"file:{rig.stack.data / 'portal.db'}?mode=ro", uri=True)
    try:
        record["present"] = {row[0] for row in db.execute("SELECT id FROM journal_entry")}
    finally:
        db.close()
    return record
