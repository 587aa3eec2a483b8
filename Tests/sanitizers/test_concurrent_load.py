"""Concurrent load on the portal binary through real Caddy, for a sanitizer-built binary.

scripts/sanitizers.sh runs this with LYNX_PORTAL_BIN pointing at the ThreadSanitizer build
(.build-tsan) or the AddressSanitizer one (.build-asan) and LYNX_EXPECT_SANITIZER=thread or
address, which the binary must carry: learners on parallel threads log in, read every
page, take the quiz, write journal entries and fail logins (the throttle) while SIGHUP reloads
the templates, so the worker threads share the database pool, the template set, the throttle,
the Argon2 buffers and the audit log. The test fails on any 5xx, on a lost journal write, and on
any sanitizer report in the portal's stderr.

Figures go to LYNX_LOAD_SUMMARY (JSON) when set.
"""
import concurrent.futures
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "integration"))

from conftest import BINARY, REPO, Stack, csrf_token  # noqa: E402

LEARNERS = int(os.environ.get("LYNX_LOAD_LEARNERS", "8"))
ROUNDS = int(os.environ.get("LYNX_LOAD_ROUNDS", "30"))
SANITIZER = os.environ.get("LYNX_EXPECT_SANITIZER", "")
REPORT_MARKERS = ("WARNING: ThreadSanitizer", "ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                  "SUMMARY: ThreadSanitizer", "SUMMARY: AddressSanitizer", "runtime error:")
RUNTIME_SYMBOL = {"thread": "__tsan_init", "address": "__asan_init"}


def binary_has_sanitizer(symbol):
    symbols = subprocess.run(["nm", "--defined-only", str(BINARY)], capture_output=True, text=True, check=True)
    return re.search(rf"\b{symbol}\b", symbols.stdout) is not None


def quiz_answers(client):
    """The phase-0 form with the first option of every question chosen."""
    page = client.get("/quiz/phase-0")
    assert page.status_code == 200, page.status_code
    chosen = {}
    for name, option in re.findall(r'name="(q\d+)" value="(\d+)"', page.text):
        chosen.setdefault(name, option)
    assert chosen, "no questions on /quiz/phase-0"
    chosen["csrf"] = csrf_token(page.text)
    return chosen


class Tally:
    """Counts responses by status from every learner thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.statuses = {}
        self.server_errors = []
        self.journal_titles = []

    def add(self, what, response):
        with self.lock:
            self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
            if response.status_code >= 500:
                self.server_errors.append(f"{what}: {response.status_code}")
        return response

    def total(self):
        with self.lock:
            return sum(self.statuses.values())


def learner_session(stack, tally, index):
    """One learner: first login, then ROUNDS rounds over every page and form."""
    name = f"load{index}"
    client = stack.learner(name)
    for round_number in range(ROUNDS):
        tally.add("GET /", client.get("/"))
        tally.add("GET /review", client.get("/review"))
        tally.add("GET /journal", client.get("/journal"))
        title = f"{name} entry {round_number}"
        created = tally.add("POST /journal/new",
                            client.submit("/journal/new", "/journal/new", {"title": title, "body": "x\ny"}))
        assert created.status_code == 303, (title, created.status_code)
        with tally.lock:
            tally.journal_titles.append(title)
        tally.add("GET journal entry", client.get(created.headers["Location"]))
        if round_number % 5 == 0:
            tally.add("POST /quiz/phase-0", client.post("/quiz/phase-0", quiz_answers(client)))
            tally.add("GET /settings", client.get("/settings"))
        if round_number % 10 == 3:
            stranger = stack.client()
            tally.add("POST /login (wrong password)", stranger.login(name, "not the password"))
        if round_number % 10 == 7:
            tally.add("POST /logout", client.logout())
            relogged = tally.add("POST /login", client.login(name))
            assert relogged.status_code in (303, 429), relogged.status_code
            if relogged.status_code == 429:
                client = stack.learner(f"{name}r{round_number}")
        # Malformed input (requests re-quotes a bad escape, so invalid UTF-8): a 400, never a 5xx.
        bad = tally.add("GET invalid UTF-8 query", client.get("/journal?page=%ff"))
        assert bad.status_code == 400, bad.status_code
        tally.add("GET /healthz", client.get("/healthz"))


def reload_templates_while(stack, running, reloads):
    while running.is_set():
        stack.signal(signal.SIGHUP)
        reloads[0] += 1
        time.sleep(0.5)


def sanitizer_reports(log_text):
    lines = log_text.splitlines()
    return [i for i, line in enumerate(lines) if any(marker in line for marker in REPORT_MARKERS)]


def test_parallel_learners_cause_no_5xx_no_lost_writes_and_no_sanitizer_report():
    if SANITIZER:
        assert binary_has_sanitizer(RUNTIME_SYMBOL[SANITIZER]), f"{BINARY} is not built with -sanitize={SANITIZER}"
    tmp = tempfile.mkdtemp(prefix="lynx-san-")
    here = pathlib.Path(__file__).resolve().parent
    stack = Stack(tmp, workers=8, env={
        # Keep going after the first report so one run shows them all; `log_path` unset so the
        # reports land on stderr, which Stack writes to portal.log. scripts/sanitizers.sh sets
        # the same options (plus the toolchain's symbolizer).
        "TSAN_OPTIONS": os.environ.get(
            "TSAN_OPTIONS", f"halt_on_error=0:second_deadlock_stack=1:print_suppressions=1:"
                            f"suppressions={here / 'tsan-suppressions.txt'}"),
        "LSAN_OPTIONS": os.environ.get(
            "LSAN_OPTIONS", f"print_suppressions=1:suppressions={here / 'lsan-suppressions.txt'}"),
        "SWIFT_BACKTRACE": "enable=no",
    })
    tally = Tally()
    running = threading.Event()
    reloads = [0]
    started = time.monotonic()
    exit_code = None
    kept = None
    try:
        stack.start()
        stack.cli("quiz", "import", str(REPO / "quizzes" / "phase-0.gift"))
        running.set()
        reloader = threading.Thread(target=reload_templates_while, args=(stack, running, reloads), daemon=True)
        reloader.start()
        with concurrent.futures.ThreadPoolExecutor(max_workers=LEARNERS) as pool:
            for future in [pool.submit(learner_session, stack, tally, i) for i in range(LEARNERS)]:
                future.result()
        running.clear()
        reloader.join(timeout=5)
        assert stack.portal.poll() is None, "the portal died under load"

        db = stack.db()
        stored = {row[0] for row in db.execute("SELECT title FROM journal_entry")}
        db.close()
        lost = [title for title in tally.journal_titles if title not in stored]
        assert not lost, f"{len(lost)} acknowledged journal writes missing: {lost[:5]}"
        assert not tally.server_errors, tally.server_errors[:10]
    finally:
        running.clear()
        stack.stop()
        if stack.portal is not None:
            exit_code = stack.portal.returncode
        log_text = stack.portal_log.read_text(errors="replace") if stack.portal_log.exists() else ""
        reports = sanitizer_reports(log_text)
        # With print_suppressions=1, TSan lists at exit how often each suppression matched.
        suppressed = {pattern: int(count) for count, pattern in
                      re.findall(r"^\s*(\d+) ((?:race|race_top|mutex|thread|signal|deadlock):\S+)$", log_text, re.M)}
        summary = {
            "learners": LEARNERS, "rounds": ROUNDS, "requests": tally.total(), "statuses": tally.statuses,
            "journal_writes": len(tally.journal_titles), "template_reloads": reloads[0],
            "seconds": round(time.monotonic() - started, 1), "portal_exit_code": exit_code,
            "sanitizer_report_lines": len(reports), "suppressed": suppressed, "binary": str(BINARY),
        }
        if os.environ.get("LYNX_LOAD_SUMMARY"):
            pathlib.Path(os.environ["LYNX_LOAD_SUMMARY"]).write_text(json.dumps(summary))
        if reports:
            kept = pathlib.Path(os.environ.get("LYNX_LOAD_KEEP_LOG", str(stack.portal_log) + ".kept"))
            shutil.copy(stack.portal_log, kept)
        shutil.rmtree(tmp, ignore_errors=True)
    lines = log_text.splitlines()
    assert not reports, ("sanitizer report in the portal's stderr (full log kept at "
                         f"{kept}):\n" + "\n".join(lines[reports[0]:reports[0] + 60]))
    assert exit_code == 0, f"the portal exited {exit_code} after SIGTERM"
