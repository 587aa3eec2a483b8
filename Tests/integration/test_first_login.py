"""The first-login flow and account security, through real Caddy and the real binary."""
import re

from conftest import PASSWORD, csrf_token


def test_first_login_sets_password_and_lands_on_home(stack, name):
    code = stack.add_user(name, "Australia/Sydney")
    client = stack.client()
    step = client.submit("/login", "/login", {"username": name, "password": ""})
    assert step.status_code == 303
    assert step.headers["Location"] == f"/set-password?username={name}"
    form = client.get(step.headers["Location"])
    assert f'value="{name}"' in form.text
    done = client.submit(step.headers["Location"], "/set-password",
                         {"username": name, "code": code, "password": PASSWORD, "confirm": PASSWORD})
    assert done.status_code == 303 and done.headers["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200 and f"Welcome, {name}" in home.text
    listed = stack.cli("user", "list").stdout
    assert re.search(rf"^{name}\s+Australia/Sydney\s+active$", listed, re.M), listed


def test_setup_code_is_forgiving_about_case_and_dashes(stack, name):
    code = stack.add_user(name)
    client = stack.client()
    typed = code.replace("-", " ").lower()
    response = client.first_login(name, typed)
    assert response.url.endswith("/") and f"Welcome, {name}" in response.text


def test_unknown_name_and_new_account_get_the_same_first_step(stack, name):
    stack.add_user(name)
    known = stack.client().submit("/login", "/login", {"username": name, "password": ""})
    unknown = stack.client().submit("/login", "/login", {"username": name + "zz", "password": ""})
    assert known.status_code == unknown.status_code == 303
    assert known.headers["Location"].split("=")[0] == unknown.headers["Location"].split("=")[0]


def test_wrong_setup_code_is_refused_and_changes_nothing(stack, name):
    stack.add_user(name)
    client = stack.client()
    response = client.first_login(name, "ABCD-EFGH-JKLM-NPQR")
    assert response.status_code == 200
    assert "setup code do not match" in response.text
    assert client.session_cookie() is None
    assert re.search(rf"^{name}\s+\S+\s+waiting for first login", stack.cli("user", "list").stdout, re.M)


def test_setup_code_works_only_once(stack, name):
    code = stack.add_user(name)
    assert stack.client().first_login(name, code).status_code == 200
    again = stack.client().first_login(name, code, "another long passphrase here")
    assert "setup code do not match" in again.text
    # The first password still works; the second never took.
    assert stack.client().login(name).headers["Location"] == "/"
    assert stack.client().login(name, "another long passphrase here").status_code == 200


def test_expired_setup_code_is_refused(stack, name):
    code = stack.add_user(name, faketime="-8d")
    response = stack.client().first_login(name, code)
    assert "setup code do not match" in response.text and "expired" in response.text
    assert "setup code expired" in stack.cli("user", "list").stdout


def test_user_reset_issues_a_new_code_and_ends_sessions(stack, name):
    client = stack.learner(name)
    out = stack.cli("user", "reset", name).stdout
    code = re.search(r"^setup code: (\S+)$", out, re.M).group(1)
    assert client.get("/", allow_redirects=False).status_code == 303
    assert stack.client().login(name).status_code == 200  # old password cleared
    assert stack.client().first_login(name, code, "a brand new passphrase ok").status_code == 200


def test_disabled_learner_cannot_log_in(stack, name):
    client = stack.learner(name)
    stack.cli("user", "disable", name)
    assert client.get("/", allow_redirects=False).status_code == 303
    response = stack.client().login(name)
    assert response.status_code == 200 and "do not match" in response.text


def test_weak_passwords_are_refused_with_the_reason_and_the_code_kept(stack, name):
    code = stack.add_user(name)
    client = stack.client()
    cases = {
        "short password": "at least 15 characters",
        name + "-is-my-password": "must not be or contain your username",
        "passwordpassword": "too common",
    }
    for password, reason in cases.items():
        response = client.first_login(name, code, password)
        assert reason in response.text, password
        assert f'value="{code}"' in response.text
    mismatch = client.submit(f"/set-password?username={name}", "/set-password",
                             {"username": name, "code": code, "password": PASSWORD, "confirm": PASSWORD + "x"})
    assert "do not match" in mismatch.text
    assert client.first_login(name, code).status_code == 200  # code still valid


def test_wrong_password_gets_the_generic_message_like_an_unknown_name(stack, name):
    stack.learner(name)
    wrong = stack.client().login(name, "not the right password at all")
    unknown = stack.client().login(name + "nobody", "not the right password at all")
    assert wrong.status_code == unknown.status_code == 200

    def normalise(page):
        page = re.sub(r'name="csrf" value="[^"]+"', "", page)
        page = re.sub(r"request [0-9a-f]{12}", "", page)
        return page.replace(name + "nobody", "NAME").replace(name, "NAME")

    assert normalise(wrong.text) == normalise(unknown.text)
    assert "do not match" in wrong.text


def test_login_with_password_opens_a_session(stack, name):
    stack.learner(name)
    client = stack.client()
    response = client.login(name)
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert "Welcome" in client.get("/").text


def test_failed_logins_are_throttled_per_account(stack, name):
    stack.learner(name)
    client = stack.client()
    for _ in range(5):
        assert client.login(name, "wrong wrong wrong wrong").status_code == 200
    blocked = client.login(name, "wrong wrong wrong wrong")
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    # Even the right password waits: the throttle applies before checking.
    assert client.login(name).status_code == 429
    events = [line for line in stack.audit_lines() if f'"username":"{name}"' in line and '"event":"login"' in line]
    assert any('"outcome":"throttled"' in line for line in events)


def test_wrong_setup_codes_are_throttled_per_account(stack, name):
    code = stack.add_user(name)
    client = stack.client()
    for _ in range(5):
        client.first_login(name, "ABCD-EFGH-JKLM-NPQR")
    blocked = client.submit(f"/set-password?username={name}", "/set-password",
                            {"username": name, "code": code, "password": PASSWORD, "confirm": PASSWORD})
    assert blocked.status_code == 429 and "Retry-After" in blocked.headers


def test_failed_logins_are_throttled_per_address(fresh_stack_factory):
    stack = fresh_stack_factory().start()
    client = stack.client()
    statuses = [client.login(f"nobody{i}", "wrong wrong wrong wrong").status_code for i in range(31)]
    assert statuses[:30] == [200] * 30
    assert statuses[30] == 429


def test_post_without_or_with_wrong_csrf_is_refused_and_changes_nothing(stack, name):
    code = stack.add_user(name)
    client = stack.client()
    client.get("/login")
    fields = {"username": name, "code": code, "password": PASSWORD, "confirm": PASSWORD}
    missing = client.post("/set-password", fields)
    assert missing.status_code == 403
    wrong = client.post("/set-password", dict(fields, csrf="A" * 43))
    assert wrong.status_code == 403
    other = stack.client()
    other_token = other.csrf_from("/login")
    stolen = client.post("/set-password", dict(fields, csrf=other_token))
    assert stolen.status_code == 403
    assert re.search(rf"^{name}\s+\S+\s+waiting for first login", stack.cli("user", "list").stdout, re.M)
    logged_in = stack.learner(name + "b")
    assert logged_in.post("/logout", {}).status_code == 403
    assert logged_in.get("/", allow_redirects=False).status_code == 200


def test_preset_session_cookie_is_not_adopted_at_login(stack, name):
    stack.learner(name)
    client = stack.client()
    client.http.cookies.set("lynx_session", "F" * 43, domain="127.0.0.1", path="/")
    client.login(name)
    assert client.session_cookie() not in (None, "F" * 43)


def test_session_rotates_at_login_and_the_old_token_dies(stack, name):
    first = stack.learner(name)
    before = first.session_cookie()
    first.login(name)
    after = first.session_cookie()
    assert after and after != before
    stale = stack.client()
    stale.http.cookies.set("lynx_session", before, domain="127.0.0.1", path="/")
    assert stale.get("/", allow_redirects=False).status_code == 303


def test_logout_ends_the_session_on_the_server(stack, name):
    client = stack.learner(name)
    token = client.session_cookie()
    response = client.logout()
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    replay = stack.client()
    replay.http.cookies.set("lynx_session", token, domain="127.0.0.1", path="/")
    assert replay.get("/", allow_redirects=False).status_code == 303
    assert any('"event":"logout"' in line and name in line for line in stack.audit_lines())


def test_expired_session_is_rejected(stack, name):
    client = stack.learner(name)
    import sqlite3
    db = sqlite3.connect(stack.data / "portal.db", timeout=5)
    db.execute("UPDATE session SET expires_at = 0 WHERE learner_id = (SELECT id FROM learner WHERE username = ?)",
               (name,))
    db.commit()
    db.close()
    assert client.get("/", allow_redirects=False).status_code == 303


def test_session_cookie_flags_default_to_secure(fresh_stack_factory, name):
    import requests
    stack = fresh_stack_factory(cookie_secure=True).start()
    code = stack.add_user(name)
    # A browser would not send Secure cookies over plain HTTP, so carry the form cookie by hand.
    page = requests.get(f"{stack.base}/set-password?username={name}")
    form_cookie = page.headers["Set-Cookie"]
    for flag in ("HttpOnly", "SameSite=Lax", "Secure"):
        assert flag in form_cookie
    value = form_cookie.split(";")[0]
    response = requests.post(stack.base + "/set-password", allow_redirects=False,
                             headers={"Cookie": value},
                             data={"username": name, "code": code, "password": PASSWORD, "confirm": PASSWORD,
                                   "csrf": csrf_token(page.text)})
    assert response.status_code == 303
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-lynx_session=")
    for flag in ("HttpOnly", "SameSite=Lax", "Secure", "Path=/"):
        assert flag in cookie


def test_login_rehashes_a_password_stored_with_lower_parameters(fresh_stack_factory, name):
    stack = fresh_stack_factory(env={"LYNX_ARGON2": "m=7168,t=5,p=1"}).start()
    stack.learner(name)

    def stored():
        db = stack.db()
        value = db.execute("SELECT password_hash FROM learner WHERE username = ?", (name,)).fetchone()[0]
        db.close()
        return value

    assert "$m=7168,t=5,p=1$" in stored()
    stack.env["LYNX_ARGON2"] = "m=19456,t=2,p=1"
    stack.restart_portal()
    assert stack.client().login(name).status_code == 303
    assert "$m=19456,t=2,p=1$" in stored()
    assert stack.client().login(name).status_code == 303
