"""Rotating the secrets in portal.env (deploy/README.md, "Rotating secrets"), through the real
binary behind Caddy: a new LYNX_PEPPER with the old one kept in LYNX_PEPPER_PREVIOUS moves each
learner onto the new pepper at their next login, and `doctor` counts who is still on which; a new
LYNX_SESSION_SECRET voids the device cookies, while sessions and logins carry on."""
import hashlib
import hmac
import json
import re
import sqlite3

from conftest import random_secret

WRONG = "not the password at all, sorry"


def pepper_id(pepper):
    return hmac.new(pepper.encode(), b"lynx-portal pepper id", hashlib.sha256).hexdigest()[:16]


def stored(stack, name):
    db = sqlite3.connect(f"file:{stack.data / 'portal.db'}?mode=ro", uri=True)
    try:
        return db.execute("SELECT password_hash, pepper_id FROM learner WHERE username = ?", (name,)).fetchone()
    finally:
        db.close()


def doctor(stack, **env):
    saved = dict(stack.env)
    stack.env.update(env)
    try:
        return stack.cli("doctor", check=False)
    finally:
        stack.env.clear()
        stack.env.update(saved)


def peppers_line(stack):
    out = doctor(stack).stdout
    match = re.search(r"^ok    peppers: (.*)$", out, re.M)
    assert match, out
    return match.group(1), out


def failed_logins(stack, username):
    events = [json.loads(line) for line in stack.audit_lines()]
    return sum(1 for event in events
               if (event.get("event"), event.get("username"), event.get("outcome")) == ("login", username, "failed"))


def restart(stack, **env):
    for key, value in env.items():
        if value is None:
            stack.env.pop(key, None)
        else:
            stack.env[key] = value
    stack.restart_portal()


def test_a_rotated_pepper_moves_each_learner_at_login_until_the_old_one_is_dropped(fresh_stack_factory, name):
    old, new = random_secret(), random_secret()
    stack = fresh_stack_factory(env={"LYNX_PEPPER": old}).start()
    ana, bo, cy = name + "a", name + "b", name + "c"
    for learner in (ana, bo, cy):
        stack.learner(learner).logout()
    assert stored(stack, ana)[1] == pepper_id(old)
    line, _ = peppers_line(stack)
    assert line == f"passwords: 3 on the current pepper ({pepper_id(old)}), 0 on a previous pepper, 0 not yet seen since v8"
    # cy's hash as a release before v8 left it: its pepper not recorded.
    stack.stop_portal()
    db = sqlite3.connect(stack.data / "portal.db")
    db.execute("UPDATE learner SET pepper_id = NULL WHERE username = ?", (cy,))
    db.commit()
    db.close()

    # Routine rotation: the new pepper, the old one kept as previous.
    restart(stack, LYNX_PEPPER=new, LYNX_PEPPER_PREVIOUS=old)
    line, out = peppers_line(stack)
    assert line == (f"passwords: 0 on the current pepper ({pepper_id(new)}), 2 on a previous pepper "
                    f"(#1 {pepper_id(old)}: 2), 1 not yet seen since v8"), out
    assert "can be removed" not in out
    before = stored(stack, ana)
    # A wrong password is one failed attempt, whatever number of peppers it was tried under.
    failures = failed_logins(stack, cy)
    wrong = stack.client().login(cy, WRONG)
    assert wrong.status_code == 200 and "/logout" not in wrong.text
    assert failed_logins(stack, cy) == failures + 1
    assert stack.client().login(ana).status_code == 303
    after = stored(stack, ana)
    assert after[0] != before[0] and after[1] == pepper_id(new), (before, after)
    assert stack.client().login(cy).status_code == 303  # tried under the new pepper, then the old one
    assert stored(stack, cy)[1] == pepper_id(new)
    line, out = peppers_line(stack)
    assert line == (f"passwords: 2 on the current pepper ({pepper_id(new)}), 1 on a previous pepper "
                    f"(#1 {pepper_id(old)}: 1), 0 not yet seen since v8"), out
    assert "FAIL  peppers" not in out and "WARN  peppers" not in out, out

    # The old pepper dropped while bo is still under it: bo is locked out, the others log in.
    restart(stack, LYNX_PEPPER_PREVIOUS=None)
    assert stack.client().login(ana).status_code == 303
    assert stack.client().login(cy).status_code == 303
    refused = stack.client().login(bo)
    assert refused.status_code == 200 and "/logout" not in refused.text
    _, out = peppers_line(stack)
    assert re.search(r"^WARN  peppers: 1 password\(s\) under a pepper that is not configured", out, re.M), out
    # Putting the old pepper back is the fix while no one reset bo.
    restart(stack, LYNX_PEPPER_PREVIOUS=old)
    assert stack.client().login(bo).status_code == 303
    _, out = peppers_line(stack)
    assert re.search(r"^WARN  peppers: no password is under a previous pepper any more: "
                     r"LYNX_PEPPER_PREVIOUS can be removed", out, re.M), out


def test_doctor_fails_a_previous_pepper_that_is_the_current_one_or_malformed(fresh_stack_factory):
    stack = fresh_stack_factory().start()
    current = stack.env["LYNX_PEPPER"]
    for value, expected in ((current, "value 1 is the current LYNX_PEPPER"),
                            (random_secret() + " short", "value 2 is 5 bytes")):
        result = doctor(stack, LYNX_PEPPER_PREVIOUS=value)
        assert result.returncode != 0, result.stdout
        assert re.search(rf"^FAIL  secrets: LYNX_PEPPER_PREVIOUS: {expected}", result.stdout, re.M), result.stdout
        assert current not in result.stdout
    # The settings of releases before derived ids are a warning, not a failure.
    result = doctor(stack, LYNX_PEPPER_ID="1")
    assert re.search(r"^WARN  pepper settings: LYNX_PEPPER_ID in portal\.env: no longer needed", result.stdout, re.M), \
        result.stdout
    assert "FAIL  secrets" not in result.stdout
    # serve refuses it too, naming the variable (exit 78: the unit does not restart it).
    stack.stop_portal()
    stack.env["LYNX_PEPPER_PREVIOUS"] = current
    assert stack.start_portal(expect_exit=True) == 78
    assert "LYNX_PEPPER_PREVIOUS" in stack.portal_log.read_text()


def test_a_new_session_secret_voids_device_cookies_while_sessions_and_logins_carry_on(fresh_stack_factory, name):
    stack = fresh_stack_factory().start()
    own_browser = stack.learner(name)
    still_signed_in = stack.client()
    assert still_signed_in.login(name).status_code == 303
    own_browser.logout()
    attacker = stack.client()
    assert [attacker.login(name, WRONG).status_code for _ in range(6)] == [200] * 5 + [429]
    # Before the rotation the browser's device cookie gives it its own budget.
    assert own_browser.login(name).status_code == 303
    own_browser.logout()

    restart(stack, LYNX_SESSION_SECRET=random_secret())
    # Sessions are stored server-side by the token's hash: the new secret does not end them.
    home = still_signed_in.get("/", allow_redirects=False)
    assert home.status_code == 200 and "/logout" in home.text, home.status_code
    # With the account's own budget spent again, the old device cookie no longer counts.
    assert [attacker.login(name, WRONG).status_code for _ in range(6)] == [200] * 5 + [429]
    assert own_browser.http.cookies.get("lynx_device")
    assert own_browser.login(name).status_code == 429
    # Logins work: a learner whose account budget is not spent logs in and gets a new cookie.
    other = name + "o"
    stack.learner(other).logout()
    fresh = stack.client()
    assert fresh.login(other).status_code == 303
    device = fresh.http.cookies.get("lynx_device")
    assert device and device.startswith(other + ".")
