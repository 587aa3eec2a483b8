"""The operator's alert conditions: each is a named `doctor` check that fails the run, and an
entry in the loopback view of /healthz (`alerts`), which stays 200 with status ok (these are not
outages) and shows nothing of them to the public. Backup alerts are in test_backup.py."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

import requests

from conftest import Stack


def alerts(stack):
    response = requests.get(stack.base + "/healthz", timeout=10)
    body = response.json()
    assert response.status_code == 200 and body["status"] == "ok", body
    return {alert["check"]: alert["message"] for alert in body["alerts"]}


def test_low_disk_space_on_the_data_directory_fails_doctor_and_is_listed_in_healthz():
    assert os.geteuid() == 0, "this test mounts a tmpfs: run it as root (CI does)"
    tmp = tempfile.mkdtemp(prefix="lynx-it-")
    data = os.path.join(tmp, "data")
    os.mkdir(data)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", data], check=True)
    stack = Stack(tmp, env={"LYNX_DISK_MIN_FREE_MB": "16", "LYNX_DISK_MIN_FREE_PERCENT": "10"})
    try:
        stack.start()
        assert "disk space" not in alerts(stack)
        doctor = stack.cli("doctor", check=False).stdout
        assert re.search(rf"^ok    disk space: \d+ MiB free of 64 MiB \([\d.]+%\) on the filesystem of {data}$",
                         doctor, re.M), doctor
        with open(os.path.join(data, "filler"), "wb") as filler:
            filler.write(b"\0" * (52 << 20))
        result = stack.cli("doctor", check=False)
        assert result.returncode != 0
        match = re.search(rf"^FAIL  disk space: (\d+) MiB free of 64 MiB \(([\d.]+)%\) on the filesystem of {data}: "
                          r"under the minimum of 10% or 16 MiB", result.stdout, re.M)
        assert match and int(match.group(1)) < 16, result.stdout
        listed = alerts(stack)
        assert "disk space" in listed and "MiB free of 64 MiB" in listed["disk space"], listed
        os.remove(os.path.join(data, "filler"))
        assert "disk space" not in alerts(stack)
    finally:
        stack.stop()
        subprocess.run(["umount", data], check=False)
        shutil.rmtree(tmp, ignore_errors=True)


def write_certificate(stack, **fields):
    (stack.data / "certificate.json").write_text(json.dumps(fields))


def test_certificate_expiry_and_check_failures_fail_doctor_and_are_listed_in_healthz(fresh_stack_factory):
    stack = fresh_stack_factory().start()
    doctor = stack.cli("doctor", check=False).stdout
    assert re.search(r"^ok    certificate: not checked \(no certificate\.json", doctor, re.M), doctor
    assert "certificate" not in alerts(stack)
    now = int(time.time())
    day = 86400
    # A 90-day certificate with 30 days left: fine.
    write_certificate(stack, domain="portal.example.org", not_before=now - 60 * day, not_after=now + 30 * day,
                      checked_at=now - 3600)
    doctor = stack.cli("doctor", check=False).stdout
    assert re.search(r"^ok    certificate: portal\.example\.org: 30\.0 days left \(checked 1\.0 h ago\)$",
                     doctor, re.M), doctor
    assert "certificate" not in alerts(stack)
    cases = [
        # 13 days left of 90: under 14 days.
        (dict(not_before=now - 77 * day, not_after=now + 13 * day, checked_at=now),
         r"portal\.example\.org's certificate expires in 13\.0 days \(alert under 14\.0 days\)"),
        # A 12-hour internal certificate with 2 hours left: under a quarter of its lifetime.
        (dict(not_before=now - 10 * 3600, not_after=now + 2 * 3600, checked_at=now),
         r"expires in 2\.0 h \(alert under 3\.0 h\)"),
        (dict(not_before=now - 91 * day, not_after=now - 3600, checked_at=now),
         r"portal\.example\.org's certificate expired 1\.0 h ago"),
        (dict(not_before=now - 10 * day, not_after=now + 80 * day, checked_at=now - 30 * 3600),
         r"last checked 30\.0 h ago \(over 26 h\)"),
        (dict(not_before=now - 10 * day, not_after=now + 80 * day, checked_at=now, error="connection refused"),
         r"the check of portal\.example\.org's certificate failed: connection refused"),
    ]
    for fields, expected in cases:
        write_certificate(stack, domain="portal.example.org", **fields)
        result = stack.cli("doctor", check=False)
        assert result.returncode != 0, result.stdout
        assert re.search(r"^FAIL  certificate: .*" + expected, result.stdout, re.M), (expected, result.stdout)
        listed = alerts(stack)
        assert re.search(expected, listed.get("certificate", "")), (expected, listed)
    (stack.data / "certificate.json").unlink()
    assert "certificate" not in alerts(stack)
