"""Fixtures for the fresh-VPS test: a debootstrapped Debian 12 root booted with systemd as PID 1.

The pristine root is built once (Tests/deploy/pristine-root.sh, about a minute) and cached under
$LYNX_TEST_CACHE (default /var/cache/lynx-portal-test); every guest boots a `cp -a` copy of it with
`systemd-nspawn -b`, and is always powered off and deleted afterwards, even when a test fails.
Downloaded .deb files are kept in the cache too, so later runs do not fetch them again.

The guest shares the host's network (apt needs the mirror): its Caddy listens on a free port
of the host, and its admin endpoint on another.
"""
import datetime
import importlib.util
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
HERE = pathlib.Path(__file__).resolve().parent
BUNDLE = pathlib.Path(os.environ.get("LYNX_BUNDLE", REPO / "dist" / "lynx-portal"))
CACHE = pathlib.Path(os.environ.get("LYNX_TEST_CACHE", "/var/cache/lynx-portal-test"))
FIGURES = "experiments/41-deploy/deploy-figures.md"
GUEST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# The integration suite's browser-like client (cookie jar, CSRF tokens, first-login flow).
_spec = importlib.util.spec_from_file_location("integration_support", REPO / "Tests" / "integration" / "conftest.py")
integration = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(integration)
Client = integration.Client
PASSWORD = integration.PASSWORD
csrf_token = integration.csrf_token
_records_spec = importlib.util.spec_from_file_location("records", REPO / "experiments" / "records.py")
records = importlib.util.module_from_spec(_records_spec)
_records_spec.loader.exec_module(records)
# The same rule as the integration suite: a skipped test fails the run.
pytest_runtest_logreport = integration.pytest_runtest_logreport
pytest_terminal_summary = integration.pytest_terminal_summary

# Figures measured during the run, written to experiments/41-deploy/deploy-figures.md at the end.
figures = {}


def free_port():
    """A TCP port free on every interface of the host (the guest's Caddy binds all of them)."""
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def require_root():
    if os.geteuid() != 0:
        pytest.fail("the fresh-VPS test boots a container with systemd-nspawn and needs root "
                    "(run `make deploy-test` as root or with sudo)", pytrace=False)


def pristine_root():
    """The cached pristine root, built first if missing (the cold path)."""
    started = time.monotonic()
    cold = not (CACHE / "bookworm-root" / ".pristine-complete").exists()
    result = subprocess.run([str(HERE / "pristine-root.sh"), str(CACHE)], capture_output=True, text=True,
                            timeout=1800)
    assert result.returncode == 0, f"pristine-root.sh failed: {result.stderr}"
    if cold:
        figures["debootstrap of the pristine root (cold cache)"] = f"{time.monotonic() - started:.0f} s"
    return pathlib.Path(result.stdout.strip().splitlines()[-1])


class Guest:
    """A booted copy of the pristine root. `run` executes a shell command inside it as root."""

    def __init__(self, name):
        self.name = name
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix=f"lynx-portal-{name}-", dir="/var/tmp"))
        self.root = self.dir / "root"
        self.console = self.dir / "console.log"
        self.nspawn = None
        self.pid1 = None
        self.binds = []  # extra systemd-nspawn --bind/--bind-ro options, e.g. a release bundle

    def copy_pristine(self):
        started = time.monotonic()
        subprocess.run(["cp", "-a", str(pristine_root()), str(self.root)], check=True)
        figures[f"copy of the pristine root ({self.name})"] = f"{time.monotonic() - started:.1f} s"

    def apt_cache_binds(self):
        archives = CACHE / "apt-archives"
        (archives / "partial").mkdir(parents=True, exist_ok=True)
        return [f"--bind={archives}:/var/cache/apt/archives"]

    def boot(self):
        started = time.monotonic()
        env = dict(os.environ, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY="1")
        log = open(self.console, "wb")
        self.nspawn = subprocess.Popen(
            ["systemd-nspawn", "-D", str(self.root), "-b", "--register=no", "--keep-unit",
             f"--bind-ro={REPO}:/srv/src", *self.apt_cache_binds(), *self.binds, "--console=read-only"],
            env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while self.pid1 is None:
            if self.nspawn.poll() is not None:
                raise RuntimeError(f"systemd-nspawn exited {self.nspawn.returncode}: {self.console_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"no systemd in the guest after 60 s: {self.console_tail()}")
            self.pid1 = self.find_pid1()
            time.sleep(0.05)
        # Until systemd's own socket exists, systemctl cannot even ask: poll, then wait for the boot.
        state = ""
        while state not in ("running", "degraded"):
            result = self.run("systemctl is-system-running --wait", check=False, timeout=120)
            state = result.stdout.strip()
            if time.monotonic() > deadline:
                raise RuntimeError(f"guest did not boot: {state} {result.stderr}; {self.console_tail()}")
            if state not in ("running", "degraded"):
                time.sleep(0.1)
        figures[f"boot to {state} ({self.name})"] = f"{time.monotonic() - started:.1f} s"

    def find_pid1(self):
        """The guest's PID 1: a descendant of systemd-nspawn that is pid 1 in its own namespace."""
        for entry in pathlib.Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
            nspid = fields.get("NSpid", "").split()
            if len(nspid) == 2 and nspid[1] == "1" and self.descends_from_nspawn(int(entry.name)):
                return int(entry.name)
        return None

    def descends_from_nspawn(self, pid):
        while pid > 1:
            if pid == self.nspawn.pid:
                return True
            try:
                stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                return False
            pid = int(stat.rsplit(")", 1)[1].split()[1])
        return False

    def command(self, shell_command):
        return ["nsenter", "-t", str(self.pid1), "-m", "-u", "-i", "-n", "-p", "-C", "--",
                "/usr/bin/env", "-i", f"PATH={GUEST_PATH}", "HOME=/root", "LANG=C.UTF-8", "TERM=dumb",
                "bash", "-c", f"cd / && {shell_command}"]

    def run(self, shell_command, check=True, timeout=300):
        result = subprocess.run(self.command(shell_command), capture_output=True, text=True, timeout=timeout,
                                stdin=subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise AssertionError(f"in the guest: `{shell_command}` exited {result.returncode}\n"
                                 f"stdout: {result.stdout[-3000:]}\nstderr: {result.stderr[-3000:]}")
        return result

    def console_tail(self):
        try:
            return self.console.read_text(errors="replace")[-2000:]
        except OSError:
            return "(no console log)"

    def save_diagnostics(self):
        """On failure: the guest's journal for the portal and Caddy, for whoever reads the CI log."""
        if self.pid1 is None or self.nspawn.poll() is not None:
            return
        result = self.run("journalctl --no-pager -n 200 -u lynx-portal.service -u lynx-portal.socket -u caddy.service",
                          check=False, timeout=30)
        print(f"\n--- guest {self.name}: journal (last 200 lines) ---\n{result.stdout}", file=sys.__stderr__)

    def poweroff(self):
        if self.nspawn is None:
            return
        if self.nspawn.poll() is None and self.pid1 is not None:
            subprocess.run(self.command("systemctl poweroff"), capture_output=True, timeout=30,
                           stdin=subprocess.DEVNULL)
        try:
            self.nspawn.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.nspawn.send_signal(signal.SIGTERM)  # nspawn then asks the guest to power off
            try:
                self.nspawn.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.nspawn.pid, signal.SIGKILL)
                self.nspawn.wait(timeout=15)

    def remove(self):
        # The guest's bind mounts lived in its own mount namespace, gone with it; stay on this
        # filesystem anyway, so nothing mounted below the copy could ever be touched.
        subprocess.run(["rm", "-rf", "--one-file-system", str(self.dir)], check=False)


def apt_cache_patient(guest, shell_command, timeout=900):
    """Runs an install in the guest; when another guest (another test run on this machine) holds
    the shared apt archive cache's lock, waits for it and runs again, which fails at that lock
    before changing anything."""
    deadline = time.monotonic() + timeout
    while True:
        result = guest.run(shell_command, check=False, timeout=timeout)
        busy = "Could not get lock /var/cache/apt/archives/lock" in result.stdout + result.stderr
        if not busy or time.monotonic() > deadline:
            return result
        time.sleep(5)


def boot_guest(request, name, binds=()):
    """Yields a booted fresh Debian 12 guest with extra nspawn binds (e.g. a release bundle at
    /srv/current); always powered off and removed, its journal printed first if a test failed."""
    require_root()
    assert (BUNDLE / "bin" / "lynx-portal").exists(), f"no release bundle at {BUNDLE}: run `make release`"
    guest = Guest(name)
    guest.binds = list(binds)
    try:
        guest.copy_pristine()
        guest.boot()
        yield guest
    finally:
        try:
            if request.session.testsfailed:
                guest.save_diagnostics()
        finally:
            guest.poweroff()
            guest.remove()


@pytest.fixture(scope="module")
def booted_guest(request):
    """A booted fresh Debian 12 guest for one test module."""
    yield from boot_guest(request, request.module.__name__.replace("test_", ""))


def pytest_sessionfinish(session, exitstatus):
    integration.pytest_sessionfinish(session, exitstatus)  # a skipped test fails the run
    if not figures or os.environ.get("LYNX_DEPLOY_FIGURES", "1") == "0":
        return
    lines = [
        "# Deploy figures: hardening score, restarts, install timings",
        "",
        "Generated by the fresh-VPS test (`Tests/deploy/`), which boots a debootstrapped Debian 12 root",
        "with systemd as PID 1 in `systemd-nspawn` and runs `deploy/install.sh` in it twice.",
        "",
        "Command: `make record-deploy-figures` (the same tests as `make deploy-test`, which writes "
        "this file under .records/ instead), as root.",
        "",
        f"Run: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} "
        f"at commit `{records.stamp()}`, "
        f"outcome: {'passed' if exitstatus == 0 else 'FAILED (exit status %s)' % exitstatus}, "
        f"host: {os.uname().nodename.split('.')[0]} ({os.cpu_count()} CPUs).",
        "",
    ]
    sections = [
        ("Hardening: exposure score (lower is better; the target is 1.0 or less)", ("systemd-analyze",)),
        ("Restarts under a steady request loop through Caddy", ("restart", "kill -9", "first request")),
        ("Install and test timings", ("",)),
    ]
    shown = set()
    for title, needles in sections:
        rows = [(k, v) for k, v in figures.items() if k not in shown and any(n in k for n in needles)]
        if not rows:
            continue
        lines += [f"## {title}", "", "| measurement | value |", "| --- | --- |"]
        for key, value in rows:
            lines.append(f"| {key} | {value} |")
            shown.add(key)
        lines.append("")
    records.path(FIGURES).write_text("\n".join(lines).rstrip() + "\n")
