#!/usr/bin/env python3
"""Memory and disk of the portal under a flood of refused logins with distinct usernames, through
Caddy, from one client; writes experiments/abuse/RESULTS.md.

Usage: experiments/abuse/key_flood.py [--names N] [--rounds N] [--long-names N] [--argon2 m=KIB,t=N,p=N]
           [--binary PATH]
The per-address limit is off (LYNX_LOGIN_ADDRESS_LIMIT=0, as behind a school NAT), so every
request reaches the password check and names a new throttle key. Argon2 is cheap by default
(m=8,t=1,p=1) so the run measures the throttle and the audit log, not hashing time; pass
--argon2 m=19456,t=2,p=1 for the production cost. RSS is VmRSS from /proc/PID/status.
"""
import argparse
import concurrent.futures
import datetime
import os
import pathlib
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "Tests" / "integration"))


def rss_kib(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def audit_bytes(stack):
    return sum(path.stat().st_size for path in (stack.data / "audit").glob("*.log"))


def flood(stack, names, workers=4):
    """Posts a wrong password for every name; returns the status counts."""
    local = threading.local()
    counts = {}
    lock = threading.Lock()

    def one(name):
        if not hasattr(local, "client"):
            local.client = stack.client()
            local.token = local.client.csrf_from("/login")
        status = local.client.post(
            "/login", {"username": name, "password": "wrong wrong wrong wrong", "csrf": local.token}).status_code
        with lock:
            counts[status] = counts.get(status, 0) + 1

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, names))
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--names", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=4, help="floods of --names distinct usernames")
    parser.add_argument("--long-names", type=int, default=2_000)
    parser.add_argument("--argon2", default="m=8,t=1,p=1")
    parser.add_argument("--binary", default=str(REPO / ".build" / "debug" / "lynx-portal"))
    args = parser.parse_args()
    os.environ["LYNX_PORTAL_BIN"] = args.binary
    import conftest  # noqa: E402  (reads LYNX_PORTAL_BIN)

    tmp = tempfile.mkdtemp(prefix="lynx-flood-")
    stack = conftest.Stack(tmp, env={"LYNX_LOGIN_ADDRESS_LIMIT": "0", "LYNX_ARGON2": args.argon2,
                                       "LYNX_ARGON2_ALLOW_WEAK": "test"})
    rows = []
    try:
        stack.start()
        at_start = rss_kib(stack.portal_pid())
        stack.learner("ada")
        flood(stack, ["warmup" + secrets.token_hex(4) for _ in range(200)])
        pid = stack.portal_pid()
        phases = [
            (f"{args.names} distinct valid-looking unknown usernames",
             lambda: ["n" + secrets.token_hex(6) for _ in range(args.names)]),
        ]
        phases += [
            (f"{args.names} more, all different again", lambda: ["n" + secrets.token_hex(6) for _ in range(args.names)])
        ] * (args.rounds - 1)
        phases.append((f"{args.long_names} distinct 60 KB usernames",
                       lambda: [secrets.token_hex(8) + "x" * 60_000 for _ in range(args.long_names)]))
        for label, names in phases:
            names = names()
            before, disk_before = rss_kib(pid), audit_bytes(stack)
            started = time.monotonic()
            counts = flood(stack, names)
            seconds = time.monotonic() - started
            rows.append((label, counts, before, rss_kib(pid), audit_bytes(stack) - disk_before, len(names), seconds))
        ok = stack.client().login("ada").status_code == 303
    finally:
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Refused-login flood: memory and disk",
        "",
        f"Run {now} at commit `{commit}`: `experiments/abuse/key_flood.py {' '.join(sys.argv[1:])}`".rstrip(),
        "",
        f"One client through Caddy, 4 threads, `LYNX_LOGIN_ADDRESS_LIMIT=0`, `LYNX_ARGON2={args.argon2}`, "
        f"debug build unless `--binary` says otherwise; 200 refused logins first as a warm-up.",
        "",
        "| flood | responses | VmRSS before | VmRSS after | audit bytes added | bytes per request | seconds |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label, counts, before, after, disk, requests, seconds in rows:
        statuses = ", ".join(f"{count}× {status}" for status, count in sorted(counts.items()))
        lines.append(f"| {label} | {statuses} | {before / 1024:.1f} MiB | {after / 1024:.1f} MiB | {disk} | "
                     f"{disk / requests:.0f} | {seconds:.1f} |")
    lines += ["", f"VmRSS right after start: {at_start / 1024:.1f} MiB.",
              "", f"The learner `ada` could still log in afterwards: {'yes' if ok else 'NO'}.", ""]
    text = "\n".join(lines)
    (REPO / "experiments" / "abuse" / "RESULTS.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
