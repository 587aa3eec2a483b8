#!/usr/bin/env python3
"""Measures what a frequent snapshot (`lynx-backup --frequent`) costs, and writes
experiments/41-deploy/snapshot-cost.md.

Usage: make record-snapshot-cost    (the release binary; or, writing under .records/:
       LYNX_PORTAL_BIN=.build/debug/lynx-portal python3 experiments/41-deploy/snapshot-cost.py
       [--runs 12] [--interval 20] [--out FILE])

The real stack: the portal binary behind Caddy on a data directory seeded with the benchmark's
class (experiments/seed/seed_class.py --learners 50 --scale 10 --days 365, as
experiments/bench/bench.py seeds it), an encrypted borg repository on a loopback sshd with the
append-only restricted key (Tests/integration/borg_support.py: BackupRig), and the real
deploy/backup/borg-backup.sh. While learners answer reviews and write journal entries through
Caddy (a steady write load, one thread per learner, plus a reader), `lynx-backup --frequent` is
started every --interval seconds, --runs times, after one unmeasured first run (the full
archive). Per run it measures:

- CPU seconds of the run's whole process tree on the portal's host (the script, the portal's
  snapshot and verify, python, borg, ssh: getrusage of the reaped children), and of the backup
  host's side (sshd and `borg serve`: the listening sshd's reaped-children time);
- bytes sent: counted on the wire by a TCP relay between ssh and sshd (SSH-encrypted, both
  directions), beside what borg reports the archive added to the repository;
- the repository's growth (borg's unique compressed size, from the run's JSON log line);
- the time from the scheduled moment to the archive being off-site (the tick to borg create's
  "created" line);
- the portal's p99 latency for the requests that started while a run was going, against those
  that started outside every run (the baseline, in the same run).

Every figure in the log is measured in this run; the per-day figures are extrapolated from the
measured runs (96 runs a day at the default 15-minute interval), as the log says.
"""
import argparse
import datetime
import os
import pathlib
import platform
import re
import resource
import socket
import statistics
import subprocess
import sys
import threading
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
os.environ.setdefault("LYNX_PORTAL_BIN", str(REPO / ".build" / "debug" / "lynx-portal"))
sys.path.insert(0, str(REPO / "Tests" / "integration"))
sys.path.insert(0, str(REPO / "experiments"))

from borg_support import BACKUP, BINARY, BackupRig, run  # noqa: E402
from conftest import Client, csrf_token  # noqa: E402
import records  # noqa: E402

SEED = REPO / "experiments" / "seed" / "seed_class.py"
CPU_TARGET = 2.0  # seconds of CPU per run
P99_TARGET = 50.0  # milliseconds, the portal's p99 during a snapshot
DEFAULT_INTERVAL_MINUTES = 15
TICK = os.sysconf("SC_CLK_TCK")


class CountingRelay:
    """A TCP relay from a local port to the backup host's sshd that counts the bytes in each
    direction: what a run really sends off-site (SSH-encrypted, protocol overhead included)."""

    def __init__(self, target_port):
        self.target = target_port
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.sent = 0  # towards the backup host
        self.received = 0
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self.pump, args=(client, upstream, "sent"), daemon=True).start()
            threading.Thread(target=self.pump, args=(upstream, client, "received"), daemon=True).start()

    def pump(self, source, sink, counter):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
                with self.lock:
                    setattr(self, counter, getattr(self, counter) + len(data))
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def counts(self):
        with self.lock:
            return self.sent, self.received

    def close(self):
        self.closed = True
        self.listener.close()


def reaped_cpu_seconds(pid):
    """User + system CPU of a process's reaped children (fields cutime, cstime of /proc/PID/stat)."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / TICK


def seeded(stack):
    stack.data.mkdir(parents=True, exist_ok=True)
    stack.cli("migrate")
    run([sys.executable, SEED, "--db", stack.data / "portal.db", "--learners", "50", "--scale", "10",
         "--days", "365"], timeout=900)


class Load:
    """Learners answering reviews and writing journal entries through Caddy, and a reader; every
    request's start time and latency is kept."""

    def __init__(self, rig, learners, pause):
        self.rig, self.pause = rig, pause
        self.stop = threading.Event()
        self.samples = []  # (start, milliseconds, kind)
        self.errors = []
        self.writes = {"review": 0, "journal": 0}
        self.lock = threading.Lock()
        self.clients = []
        for number in range(1, learners + 1):
            name = f"student{number:02d}"
            code = re.search(r"^setup code: (\S+)$", rig.stack.cli("user", "reset", name).stdout, re.M).group(1)
            client = Client(rig.stack.base)
            response = client.first_login(name, code)
            assert response.status_code == 200 and client.session_cookie(), response.text
            self.clients.append(client)
        self.threads = [threading.Thread(target=self.learner, args=(client,)) for client in self.clients]
        self.threads.append(threading.Thread(target=self.reader, args=(self.clients[0],)))

    def timed(self, kind, call):
        started = time.monotonic()
        try:
            response = call()
        except Exception as error:  # noqa: BLE001 - a failed request is counted, the load goes on
            with self.lock:
                self.errors.append(repr(error))
            return None
        with self.lock:
            self.samples.append((started, (time.monotonic() - started) * 1000, kind))
        return response

    def learner(self, client):
        csrf = csrf_token(client.get("/journal/new").text)
        card = None
        for number in range(1000000):  # bounded: stops when told
            if self.stop.is_set():
                return
            if card is None:
                page = self.timed("read", lambda: client.get("/review"))
                found = page is not None and re.search(r'name="card" value="(\d+)"', page.text)
                if found:
                    card = found.group(1)
                    options = re.findall(r'name="option" value="(\d+)"', page.text)
            if card is not None:
                # A wrong answer grades the card and queues it again today: every answer writes.
                for option in options:
                    response = self.timed("write", lambda: client.post(
                        "/review/answer", {"csrf": csrf, "card": card, "option": option}))
                    if response is not None and response.status_code == 303 and "missed=" in response.headers.get(
                            "Location", ""):
                        with self.lock:
                            self.writes["review"] += 1
                        break
                else:
                    card = None  # answered right (no write) or no longer queued: look again
            response = self.timed("write", lambda: client.post(
                "/journal/new", {"csrf": csrf, "title": f"evening notes {number}", "body": "What I learned. " * 20}))
            if response is not None and response.status_code == 303:
                with self.lock:
                    self.writes["journal"] += 1
            elif response is not None:
                with self.lock:
                    self.errors.append(f"journal {response.status_code}")
            self.stop.wait(self.pause)

    def reader(self, client):
        while not self.stop.is_set():
            for path in ("/", "/journal", "/review"):
                self.timed("read", lambda: client.get(path))
            self.stop.wait(self.pause)

    def start(self):
        for thread in self.threads:
            thread.start()

    def finish(self):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)


def frequent_run(rig, env, sshd_pid, relay, due):
    """One `lynx-backup --frequent`, started at `due` (monotonic): its figures."""
    while time.monotonic() < due:
        time.sleep(0.005)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    host_before = reaped_cpu_seconds(sshd_pid)
    sent_before, received_before = relay.counts()
    started = time.monotonic()
    process = subprocess.Popen([str(BACKUP), "--frequent"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    created, stderr = None, []
    for line in process.stderr:
        stderr.append(line)
        if created is None and re.search(r"\bcreated lynx-portal-\S+-frequent\b", line):
            created = time.monotonic()
    process.wait()
    ended = time.monotonic()
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    time.sleep(0.3)  # sshd reaps its session's processes just after the connection closes
    line = next(line for line in reversed(rig.log_lines()) if line["job"] == "frequent")
    sent_after, received_after = relay.counts()
    if process.returncode != 0:
        raise SystemExit(f"snapshot-cost: lynx-backup --frequent exited {process.returncode}:\n{''.join(stderr)}")
    return {
        "due": due, "start": started, "end": ended,
        "outcome": line["outcome"], "archive": line.get("archive"),
        "cpu_seconds": (children_after.ru_utime - children_before.ru_utime)
        + (children_after.ru_stime - children_before.ru_stime),
        "host_cpu_seconds": reaped_cpu_seconds(sshd_pid) - host_before,
        "bytes_sent": sent_after - sent_before, "bytes_received": received_after - received_before,
        "increment_bytes": line.get("increment_bytes"), "repository_bytes": line.get("repository_bytes"),
        "snapshot_bytes": line.get("snapshot_bytes"),
        "offsite_seconds": (created - due) if created else None,
        "wall_seconds": ended - started,
        "phases": {key: line.get(key) for key in ("snapshot_seconds", "verify_seconds", "borg_create_seconds")},
    }


def p99(values):
    if len(values) < 2:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def latency_split(samples, runs, kind=None):
    windows = [(r["start"], r["end"]) for r in runs]
    first, last = runs[0]["due"], runs[-1]["end"]
    inside, outside = [], []
    for started, ms, sample_kind in samples:
        if kind and sample_kind != kind:
            continue
        if not first - 1 <= started <= last:
            continue
        (inside if any(a <= started <= b for a, b in windows) else outside).append(ms)
    return inside, outside


def kib(count):
    return f"{count / 1024:.1f} KiB"


def mib(count):
    return f"{count / 1048576:.2f} MiB"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=12, help="measured frequent runs (after one unmeasured first run)")
    parser.add_argument("--interval", type=float, default=20, help="seconds between the runs' scheduled moments")
    parser.add_argument("--learners", type=int, default=4, help="learners writing at once (one thread each)")
    parser.add_argument("--pause", type=float, default=0.25, help="seconds each load thread waits between rounds")
    parser.add_argument("--out", help="the log to write (default experiments/41-deploy/snapshot-cost.md)")
    args = parser.parse_args()
    if args.runs < 1 or args.interval <= 0:
        parser.error("--runs must be at least 1 and --interval positive")
    records.check()
    out = pathlib.Path(args.out) if args.out else records.path("experiments/41-deploy/snapshot-cost.md")
    began = time.perf_counter()
    load_average = os.getloadavg()

    with BackupRig(over_ssh=True, prepare_data=seeded) as rig:
        relay = CountingRelay(rig.host.port)
        try:
            # Through the relay: ssh connects to its port, so its host key is known there too.
            host_key = (rig.host.dir / "host_key.pub").read_text().split()
            with open(rig.host.dir / "known_hosts", "a") as known:
                known.write(f"[127.0.0.1]:{relay.port} {host_key[0]} {host_key[1]}\n")
            rig.write_borg_env(BORG_REPO=f"ssh://{rig.host.user}@127.0.0.1:{relay.port}{rig.host.repo}")
            # The repository was created at the sshd's own port: the same one, reached another way.
            env = rig.script_env(BORG_RELOCATED_REPO_ACCESS_IS_OK="yes")
            sshd_pid = rig.host.process.pid
            db_bytes = (rig.stack.data / "portal.db").stat().st_size
            counts = rig.stack.db()
            rows = {table: counts.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                    for table in ("learner", "review_card", "review_log", "journal_entry", "attempt")}
            counts.close()

            load = Load(rig, args.learners, args.pause)
            load_started = time.monotonic()
            load.start()
            try:
                first = frequent_run(rig, env, sshd_pid, relay, time.monotonic())
                print(f"first (full) run: {first['outcome']}, {first['wall_seconds']:.2f} s, "
                      f"sent {kib(first['bytes_sent'])}")
                time.sleep(min(args.interval, 5))  # a baseline before the first measured run
                start = time.monotonic()
                runs = []
                for number in range(args.runs):
                    figures = frequent_run(rig, env, sshd_pid, relay, start + number * args.interval)
                    runs.append(figures)
                    print(f"run {number + 1}: {figures['outcome']}, cpu {figures['cpu_seconds']:.2f} s "
                          f"(backup host {figures['host_cpu_seconds']:.2f} s), sent {kib(figures['bytes_sent'])}, "
                          f"increment {kib(figures['increment_bytes'] or 0)}, "
                          f"off-site after {figures['offsite_seconds'] or float('nan'):.2f} s")
                # Outside the last window too, so both sides have the same span of load.
                time.sleep(min(args.interval, 5))
                tail = time.monotonic()
            finally:
                load.finish()
                load_seconds = time.monotonic() - load_started
        finally:
            relay.close()
    writes = dict(load.writes)
    samples = [sample for sample in load.samples if sample[0] <= tail]

    ok = [r for r in runs if r["outcome"] == "ok"]
    growth = [b["repository_bytes"] - a["repository_bytes"]
              for a, b in zip([first] + runs, runs) if b["outcome"] == "ok" and a["repository_bytes"] is not None]
    cpu = [r["cpu_seconds"] for r in runs]
    added = [r["increment_bytes"] for r in ok if r["increment_bytes"] is not None]
    chunks = -(-max(r["snapshot_bytes"] or 0 for r in runs) // 4096)
    host_cpu = [r["host_cpu_seconds"] for r in runs]
    sent = [r["bytes_sent"] for r in runs]
    offsite = [r["offsite_seconds"] for r in ok if r["offsite_seconds"] is not None]
    inside, outside = latency_split(samples, runs)
    inside_w, outside_w = latency_split(samples, runs, "write")
    span = runs[-1]["end"] - runs[0]["due"]
    per_day = 24 * 60 / DEFAULT_INTERVAL_MINUTES
    cpu_ok = max(cpu) < CPU_TARGET
    p99_inside = p99(inside)
    p99_ok = p99_inside < P99_TARGET

    def seconds(values):
        return f"{statistics.median(values):.2f} s ({min(values):.2f}–{max(values):.2f})" if values else "n/a"

    def sizes(values, render=kib):
        return f"{render(statistics.median(values))} ({render(min(values))}–{render(max(values))})" if values else "n/a"

    build = ("debug" if "/debug/" in str(BINARY) else
             "release" if "/release/" in str(BINARY) or "/dist/lynx-portal/" in str(BINARY) else str(BINARY))
    versions = {
        "borg": run(["borg", "--version"]).stdout.strip(),
        "caddy": run(["caddy", "version"]).stdout.split()[0],
        "portal": run([BINARY, "--version"]).stdout.strip(),
    }
    lines = [
        "# What a frequent snapshot costs", "",
        f"Generated {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC at commit `{records.stamp()}` by "
        f"`make record-snapshot-cost` (`python3 experiments/41-deploy/snapshot-cost.py --runs {args.runs} "
        f"--interval {args.interval:g} --learners {args.learners} --pause {args.pause:g}`). It runs the real "
        "`deploy/backup/borg-backup.sh --frequent` against an encrypted borg repository on a loopback sshd with the "
        "append-only, path-restricted key, with the `lynx-portal` binary behind Caddy serving the benchmark's class "
        "(`experiments/seed/seed_class.py --learners 50 --scale 10 --days 365`) under a steady write load. "
        "Every figure below was measured in that run, except the per-day figures, which are extrapolated "
        f"from the measured runs as stated.", "",
        f"Machine: {platform.node() or 'unknown'}, {os.cpu_count()} cores, {platform.platform()}; {versions['borg']}, "
        f"Caddy {versions['caddy']}, lynx-portal {versions['portal']} ({build} build). Load average when it started: "
        f"{load_average[0]:.2f} / {load_average[1]:.2f} / {load_average[2]:.2f}. Total run time "
        f"{time.perf_counter() - began:.0f} s.", "",
        "## The class and the load", "",
        f"Database {mib(db_bytes)} before the load: " + ", ".join(f"{count} {table}" for table, count in rows.items())
        + f". {args.learners} learners (one thread each) answer a due review card wrongly (each answer grades the "
        f"card and writes a review_log row) and write a journal entry, pausing {args.pause:g} s between rounds; a "
        f"reader thread fetches `/`, `/journal` and `/review`. In the {load_seconds:.0f} s the load ran they wrote "
        f"{writes['review']} review answers and {writes['journal']} journal entries "
        f"({(writes['review'] + writes['journal']) / max(load_seconds, 1):.1f} writes/s). The seed's simulated day of "
        f"a class of 50 (`--simulate-day`) is 1,000 graded cards and 50 journal entries: every run here follows more "
        f"writes than a quarter of an hour of a real class would. Request errors: {len(load.errors)}"
        + (f" (first: {load.errors[0]})" if load.errors else "") + ".", "",
        f"One unmeasured first run sent the full archive ({kib(first['bytes_sent'])} on the wire, "
        f"{kib(first['increment_bytes'] or 0)} added to the repository); then `lynx-backup --frequent` was started "
        f"every {args.interval:g} s, {args.runs} times (standing in for cron's `--if-due` call at each interval).", "",
        "## Per run", "",
        "| run | outcome | CPU, portal host (s) | CPU, backup host (s) | sent / received on the wire | "
        "added to the repository | repository after | scheduled → off-site (s) | snapshot / verify / borg create (s) |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for number, r in enumerate(runs, 1):
        phases = " / ".join(str(r["phases"][key]) if r["phases"][key] is not None else "–"
                            for key in ("snapshot_seconds", "verify_seconds", "borg_create_seconds"))
        lines.append(
            f"| {number} | {r['outcome']} | {r['cpu_seconds']:.2f} | {r['host_cpu_seconds']:.2f} | "
            f"{kib(r['bytes_sent'])} / {kib(r['bytes_received'])} | {kib(r['increment_bytes'] or 0)} | "
            f"{mib(r['repository_bytes'] or 0)} | "
            f"{r['offsite_seconds']:.2f} | {phases} |" if r["offsite_seconds"] is not None else
            f"| {number} | {r['outcome']} | {r['cpu_seconds']:.2f} | {r['host_cpu_seconds']:.2f} | "
            f"{kib(r['bytes_sent'])} / {kib(r['bytes_received'])} | – | – | – | {phases} |")
    lines += [
        "", "## Summary (median, range in brackets)", "",
        "| figure | value |", "| --- | ---: |",
        f"| CPU per run, the run's whole process tree on the portal's host | {seconds(cpu)} |",
        f"| CPU per run on the backup host (sshd, borg serve) | {seconds(host_cpu)} |",
        f"| bytes sent per run (on the wire, towards the backup host) | {sizes(sent)} |",
        f"| repository growth per run that sent an archive | {sizes(growth)} |",
        f"| scheduled moment → archive off-site (borg create done) | {seconds(offsite)} |",
        f"| runs that sent an archive / unchanged | {len(ok)} / {sum(1 for r in runs if r['outcome'] == 'unchanged')} |",
        f"| portal p99, requests started during a snapshot ({len(inside)} requests) | {p99_inside:.1f} ms |",
        f"| portal p99, requests started outside every snapshot ({len(outside)} requests) | {p99(outside):.1f} ms |",
        f"| … writes only: during ({len(inside_w)}) / outside ({len(outside_w)}) | "
        f"{p99(inside_w):.1f} ms / {p99(outside_w):.1f} ms |",
        f"| portal median, during / outside | {statistics.median(inside) if inside else float('nan'):.1f} ms / "
        f"{statistics.median(outside) if outside else float('nan'):.1f} ms |",
        "",
        f"Per day at the default {DEFAULT_INTERVAL_MINUTES}-minute interval ({per_day:.0f} runs), **extrapolated** "
        "from the measured runs (each run's figure × 96; the load here writes far more per interval than a class "
        "does, so for a real class these are upper bounds, and evening hours send while night hours are "
        "`unchanged`, which costs a snapshot and no archive):", "",
        f"- CPU on the portal's host: {statistics.mean(cpu) * per_day / 60:.1f} min a day",
        f"- sent off-site: {mib(statistics.mean(sent) * per_day)} a day",
        f"- repository growth before pruning: {mib(statistics.mean(growth) * per_day) if growth else 'n/a'} a day "
        "(retention then keeps every snapshot for 48 hours and one an hour for a week; compaction on the backup "
        "host frees the rest)",
        "",
        f"The repository grows by more than the data borg counts as new (median {kib(statistics.median(added)) if added else 'n/a'} "
        f"per run). The difference is consistent with the archive's own metadata, stored with every archive: it "
        f"lists each of the snapshot's {chunks} chunks of 4 KiB (a 32-byte id and two sizes each, about "
        f"{kib(chunks * 40)}), so at this database size that list, more than the changed pages, is what a run sends."
        if added else "",
        "", "## Against the targets", "",
        f"- A run costs under {CPU_TARGET:g} s of CPU: slowest run {max(cpu):.2f} s, median "
        f"{statistics.median(cpu):.2f} s — **{'met' if cpu_ok else 'NOT met'}**.",
        f"- The portal's p99 during a snapshot stays under {P99_TARGET:g} ms: {p99_inside:.1f} ms (outside: "
        f"{p99(outside):.1f} ms) — **{'met' if p99_ok else 'NOT met'}**.",
        "",
    ]
    if build == "debug":
        lines.insert(-1, "- This run used a debug build: the portal's CPU and latency are higher than a release "
                         "build's (`make record-snapshot-cost` runs the release binary of `make release`).")
    out.write_text("\n".join(lines))
    print("\n".join(lines[lines.index("## Summary (median, range in brackets)"):]))
    print(f"wrote {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")


if __name__ == "__main__":
    main()
