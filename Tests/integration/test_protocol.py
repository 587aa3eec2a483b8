"""Requests, limits, headers, database settings, audit log, signals and templates."""
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import sqlite3
import time

import requests

from conftest import PASSWORD, REPO

import reliability


def raw_request(stack, data, read_timeout=15):
    """Sends raw bytes to Caddy and returns the raw response."""
    data = data.replace(b"Host: a\r\n", f"Host: 127.0.0.1:{stack.port}\r\n".encode())
    with socket.create_connection(("127.0.0.1", stack.port), timeout=read_timeout) as s:
        s.sendall(data)
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def status_of(raw):
    return int(raw.split(b" ", 2)[1])


def test_healthz_reports_status_database_and_version(stack):
    response = requests.get(stack.base + "/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["version"]


def test_unknown_route_is_a_404_page(stack):
    response = requests.get(stack.base + "/no/such/page")
    assert response.status_code == 404
    assert "Page not found" in response.text and "<!DOCTYPE html>" in response.text


def test_wrong_method_is_a_405_with_allow(stack):
    response = requests.delete(stack.base + "/login")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "POST"}
    assert requests.get(stack.base + "/logout").headers["Allow"] == "POST"


def test_oversized_body_is_a_413(stack):
    big = "username=" + "a" * (70 * 1024)
    response = requests.post(stack.base + "/login", data=big,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413


def test_body_just_over_the_portal_limit_is_a_413_from_the_portal(stack):
    # Without Content-Length (chunked), Caddy streams it and the portal counts the bytes.
    def chunks():
        yield b"username=" + b"b" * (65 * 1024)
    response = requests.post(stack.base + "/login", data=chunks(),
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413


def test_malformed_form_encoding_is_a_400(stack):
    client = stack.client()
    token = client.csrf_from("/login")
    for body in (f"csrf={token}&username=%zz", f"csrf={token}&username=%", f"csrf={token}&username=%ff%fe"):
        response = client.post("/login", body, headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert response.status_code == 400, body


def test_raw_non_utf8_body_is_a_400(stack):
    client = stack.client()
    token = client.csrf_from("/login")
    body = f"csrf={token}&username=".encode() + b"\xff\xfe\xc3\x28"
    response = client.post("/login", body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400


def test_bad_path_and_query_encoding_are_400(stack):
    assert status_of(raw_request(stack, b"GET /login?x=%zz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")) == 400
    assert status_of(raw_request(stack, b"GET /%c3%28 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")) == 400


def test_garbage_requests_leave_the_portal_serving(stack):
    cases = [
        (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 404),
        (b"GET /login HTTP/1.1\r\nHost: a\r\nX-Long: " + b"x" * 8000 + b"\r\nConnection: close\r\n\r\n", 200),
        (b"GET /login%00 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 400),
        (b"GET /login?username=%00x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 400),
        (b"GET /login HTTP/1.1\r\nHost: a\r\nCookie: lynx_session=\xff\xfe\r\nConnection: close\r\n\r\n", 400),
    ]
    for payload, expected in cases:
        assert status_of(raw_request(stack, payload)) == expected, payload[:60]
    assert requests.get(stack.base + "/healthz").status_code == 200


def test_every_page_has_security_headers(stack, name):
    client = stack.learner(name)
    for path in ("/login", "/set-password", "/nope"):
        response = requests.get(stack.base + path)
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp and "unsafe-inline" not in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "Strict-Transport-Security" in response.headers
        assert "Status" not in response.headers
    home = client.get("/")
    assert home.headers["Cache-Control"] == "no-store"
    assert "Content-Security-Policy" in home.headers
    assert "<script" not in home.text


def test_static_files_come_from_caddy_with_cache_headers(stack):
    response = requests.get(stack.base + "/static/portal.css")
    assert response.status_code == 200 and "text/css" in response.headers["Content-Type"]
    assert "max-age" in response.headers["Cache-Control"]
    assert "X-Request-Id" not in response.headers  # never reached the portal


def test_live_database_uses_the_designed_pragmas(stack, name):
    stack.learner(name)
    db = sqlite3.connect(stack.data / "portal.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    report = stack.cli("doctor", check=False).stdout
    line = next(l for l in report.splitlines() if l.startswith("ok    database"))
    for expected in ("WAL", "synchronous NORMAL", "foreign keys on", "busy_timeout 5000 ms"):
        assert expected in line, line


def test_audit_log_records_events_and_never_secrets(stack, name):
    code = stack.add_user(name)
    client = stack.client()
    client.first_login(name, code)
    client.logout()
    client.login(name, "a wrong password for the log")
    client.login(name)
    token = client.session_cookie()
    lines = [json.loads(line) for line in stack.audit_lines()]
    mine = [entry for entry in lines if entry.get("username") == name]
    events = [(entry["event"], entry["outcome"]) for entry in mine]
    for expected in (("user_created", "succeeded"), ("password_set", "succeeded"), ("logout", "succeeded"),
                     ("login", "failed"), ("login", "succeeded")):
        assert expected in events
    for entry in mine:
        for field in ("timestamp", "event", "username", "remote_addr", "outcome"):
            assert field in entry
    web = [entry for entry in mine if entry["event"] != "user_created"]
    assert all(re.fullmatch(r"[0-9a-f]{12}", entry["request_id"]) for entry in web)
    text = "\n".join(stack.audit_lines())
    for secret in (PASSWORD, "a wrong password for the log", code, code.replace("-", ""), token,
                   stack.env["LYNX_PEPPER"], stack.env["LYNX_SESSION_SECRET"]):
        assert secret not in text
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert (stack.data / "audit" / f"{today}.log").exists()


def test_request_id_of_a_failure_is_in_the_page_and_the_log(fresh_stack_factory, name):
    stack = fresh_stack_factory().start()
    learner = stack.learner(name)
    token = learner.csrf_from("/journal/new")
    # Another process holds the write lock past the portal's busy timeout: the write fails.
    blocker = sqlite3.connect(stack.data / "portal.db", timeout=1, isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")
        response = learner.post("/journal/new", {"csrf": token, "title": "t", "body": "b"})
    finally:
        blocker.close()
    assert response.status_code == 503
    request_id = response.headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{12}", request_id)
    assert request_id in response.text
    logged = [line for line in stack.portal_log.read_text().splitlines() if request_id in line]
    assert logged and "database unavailable" in logged[0], logged


def test_sighup_reloads_templates_and_keeps_the_old_set_when_broken(fresh_stack_factory, tmp_path):
    templates = tmp_path / "templates"
    shutil.copytree(REPO / "templates", templates)
    stack = fresh_stack_factory(templates=templates).start()
    assert "Log in" in requests.get(stack.base + "/login").text
    login = templates / "login.mustache"
    login.write_text(login.read_text().replace("<h1>Log in</h1>", "<h1>Sign in here</h1>"))
    stack.signal(signal.SIGHUP)
    deadline = time.time() + 10
    while "Sign in here" not in requests.get(stack.base + "/login").text:
        assert time.time() < deadline, "template not reloaded"
        time.sleep(0.1)
    login.write_text("{{#broken}} never closed")
    stack.signal(signal.SIGHUP)
    time.sleep(1)
    assert "Sign in here" in requests.get(stack.base + "/login").text
    log = stack.portal_log.read_text()
    assert "template reload failed" in log and "login.mustache" in log


def test_broken_template_stops_start_up_with_its_file_name(fresh_stack_factory, tmp_path):
    templates = tmp_path / "templates"
    shutil.copytree(REPO / "templates", templates)
    (templates / "home.mustache").write_text("<p>{{#items}}unclosed</p>\n")
    stack = fresh_stack_factory(templates=templates)
    assert stack.start_portal(expect_exit=True) != 0
    log = stack.portal_log.read_text()
    assert "home.mustache" in log and "line" in log
    check = stack.cli("check-templates", "--dir", str(templates), check=False)
    assert check.returncode != 0 and "home.mustache" in check.stderr
    good = stack.cli("check-templates", "--dir", str(REPO / "templates"))
    assert "templates ok" in good.stdout


def test_missing_secret_stops_start_up_naming_the_variable(fresh_stack_factory):
    stack = fresh_stack_factory(env={"LYNX_SESSION_SECRET": ""})
    assert stack.start_portal(expect_exit=True) != 0
    assert "LYNX_SESSION_SECRET" in stack.portal_log.read_text()
    weak = fresh_stack_factory(env={"LYNX_PEPPER": "short"})
    assert weak.start_portal(expect_exit=True) != 0
    assert "LYNX_PEPPER" in weak.portal_log.read_text()


def test_sigterm_finishes_the_request_in_flight_and_exits_zero(fresh_stack_factory):
    stack = fresh_stack_factory().start()
    body = b"username=slow&password="
    # Held on the portal's own socket: Caddy reads whole bodies before passing a request on.
    held = reliability.fcgi_hold_post(stack, "/login", body, 5)
    time.sleep(1.0)  # the portal is now reading this request's body
    started = time.time()
    stack.signal(signal.SIGTERM)
    time.sleep(0.5)
    assert stack.portal.poll() is None, "exited with a request in flight"
    answer = reliability.fcgi_finish(held, body[5:])
    assert answer.startswith(b"Status: 403"), answer[:200]  # a complete answer (no CSRF token was sent)
    assert stack.portal.wait(timeout=10) == 0
    assert time.time() - started < 10
    assert not stack.socket.exists()


def test_healthz_is_503_when_the_database_cannot_be_read(fresh_stack_factory):
    stack = fresh_stack_factory().start()
    (stack.data / "portal.db").rename(stack.data / "portal.db.moved")
    response = requests.get(stack.base + "/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "missing or replaced"
    assert "portal.db" in stack.portal_log.read_text()
