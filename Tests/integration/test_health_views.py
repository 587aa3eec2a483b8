"""/healthz: the public sees whether the portal is healthy and nothing else; the operator, on
the server itself (loopback), also sees the version, the backup ages and the alerts."""
import re
import subprocess

import requests


def non_loopback_address():
    """One of this machine's own global IPv4 addresses: Caddy listens on every interface, and a
    request to this address comes from it, not from loopback."""
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"],
                         capture_output=True, text=True, check=True).stdout
    match = re.search(r"\binet (\d+\.\d+\.\d+\.\d+)/", out)
    assert match, f"this test needs a non-loopback IPv4 address on the machine: {out!r}"
    return match.group(1)


def test_healthz_answers_a_client_off_the_machine_with_its_status_only(stack):
    address = non_loopback_address()
    # The site answers for the Host it was configured with; the TCP peer is not loopback, and a
    # forged X-Forwarded-For does not make it so.
    response = requests.get(f"http://{address}:{stack.port}/healthz", timeout=10,
                            headers={"Host": f"127.0.0.1:{stack.port}", "X-Forwarded-For": "127.0.0.1"},
                            proxies={"http": None, "https": None})
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok"}
    assert "version" not in response.text and "backup" not in response.text and "alerts" not in response.text


def test_healthz_answers_the_operator_on_loopback_with_version_and_backup_ages(stack):
    body = requests.get(stack.base + "/healthz", timeout=10).json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["version"], body
    assert set(body["backup"]) >= {"status", "last_good_backup_age_seconds", "last_verified_restore_age_seconds"}, body
    # The alert conditions doctor fails on; a fresh stack has no backup yet, which is a warning,
    # not an alert, and no certificate check, which is not one either.
    assert body["alerts"] == [], body
