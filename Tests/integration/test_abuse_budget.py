"""Abuse budgets through Caddy: what a flood of refused logins costs on disk, who a throttle can
lock out, and what happens when the audit log cannot be written."""
import json
import secrets

from conftest import PASSWORD

WRONG = "wrong wrong wrong wrong"


def audit_bytes(stack):
    directory = stack.data / "audit"
    return sum(path.stat().st_size for path in directory.glob("*.log")) if directory.is_dir() else 0


def long_name(index):
    return f"{index:06d}" + "x" * 60_000


def unknown_name():
    return "nobody" + secrets.token_hex(4)


def refused(client, token, username, password=WRONG):
    """One login post with a token fetched once, as a flooding script would send it."""
    return client.post("/login", {"username": username, "password": password, "csrf": token}).status_code


def test_a_flood_of_refused_logins_costs_a_few_hundred_bytes_each_then_nothing(fresh_stack_factory):
    stack = fresh_stack_factory().start()
    client = stack.client()
    token = client.csrf_from("/login")
    start = audit_bytes(stack)
    # Until the address budget (30 per 15 minutes) runs out, each refusal is one bounded line.
    first = [refused(client, token, long_name(i) if i % 2 else unknown_name()) for i in range(30)]
    assert first == [200] * 30
    per_request = (audit_bytes(stack) - start) / 30
    # Then every request is throttled, and the throttled lines collapse into one per key and window.
    middle = audit_bytes(stack)
    rest = [refused(client, token, long_name(i) if i % 2 else unknown_name()) for i in range(370)]
    assert rest == [429] * 370
    throttled_total = audit_bytes(stack) - middle
    print(f"refused logins: {per_request:.0f} bytes/request at first, {throttled_total} bytes for 370 throttled")
    assert per_request <= 400
    assert throttled_total <= 600
    lines = stack.audit_lines()
    assert all(len(line) < 512 for line in lines)
    assert not any("xxxxxxxxxxxxxxxx" in line for line in lines)
    invalid = [json.loads(line) for line in lines if "username_invalid" in line]
    assert invalid and all(entry["username_bytes"] == "60006" for entry in invalid)


def test_without_an_address_limit_a_class_behind_one_address_is_not_locked_out(fresh_stack_factory, name):
    stack = fresh_stack_factory(env={"LYNX_LOGIN_ADDRESS_LIMIT": "0"}).start()
    stack.learner(name).logout()
    client = stack.client()
    token = client.csrf_from("/login")
    start = audit_bytes(stack)
    statuses = [refused(client, token, unknown_name()) for _ in range(40)]
    assert statuses == [200] * 40
    assert (audit_bytes(stack) - start) / 40 <= 400
    # The same oversized name is throttled on its own key after five tries, at no disk cost.
    same = [refused(client, token, long_name(0)) for _ in range(200)]
    assert same == [200] * 5 + [429] * 195
    start = audit_bytes(stack)
    assert [refused(client, token, long_name(0)) for _ in range(200)] == [429] * 200
    assert audit_bytes(stack) - start == 0
    # A classmate behind the same address still logs in.
    assert stack.client().login(name).status_code == 303


def test_someone_who_knows_a_username_cannot_lock_the_learner_out_of_their_own_browser(fresh_stack_factory, name):
    stack = fresh_stack_factory().start()
    own_browser = stack.learner(name)
    device = own_browser.http.cookies.get("lynx_device")
    assert device and device.startswith(name + ".")
    own_browser.logout()
    attacker = stack.client()
    assert [attacker.login(name, WRONG).status_code for _ in range(6)] == [200] * 5 + [429]
    assert attacker.login(name).status_code == 429
    # The learner's browser carries a signed device cookie for this account: its own budget.
    assert own_browser.login(name).status_code == 303
    own_browser.logout()
    # A device cookie altered to name the account, or copied to another account, buys nothing.
    forged = stack.client()
    forged.http.cookies.set("lynx_device", device[:-2] + "AA", domain="127.0.0.1", path="/")
    assert forged.login(name).status_code == 429
    other = name + "b"
    stack.learner(other)
    borrowed = stack.client()
    borrowed.http.cookies.set("lynx_device", device, domain="127.0.0.1", path="/")
    for _ in range(5):
        borrowed.login(other, WRONG)
    assert borrowed.login(other).status_code == 429
    # The device's own budget throttles guessing from that browser too.
    assert [own_browser.login(name, WRONG).status_code for _ in range(6)] == [200] * 5 + [429]


def test_an_audit_event_that_cannot_be_written_turns_healthz_unhealthy_until_it_can(fresh_stack_factory, name):
    stack = fresh_stack_factory().start()
    stack.learner(name).logout()
    audit = stack.data / "audit"
    moved = stack.data / "audit.moved"
    audit.rename(moved)
    # A regular file where the directory was: open fails even for root, unlike a chmod.
    audit.write_text("")
    try:
        assert stack.client().login(name, WRONG).status_code == 200
        health = stack.client().get("/healthz")
        assert health.status_code == 503
        body = health.json()
        assert body["status"] == "unavailable" and body["audit"].startswith("unwritable:")
        assert "Not a directory" in body["audit"]
        assert "audit event not written" in stack.portal_log.read_text()
    finally:
        audit.unlink()
        moved.rename(audit)
    health = stack.client().get("/healthz")
    assert health.status_code == 200 and health.json()["audit"] == "ok"
    gaps = [json.loads(line) for line in stack.audit_lines() if '"event":"audit_gap"' in line]
    assert len(gaps) == 1 and int(gaps[0]["lost"]) >= 1
    assert "audit log writable again" in stack.portal_log.read_text()


def test_the_portal_enforces_the_audit_retention_and_size_cap_it_is_configured_with(fresh_stack_factory, name):
    stack = fresh_stack_factory(env={"LYNX_AUDIT_RETENTION_DAYS": "30", "LYNX_AUDIT_MAX_BYTES": "3K"})
    audit = stack.data / "audit"
    audit.mkdir(parents=True)
    (audit / "2020-01-01.log").write_text('{"event":"old"}\n')
    stack.start()
    stack.learner(name).logout()
    assert not (audit / "2020-01-01.log").exists()
    client = stack.client()
    token = client.csrf_from("/login")
    assert [refused(client, token, unknown_name()) for _ in range(25)] == [200] * 25
    assert audit_bytes(stack) <= 3 * 1024
    # Past the cap refusals are counted, not written; a successful login still is.
    assert client.login(name).status_code == 303
    assert '"outcome":"succeeded"' in stack.audit_lines()[-1]
    assert "over LYNX_AUDIT_MAX_BYTES" in stack.portal_log.read_text()
