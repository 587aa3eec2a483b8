#!/usr/bin/env python3
"""Long reliability runs against the real binary behind real Caddy; each writes its section of
experiments/reliability/RESULTS.md (see record.py).

Usage: experiments/reliability/run.py [soak|crash|disk-full|contention|garbage|abuse|all]
           [--learners N] [--seconds S] [--kills N] [--key-flood N] [--binary PATH]
Defaults are the long versions: 50 learners × 30 min soak, 50 kills, two rounds of 20,000
distinct usernames. `make test` runs bounded versions of the same scenarios
(Tests/integration/test_reliability.py, and for abuse test_abuse_budget.py, test_slow_clients.py
and test_numbers.py). `make record-reliability` runs them all and commits the sections.
"""
import argparse
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "Tests" / "integration"))


def hostile_number_probes(binary):
    """Runs the route-table probe test (Tests/integration/test_numbers.py) and reads its counts."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "test_numbers.py"],
        cwd=REPO / "Tests" / "integration", env=dict(os.environ, LYNX_PORTAL_BIN=binary),
        capture_output=True, text=True, timeout=900)
    found = re.search(r"numeric probes: (\d+) route x parameter pairs, (\d+) requests, (\d+) values each",
                      result.stdout)
    return result.returncode, found


def abuse(factory, args):
    import reliability  # noqa: E402
    figures = reliability.abuse(factory, key_flood=args.key_flood)
    problems = figures.pop("problems")
    status, found = hostile_number_probes(args.binary)
    if found:
        pairs, requests, values = found.groups()
        figures["hostile numbers: route x parameter pairs, values each, requests (all clean 4xx, process alive)"] = (
            f"{pairs}, {values}, {requests}")
    if status != 0 or not found:
        problems.append(f"test_numbers.py exited {status}")
    figures["problems"] = problems
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", nargs="?", default="all",
                        choices=["soak", "crash", "disk-full", "contention", "garbage", "abuse", "all"])
    parser.add_argument("--learners", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=1800)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--key-flood", type=int, default=20_000, help="distinct usernames per round (abuse)")
    parser.add_argument("--binary", default=str(REPO / ".build" / "debug" / "lynx-portal"))
    args = parser.parse_args()
    os.environ["LYNX_PORTAL_BIN"] = args.binary
    import conftest  # noqa: E402  (reads LYNX_PORTAL_BIN)
    import reliability  # noqa: E402

    made = []

    def factory(**kw):
        stack = conftest.Stack(tempfile.mkdtemp(prefix="lynx-rel-"), **kw)
        made.append(stack)
        return stack

    command = "experiments/reliability/run.py " + " ".join(sys.argv[1:])
    scenarios = {
        "soak": ("Soak", lambda: reliability.soak(factory().start(), learners=args.learners, seconds=args.seconds)),
        "crash": ("Crash: SIGKILL under writes", lambda: reliability.crash(factory().start(), kills=args.kills)),
        "disk-full": ("Disk full", lambda: reliability.disk_full(factory)),
        "contention": ("Lock contention", lambda: reliability.contention(factory().start())),
        "garbage": ("Garbage on the FastCGI socket", lambda: reliability.garbage(factory().start(), rounds=2000)),
        "abuse": ("Abuse: refused-login floods, slow bodies, hostile numbers",
                  lambda: abuse(factory, args)),
    }
    chosen = list(scenarios) if args.scenario == "all" else [args.scenario]
    failed = False
    for name in chosen:
        title, run = scenarios[name]
        try:
            figures = run()
        finally:
            for stack in made:
                stack.stop()
                shutil.rmtree(stack.tmp, ignore_errors=True)
            made.clear()
        body = reliability.markdown(figures)
        print(f"## {title}\n{body}")
        subprocess.run([sys.executable, str(pathlib.Path(__file__).with_name("record.py")), name, title, command],
                       input=body, text=True, check=True)
        failed |= bool(figures["problems"])
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
