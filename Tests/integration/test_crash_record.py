"""The crash record: a fatal signal leaves one line naming the signal, the time and the requests
in flight, on stderr (the journal under systemd) and in crash.log in the data directory, which
`lynx-portal doctor` reports. Configuration errors exit 78, which the unit does not restart."""
import re
import signal
import time

import reliability

LINE = re.compile(r"^lynx-portal: crashed: (SIG[A-Z]+) \(signal (\d+)\) at (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) "
                  r"pid (\d+); (.*)$")


def crash_lines(stack):
    path = stack.data / "crash.log"
    return path.read_text().splitlines() if path.exists() else []


def test_a_fatal_signal_during_a_request_records_the_signal_and_the_request_but_not_its_query(fresh_stack_factory):
    stack = fresh_stack_factory().start()
    pid = stack.portal_pid()
    # A request whose body never finishes arriving keeps one worker inside it. (Caddy reads whole
    # bodies before passing them on, so the request is held on the portal's own socket.)
    held = reliability.fcgi_hold_post(stack, "/login?code=kept-out-of-the-record", b"username=a" + b"x" * 990, 10)
    time.sleep(1)
    stack.signal(signal.SIGSEGV)
    assert stack.portal.wait(timeout=15) == -signal.SIGSEGV
    held.close()
    lines = crash_lines(stack)
    assert len(lines) == 1, lines
    match = LINE.match(lines[0])
    assert match, lines[0]
    assert match.group(1, 2, 4) == ("SIGSEGV", "11", str(pid))
    assert abs(time.mktime(time.strptime(match.group(3), "%Y-%m-%dT%H:%M:%SZ")) - time.mktime(time.gmtime())) < 120
    assert re.fullmatch(r"requests in flight: POST /login( \[this thread\])?", match.group(5)), match.group(5)
    assert "kept-out-of-the-record" not in stack.portal_log.read_text() + lines[0]
    assert lines[0] in stack.portal_log.read_text().splitlines(), "the line also goes to stderr"


def test_crashes_are_appended_and_doctor_reports_them_as_a_warning(fresh_stack_factory):
    stack = fresh_stack_factory().start()
    stack.signal(signal.SIGILL)
    assert stack.portal.wait(timeout=15) == -signal.SIGILL
    stack.start_portal()
    stack.wait_healthy()
    stack.signal(signal.SIGABRT)
    assert stack.portal.wait(timeout=15) == -signal.SIGABRT
    lines = crash_lines(stack)
    assert [LINE.match(line).group(1) for line in lines] == ["SIGILL", "SIGABRT"], lines
    assert all(line.endswith("; no request in flight") for line in lines), lines
    doctor = stack.cli("doctor", check=False).stdout
    assert re.search(r"^WARN  crashes: 2 in the last 7 days \(.*crash\.log", doctor, re.M), doctor
    for line in lines:
        assert f"      {line}" in doctor.splitlines(), doctor
    assert "FAIL  crashes" not in doctor


def test_doctor_passes_the_crash_check_when_there_was_none(fresh_stack_factory):
    stack = fresh_stack_factory().start()
    doctor = stack.cli("doctor", check=False).stdout
    assert re.search(r"^ok    crashes: none in the last 7 days", doctor, re.M), doctor


def test_a_configuration_error_exits_78_which_the_unit_does_not_restart(fresh_stack_factory):
    stack = fresh_stack_factory(env={"LYNX_PEPPER": "short"})
    assert stack.start_portal(expect_exit=True) == 78
    assert "LYNX_PEPPER" in stack.portal_log.read_text()
    broken = fresh_stack_factory()
    broken.env["LYNX_TEMPLATES_DIR"] = str(broken.tmp / "no-templates-here")
    assert broken.start_portal(expect_exit=True) == 78
