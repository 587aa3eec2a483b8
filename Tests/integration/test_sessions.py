"""Sessions end 12 hours after signing in or after 30 minutes without a request (OWASP ASVS
4.0.3 level 2), cookies carry `__Host-` names when Secure, a password change ends the other
sessions, and Argon2 costs below OWASP's minimum are refused.

The portal's clock is moved with libfaketime: the portal is restarted under `faketime` at each
new moment (the client's cookies stay; only the server's clock moves).
"""
import datetime

import requests

from conftest import PASSWORD, csrf_token

MINUTE = datetime.timedelta(minutes=1)


def moment(start, minutes):
    """A libfaketime start time `minutes` after `start`."""
    return "@" + (start + minutes * MINUTE).strftime("%Y-%m-%d %H:%M:%S")


def sign_in_at_fake_start(fresh_stack_factory, name):
    """A stack whose clock starts at 09:00 UTC two days from now (setup codes issued now are
    still valid then), and a learner signed in at that moment."""
    start = datetime.datetime.combine(datetime.date.today() + datetime.timedelta(days=2), datetime.time(9, 0))
    stack = fresh_stack_factory(faketime=moment(start, 0)).start()
    return stack, stack.learner(name), start


def signed_in(client):
    return client.get("/", allow_redirects=False).status_code == 200


def last_seen(stack, name):
    db = stack.db()
    row = db.execute("SELECT s.last_seen_at FROM session s JOIN learner l ON l.id = s.learner_id WHERE l.username = ?",
                     (name,)).fetchone()
    db.close()
    return row[0] if row else None


def test_an_idle_session_ends_after_thirty_minutes_and_activity_keeps_it_alive(fresh_stack_factory, name):
    stack, client, start = sign_in_at_fake_start(fresh_stack_factory, name)
    stack.restart_portal(faketime=moment(start, 29))
    assert signed_in(client), "signed out before 30 idle minutes"
    seen = last_seen(stack, name)
    assert signed_in(client)
    assert last_seen(stack, name) == seen, "a second page view within the minute wrote again"
    # 58 minutes after signing in, but only 29 after the last request.
    stack.restart_portal(faketime=moment(start, 58))
    assert signed_in(client), "activity at minute 29 did not keep the session alive"
    stack.restart_portal(faketime=moment(start, 58 + 31))
    response = client.get("/", allow_redirects=False)
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert "signed out after 30 minutes without activity and 12 hours after signing in" in client.get("/login").text


def test_a_busy_session_ends_twelve_hours_after_signing_in(fresh_stack_factory, name):
    stack, client, start = sign_in_at_fake_start(fresh_stack_factory, name)
    for minutes in list(range(25, 12 * 60, 25)) + [12 * 60 - 1]:
        stack.restart_portal(faketime=moment(start, minutes))
        assert signed_in(client), f"signed out {minutes} minutes after signing in, with a request every 25"
    # Two minutes after the last request: not idle, but 12 hours are up.
    stack.restart_portal(faketime=moment(start, 12 * 60 + 1))
    assert not signed_in(client)


def test_secure_cookies_carry_host_prefixed_names(fresh_stack_factory, name):
    stack = fresh_stack_factory(cookie_secure=True).start()
    code = stack.add_user(name)
    # A client would not send Secure cookies back over plain HTTP: carry the form cookie by hand.
    page = requests.get(f"{stack.base}/set-password?username={name}")
    form_cookie = page.headers["Set-Cookie"]
    assert form_cookie.startswith("__Host-lynx_form=")
    response = requests.post(stack.base + "/set-password", allow_redirects=False,
                             headers={"Cookie": form_cookie.split(";")[0]},
                             data={"username": name, "code": code, "password": PASSWORD, "confirm": PASSWORD,
                                   "csrf": csrf_token(page.text)})
    assert response.status_code == 303
    session = response.headers["Set-Cookie"]
    assert session.startswith("__Host-lynx_session=")
    for cookie in (form_cookie, session):
        attributes = [part.strip() for part in cookie.split(";")[1:]]
        assert "Secure" in attributes and "Path=/" in attributes and "HttpOnly" in attributes
        assert not any(part.lower().startswith("domain") for part in attributes)
    token = session.split(";")[0].split("=", 1)[1]
    home = requests.get(stack.base + "/", allow_redirects=False, headers={"Cookie": f"__Host-lynx_session={token}"})
    assert home.status_code == 200
    # The plain name means nothing while cookies are Secure.
    plain = requests.get(stack.base + "/", allow_redirects=False, headers={"Cookie": f"lynx_session={token}"})
    assert plain.status_code == 303


def test_a_password_change_ends_every_other_session(stack, name):
    client = stack.learner(name)
    others = [stack.client() for _ in range(2)]
    for other in others:
        assert other.login(name).status_code == 303 and signed_in(other)
    new = "a brand new passphrase for me"
    changed = client.submit("/settings", "/settings/password", {"current": PASSWORD, "password": new, "confirm": new})
    assert changed.status_code == 303
    assert signed_in(client)
    assert not any(signed_in(other) for other in others)
    db = stack.db()
    count = db.execute("SELECT count(*) FROM session s JOIN learner l ON l.id = s.learner_id WHERE l.username = ?",
                       (name,)).fetchone()[0]
    db.close()
    assert count == 1
    assert stack.client().login(name, PASSWORD).status_code == 200  # the old password is refused
    assert stack.client().login(name, new).status_code == 303
    assert "signed out after 30 minutes without activity" in client.get("/settings").text


def test_argon2_below_the_owasp_minimum_is_refused_at_start(fresh_stack_factory):
    stack = fresh_stack_factory(env={"LYNX_ARGON2": "m=8192,t=1,p=1"})
    assert stack.start_portal(expect_exit=True) != 0
    log = stack.portal_log.read_text()
    assert "LYNX_ARGON2" in log and "OWASP" in log


def test_doctor_fails_while_the_tests_only_argon2_escape_is_set(fresh_stack_factory):
    stack = fresh_stack_factory(env={"LYNX_ARGON2": "m=8192,t=1,p=1", "LYNX_ARGON2_ALLOW_WEAK": "test"}).start()
    result = stack.cli("doctor", check=False)
    assert result.returncode != 0
    assert any(line.startswith("FAIL  argon2:") and "LYNX_ARGON2_ALLOW_WEAK" in line
               for line in result.stdout.splitlines()), result.stdout
    del stack.env["LYNX_ARGON2_ALLOW_WEAK"]
    del stack.env["LYNX_ARGON2"]
    result = stack.cli("doctor", check=False)
    assert any(line.startswith("ok    argon2: Argon2id m=19456,t=2,p=1") for line in result.stdout.splitlines()), \
        result.stdout
