#!/usr/bin/env python3
"""Instructions per request, counted by valgrind (callgrind), for the portal's pages.

Requests/s on this shared 2-core machine swing by a quarter within minutes (RESULTS.md), too
much to see a change of a few percent. The portal's own instruction count per request does not
swing: it is the same from run to run, so it shows what a code change did. Measured here for
the pages of bench.py, one request at a time through Caddy to a portal with one worker under
callgrind, next to the no-op libfcgi responder (bench.py's transport ceiling) measured the same
way in the same run. User-space instructions of the responder process only: the kernel, Caddy
and the client are not counted.

Usage: experiments/bench/instructions.py [--binary PATH] [--requests N] [--out FILE]
  (default binary: .build/release/lynx-portal, `swift build -c release`; valgrind 3.19 cannot
  read the toolchain's DWARF 5, so a copy without debug sections is measured)
"""
import argparse
import datetime
import glob
import os
import pathlib
import re
import shutil
import sqlite3
import sys
import time

import requests

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "experiments"))
import records  # noqa: E402
from bench import Bench, free_port, run  # noqa: E402
from conftest import Client  # noqa: E402


class Counter:
    """One responder under callgrind with instrumentation off until a measurement."""

    def __init__(self, stack, command, log):
        self.stack = stack
        self.out = stack.tmp / f"callgrind-{log}"
        self.process = stack.start(["valgrind", "--tool=callgrind", "--instr-atstart=no",
                                    f"--callgrind-out-file={self.out}.%p", *command], log=log)

    def control(self, *args):
        run(["callgrind_control", *args, str(self.process.pid)])

    def measure(self, session, url, count, label, before=None):
        """`before`, if given, runs before each request (in this process, not the counted one)."""
        for _ in range(20):  # warm: the thread's read connection, caches, the kept quiz page
            session.get(url, allow_redirects=False)
        self.control("-z")
        self.control("-i", "on")
        for _ in range(count):
            if before:
                before()
            response = session.get(url, allow_redirects=False)
            assert response.status_code in (200, 303), (url, response.status_code)
        self.control("-i", "off")
        before = set(glob.glob(f"{self.out}.*"))
        self.control("-d", re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-"))
        for _ in range(100):
            new = set(glob.glob(f"{self.out}.*")) - before
            if new:
                break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"callgrind wrote no dump for {label}")
        dump = new.pop()
        size = -1
        while size != os.path.getsize(dump):  # written out completely
            size = os.path.getsize(dump)
            time.sleep(0.3)
        report = run(["callgrind_annotate", dump]).stdout
        total = re.search(r"^([\d,]+)\s+(?:\([^)]*\)\s+)?PROGRAM TOTALS", report, re.M).group(1)
        return int(total.replace(",", "")) / count


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=str(REPO / ".build" / "release" / "lynx-portal"))
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--out", help="default: experiments/bench/INSTRUCTIONS.md under `make bench-instructions`, else .records/")
    args = parser.parse_args()
    for tool in ("valgrind", "callgrind_control", "callgrind_annotate"):
        if not shutil.which(tool):
            sys.exit(f"instructions: {tool} not found (apt-get install valgrind)")
    args.duration, args.connections, args.workers, args.login_runs = 1, 1, 1, 1
    stack = Bench(args)
    try:
        binary = stack.tmp / "lynx-portal"
        run(["strip", "--strip-debug", "-o", str(binary), args.binary])
        stack.binary = binary
        noop = stack.tmp / "noop"
        run(["gcc", "-O2", "-o", str(noop), str(HERE / "noop-responder.c"), "-lfcgi", "-lpthread"])
        run([str(binary), "migrate"], env=stack.env)
        run([str(binary), "quiz", "import", str(REPO / "quizzes" / "phase-0.gift")], env=stack.env)
        run([str(binary), "user", "add", "bencher"], env=stack.env)
        root = stack.tmp / "root"
        (root / "static").mkdir(parents=True)
        portal_socket, noop_socket = stack.tmp / "portal.sock", stack.tmp / "noop.sock"
        portal = Counter(stack, [str(binary), "serve", "--socket", str(portal_socket), "--workers", "1"], "portal")
        noop_counter = Counter(stack, [str(noop), str(noop_socket), "1"], "noop")
        for _ in range(600):
            if portal_socket.exists() and noop_socket.exists():
                break
            time.sleep(0.1)
        portal_port, noop_port = free_port(), free_port()
        stack.caddy(portal_port, portal_socket, root)
        stack.caddy(noop_port, noop_socket, root)
        base, noop_base = f"http://127.0.0.1:{portal_port}", f"http://127.0.0.1:{noop_port}"
        # Under valgrind the first answers take seconds.
        stack.wait(base + "/healthz", attempts=600, pause=0.2, timeout=5)
        stack.wait(noop_base + "/", attempts=600, pause=0.2, timeout=5)

        def login(name):
            code = re.search(r"^setup code: (\S+)$", run([str(binary), "user", "reset", name], env=stack.env).stdout,
                             re.M).group(1)
            client = Client(base)
            assert client.first_login(name, code).status_code == 200
            session = requests.Session()
            session.headers["Cookie"] = f"lynx_session={client.session_cookie()}"
            return session

        rows = [("no-op libfcgi responder (the baseline)", noop_counter.measure(requests.Session(), noop_base + "/",
                                                                              args.requests, "noop"))]
        fresh = login("bencher")
        rows.append(("GET /login, logged in (a redirect)", portal.measure(fresh, base + "/login", args.requests, "login")))
        rows.append(("GET / (logged in)", portal.measure(fresh, base + "/", args.requests, "home")))
        database = sqlite3.connect(stack.tmp / "data" / "portal.db", timeout=10, isolation_level=None)

        def changed(name):
            """A change behind `name`'s home page before each view (its revision raised, as any
            review, attempt or journal entry raises it), so the page is read and rendered anew."""
            return lambda: database.execute(
                "UPDATE learner SET home_revision = home_revision + 1 WHERE username = ?", (name,))

        rows.append(("GET / (logged in), rendered anew: a change before each view",
                     portal.measure(fresh, base + "/", args.requests, "home-changed", before=changed("bencher"))))
        run([sys.executable, str(REPO / "experiments" / "seed" / "seed_class.py"), "--db",
             str(stack.tmp / "data" / "portal.db"), "--learners", "50", "--scale", "10", "--days", "365"])
        learner = login("student01")
        for path in ("/review", "/journal", "/quiz/phase-0", "/"):
            rows.append((f"GET {path} (class of 50)", portal.measure(learner, base + path, args.requests, path)))
        rows.append(("GET / (class of 50), rendered anew", portal.measure(
            learner, base + "/", args.requests, "/-changed", before=changed("student01"))))
        behind = login("student10")
        for path in ("/review", "/"):
            rows.append((f"GET {path} (class of 50, learner with a backlog)",
                         portal.measure(behind, base + path, args.requests, "backlog" + path)))
        rows.append(("GET / (class of 50, learner with a backlog), rendered anew", portal.measure(
            behind, base + "/", args.requests, "backlog/-changed", before=changed("student10"))))
    finally:
        stack.stop()

    commit = records.stamp()
    baseline = rows[0][1]
    lines = [
        "# Instructions per request",
        "",
        f"Generated {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC at commit `{commit}` by",
        "",
        "```sh",
        "swift build -c release && experiments/bench/instructions.py" + (
            f" --requests {args.requests}" if args.requests != 50 else ""),
        "```",
        "",
        "User-space instructions of the responder process per request (valgrind callgrind), "
        f"{args.requests} sequential requests per row through Caddy, one worker, after 20 warm-up "
        "requests. The same from run to run, unlike requests/s on this machine. The kernel, Caddy "
        "and the client are not counted. Class rows: the seeded class of bench.py "
        "(experiments/seed/seed_class.py --scale 10; student01 keeps up with reviews, student10 "
        "has a backlog). GET / keeps each learner's page until something on it changes "
        "(migration v6-home-revision); the rows \"rendered anew\" raise the learner's revision "
        "before every view, as a review, attempt or journal entry would, so each view reads "
        "and renders the page.",
        "",
        "| request | k instructions | × no-op |",
        "| --- | ---: | ---: |",
    ]
    for label, count in rows:
        lines.append(f"| {label} | {count / 1000:.1f} | {count / baseline:.1f} |")
    lines.append("")
    (pathlib.Path(args.out) if args.out else records.path("experiments/bench/INSTRUCTIONS.md")).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
