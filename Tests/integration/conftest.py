"""Fixtures for integration tests: the real lynx-portal binary behind real Caddy over FastCGI.

Each `Stack` gets a temp data dir, its own unix socket and a free loopback port, runs Caddy
with the repository's deploy/Caddyfile (values from environment placeholders), and always
stops both processes, even when a test fails.
"""
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import requests

REPO = pathlib.Path(__file__).resolve().parents[2]
BINARY = pathlib.Path(os.environ.get("LYNX_PORTAL_BIN", REPO / ".build" / "debug" / "lynx-portal"))
PASSWORD = "quiet lantern moss over the harbour 42"
# The session cookie's name with Secure cookies, then without (development over plain HTTP).
SESSION_COOKIES = ("__Host-lynx_session", "lynx_session")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def random_secret():
    return os.urandom(36).hex()


class Stack:
    """A running Caddy + portal pair on a temp data dir."""

    def __init__(self, tmp, templates=None, env=None, faketime=None, cookie_secure=False, workers=4):
        self.tmp = pathlib.Path(tmp)
        self.data = self.tmp / "data"
        self.socket = self.tmp / "portal.sock"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.templates = pathlib.Path(templates or REPO / "templates")
        self.env = dict(os.environ)
        self.env.update({
            "LYNX_PEPPER": random_secret(),
            "LYNX_SESSION_SECRET": random_secret(),
            "LYNX_DATA_DIR": str(self.data),
            "LYNX_TEMPLATES_DIR": str(self.templates),
            "LYNX_COOKIE_SECURE": "true" if cookie_secure else "false",
        })
        self.env.update(env or {})
        self.faketime = faketime
        self.workers = workers
        self.portal = None
        self.caddy = None
        self.portal_log = self.tmp / "portal.log"
        self.caddy_log = self.tmp / "caddy.log"

    # processes

    def start(self):
        self.start_portal()
        self.start_caddy()
        self.wait_healthy()
        return self

    def portal_command(self):
        command = [str(BINARY), "serve", "--socket", str(self.socket), "--workers", str(self.workers)]
        if self.faketime:
            command = ["faketime", "-f", self.faketime] + command
        return command

    def portal_pid(self):
        """The portal's own pid: under `faketime` the wrapper forks it as a child, and signals
        must reach the portal, not the wrapper."""
        if not self.faketime:
            return self.portal.pid
        deadline = time.time() + 10
        while time.time() < deadline:
            children = pathlib.Path(f"/proc/{self.portal.pid}/task/{self.portal.pid}/children")
            if children.exists() and children.read_text().split():
                return int(children.read_text().split()[0])
            time.sleep(0.02)
        raise RuntimeError("faketime did not start the portal")

    def signal(self, number):
        os.kill(self.portal_pid(), number)

    def migrate(self):
        """`lynx-portal migrate`, the only command that creates or upgrades the schema: `serve`
        refuses a database that is not current, as on a server (install.sh migrates)."""
        return self.cli("migrate")

    def start_portal(self, expect_exit=False):
        if not (self.data / "portal.db").exists():
            self.migrate()
        log = open(self.portal_log, "ab")
        if self.socket.exists():
            self.socket.unlink()
        self.portal = subprocess.Popen(self.portal_command(), env=self.env, stdout=log, stderr=log)
        if expect_exit:
            return self.portal.wait(timeout=30)
        deadline = time.time() + 30
        while not self.socket.exists():
            if self.portal.poll() is not None:
                raise RuntimeError(f"portal exited {self.portal.returncode}: {self.portal_log.read_text()}")
            if time.time() > deadline:
                raise RuntimeError("portal socket did not appear")
            time.sleep(0.05)

    def restart_portal(self, faketime=None):
        self.stop_portal()
        self.faketime = faketime
        self.start_portal()
        self.wait_healthy()

    def start_caddy(self):
        env = dict(self.env)
        env.update({
            "LYNX_SITE": f"http://127.0.0.1:{self.port}",
            "LYNX_CADDY_ADMIN": "off",
            "LYNX_ACCESS_LOG": str(self.tmp / "access.log"),
            "LYNX_ROOT": str(REPO),
            "LYNX_SOCKET": str(self.socket),
            "XDG_DATA_HOME": str(self.tmp / "caddy-data"),
            "XDG_CONFIG_HOME": str(self.tmp / "caddy-config"),
        })
        log = open(self.caddy_log, "ab")
        self.caddy = subprocess.Popen(
            ["caddy", "run", "--config", str(REPO / "deploy" / "Caddyfile"), "--adapter", "caddyfile"],
            env=env, stdout=log, stderr=log)

    def wait_healthy(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if requests.get(self.base + "/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"stack not healthy; portal log: {self.portal_log.read_text()}; "
                           f"caddy log: {self.caddy_log.read_text()[-2000:]}")

    def stop_portal(self):
        if self.portal and self.portal.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.portal.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.portal.kill()
                self.portal.wait()

    def stop(self):
        self.stop_portal()
        if self.caddy and self.caddy.poll() is None:
            self.caddy.terminate()
            try:
                self.caddy.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.caddy.kill()
                self.caddy.wait()

    # operator CLI

    def cli(self, *args, check=True, faketime=None):
        command = [str(BINARY), *args]
        if faketime:
            command = ["faketime", "-f", faketime] + command
        result = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=60)
        if check and result.returncode != 0:
            raise RuntimeError(f"{args} failed: {result.stderr}")
        return result

    def add_user(self, name, tz="UTC", faketime=None):
        out = self.cli("user", "add", name, "--tz", tz, faketime=faketime).stdout
        match = re.search(r"^setup code: (\S+)$", out, re.M)
        assert match, out
        return match.group(1)

    def audit_lines(self):
        lines = []
        for path in sorted((self.data / "audit").glob("*.log")):
            lines += path.read_text().splitlines()
        return lines

    def db(self):
        import sqlite3
        return sqlite3.connect(f"file:{self.data / 'portal.db'}?mode=ro", uri=True)

    # browser-like client

    def client(self):
        return Client(self.base)

    def learner(self, name, tz="UTC", password=PASSWORD):
        """A client logged in as a new learner who has set a password."""
        code = self.add_user(name, tz)
        client = self.client()
        response = client.first_login(name, code, password)
        assert response.status_code == 200 and client.session_cookie(), response.text
        return client


class Client:
    """A cookie-jar HTTP client that fills in CSRF tokens like a browser submitting forms."""

    def __init__(self, base):
        self.base = base
        self.http = requests.Session()

    def get(self, path, **kw):
        kw.setdefault("allow_redirects", True)
        return self.http.get(self.base + path, timeout=30, **kw)

    def post(self, path, data=None, **kw):
        kw.setdefault("allow_redirects", False)
        return self.http.post(self.base + path, data=data, timeout=30, **kw)

    def csrf_from(self, path):
        page = self.get(path)
        return csrf_token(page.text)

    def submit(self, form_page, action, fields, **kw):
        """GET `form_page`, then POST `fields` plus its CSRF token to `action`."""
        data = dict(fields)
        data["csrf"] = self.csrf_from(form_page)
        return self.post(action, data, **kw)

    def session_cookie(self):
        """The session token, under either name: `__Host-lynx_session` when cookies are Secure
        (LYNX_COOKIE_SECURE, the default), `lynx_session` on plain HTTP."""
        for name in SESSION_COOKIES:
            value = self.http.cookies.get(name)
            if value:
                return value
        return None

    def first_login(self, name, code, password=PASSWORD):
        step = self.submit("/login", "/login", {"username": name, "password": ""})
        assert step.status_code == 303, step.text
        assert step.headers["Location"].startswith("/set-password"), step.headers
        return self.submit(step.headers["Location"], "/set-password",
                           {"username": name, "code": code, "password": password, "confirm": password},
                           allow_redirects=True)

    def login(self, name, password=PASSWORD, **kw):
        return self.submit("/login", "/login", {"username": name, "password": password}, **kw)

    def logout(self):
        return self.submit("/", "/logout", {})


def csrf_token(html):
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF token in page"
    return match.group(1)


@pytest.fixture(scope="module")
def stack():
    tmp = tempfile.mkdtemp(prefix="lynx-it-")
    running = Stack(tmp)
    try:
        running.start()
        yield running
    finally:
        running.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def fresh_stack_factory():
    """Makes stacks with custom settings; every one is stopped after the test."""
    made = []

    def make(**kw):
        tmp = tempfile.mkdtemp(prefix="lynx-it-")
        running = Stack(tmp, **kw)
        made.append(running)
        return running

    yield make
    for running in made:
        running.stop()
        shutil.rmtree(running.tmp, ignore_errors=True)


_counter = [0]


@pytest.fixture
def name():
    """A fresh username for each test."""
    _counter[0] += 1
    return f"learner{os.getpid() % 1000}x{_counter[0]}"


# A skipped test is a failure here: CI counts a skip as a check that did not run.
_skipped = []


def pytest_runtest_logreport(report):
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    if _skipped and session.exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter):
    if _skipped:
        terminalreporter.write_line(f"FAILED: {len(_skipped)} test(s) skipped, which make test counts as failures:",
                                    red=True)
        for nodeid in _skipped:
            terminalreporter.write_line(f"  {nodeid}")
