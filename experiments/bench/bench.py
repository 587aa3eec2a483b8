#!/usr/bin/env python3
"""Benchmark lynx-portal as deployed: Caddy in front, the release binary on a unix socket.

Reports requests/s and p50/p99 at N connections (wrk) for portal pages next to two ceilings
measured in the same run: Caddy serving a static file of similar size (the front's ceiling),
and a no-op libfcgi responder behind the same Caddy (the transport's ceiling; measured again
around every compared row, see `wrk`). Also POST /login
next to raw Argon2id at the same parameters, and the portal's resident memory.

Usage: experiments/bench/run.sh [--duration S] [--repeat N] [--connections N] [--class] [--out FILE]
"""
import argparse
import datetime
import http.client
import os
import pathlib
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import requests

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "Tests" / "integration"))
sys.path.insert(0, str(REPO / "experiments"))
import records  # noqa: E402
from conftest import Client, PASSWORD, csrf_token  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(command, **kw):
    return subprocess.run(command, check=True, capture_output=True, text=True, **kw)


class Bench:
    def __init__(self, args):
        self.args = args
        self.tmp = pathlib.Path(tempfile.mkdtemp(prefix="lynx-bench-"))
        self.processes = []
        self.binary = pathlib.Path(args.binary)
        self.env = dict(os.environ)
        self.env.update({
            "LYNX_PEPPER": os.urandom(32).hex(), "LYNX_SESSION_SECRET": os.urandom(32).hex(),
            "LYNX_DATA_DIR": str(self.tmp / "data"), "LYNX_TEMPLATES_DIR": str(REPO / "templates"),
            "LYNX_COOKIE_SECURE": "false",
        })
        self.rows = []
        self.rss_samples = []

    # processes

    def start(self, command, env=None, log="log"):
        out = open(self.tmp / f"{log}.log", "ab")
        process = subprocess.Popen(command, env=env or self.env, stdout=out, stderr=out)
        self.processes.append(process)
        return process

    def caddy(self, port, socket_path, root):
        env = dict(self.env)
        env.update({"LYNX_SITE": f"http://127.0.0.1:{port}", "LYNX_CADDY_ADMIN": "off",
                    "LYNX_ACCESS_LOG": str(self.tmp / f"access-{port}.log"), "LYNX_ROOT": str(root),
                    "LYNX_SOCKET": str(socket_path), "XDG_DATA_HOME": str(self.tmp / "caddy"),
                    "XDG_CONFIG_HOME": str(self.tmp / "caddy")})
        self.start(["caddy", "run", "--config", str(REPO / "deploy" / "Caddyfile"), "--adapter", "caddyfile"],
                   env=env, log=f"caddy-{port}")

    def wait(self, url, attempts=300, pause=0.05, timeout=1):
        for _ in range(attempts):
            try:
                if requests.get(url, timeout=timeout).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(pause)
        raise RuntimeError(f"{url} never answered; logs in {self.tmp}")

    def stop(self):
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # measurements

    def rss_kib(self):
        for line in pathlib.Path(f"/proc/{self.portal.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def sample_rss(self, stop):
        while not stop.is_set():
            self.rss_samples.append(self.rss_kib())
            time.sleep(0.2)

    def adjacent_ceiling(self, ceiling):
        """The no-op responder's req/s right now (half a row's duration), not a table row."""
        output = run(["wrk", "-t2", f"-c{self.args.connections}", f"-d{max(1, self.args.duration // 2)}s",
                      ceiling["url"]]).stdout
        return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))

    def wrk(self, label, url, headers=(), script=None, ceiling=None):
        """One table row. With a ceiling row, the row runs --repeat times, each run between two
        half-length runs of the no-op responder (shared by neighbouring runs), and each run is
        compared with the mean of the two around it: this machine's speed drifts by a quarter
        within minutes, so a ceiling measured minutes earlier is not the one a row ran against.
        The row reports the median run (by that ratio) and every run's ratio."""
        command = ["wrk", "-t2", f"-c{self.args.connections}", f"-d{self.args.duration}s", "--latency"]
        for header in headers:
            command += ["-H", header]
        if script:
            command += ["-s", str(script)]
        runs = []
        before = self.adjacent_ceiling(ceiling) if ceiling else None
        for _ in range(self.args.repeat if ceiling else 1):
            output = run(command + [url]).stdout
            after = self.adjacent_ceiling(ceiling) if ceiling else None
            runs.append(self.parse_wrk(output, (before + after) / 2 if ceiling else None))
            before = after
        if ceiling:
            runs.sort(key=lambda one: one["rps"] / one["adjacent"])
        row = dict(runs[len(runs) // 2])
        row.update({"label": label, "ceiling": ceiling, "url": url,
                    "ratios": [one["rps"] / one["adjacent"] for one in runs] if ceiling else []})
        self.rows.append(row)
        print(f"{label:38s} {row['rps']:9.0f} req/s  p50 {row['p50']:7.2f} ms  p99 {row['p99']:7.2f} ms"
              f"  non-2xx {row['non2xx']}" + (
                  "  vs ceiling " + " ".join(f"{ratio:.0%}" for ratio in row["ratios"]) if ceiling else ""),
              flush=True)
        return row

    @staticmethod
    def parse_wrk(output, adjacent):
        def latency(percent):
            match = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
            value, unit = float(match.group(1)), match.group(2)
            return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

        errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
        socket_errors = re.search(r"Socket errors: (.*)", output)
        return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)), "p50": latency(50),
                "p99": latency(99), "non2xx": int(errors.group(1)) if errors else 0,
                "socket_errors": socket_errors.group(1) if socket_errors else "none", "adjacent": adjacent}

    def main(self):
        tools = self.tmp / "tools"
        tools.mkdir()
        here = pathlib.Path(__file__).parent
        run(["gcc", "-O2", "-o", str(tools / "noop"), str(here / "noop-responder.c"), "-lfcgi", "-lpthread"])
        run(["gcc", "-O2", "-o", str(tools / "argon2-raw"), str(here / "argon2-raw.c"), "-largon2"])

        run([str(self.binary), "migrate"], env=self.env)
        run([str(self.binary), "quiz", "import", str(REPO / "quizzes" / "phase-0.gift")], env=self.env)
        out = run([str(self.binary), "user", "add", "bencher"], env=self.env).stdout
        code = re.search(r"^setup code: (\S+)$", out, re.M).group(1)

        portal_socket = self.tmp / "portal.sock"
        noop_socket = self.tmp / "noop.sock"
        self.portal = self.start([str(self.binary), "serve", "--socket", str(portal_socket),
                                  "--workers", str(self.args.workers)], log="portal")
        self.start([str(tools / "noop"), str(noop_socket), str(self.args.workers)], log="noop")
        # A static root holding the real stylesheet and a file the size of the login page.
        root = self.tmp / "root"
        (root / "static").mkdir(parents=True)
        portal_port, noop_port = free_port(), free_port()
        base = f"http://127.0.0.1:{portal_port}"
        for _ in range(100):
            if portal_socket.exists() and noop_socket.exists():
                break
            time.sleep(0.05)
        self.caddy(portal_port, portal_socket, root)
        self.caddy(noop_port, noop_socket, root)
        self.wait(base + "/healthz")
        self.wait(f"http://127.0.0.1:{noop_port}/healthz")
        login_page = requests.get(base + "/login")
        (root / "static" / "page.html").write_bytes(login_page.content)
        time.sleep(1)
        idle_rss = self.rss_kib()

        client = Client(base)
        assert client.first_login("bencher", code).status_code == 200
        cookie = f"Cookie: lynx_session={client.session_cookie()}"

        stop = threading.Event()
        sampler = threading.Thread(target=self.sample_rss, args=(stop,))
        sampler.start()
        try:
            static = self.wrk("static file via Caddy (front ceiling)", base + "/static/page.html")
            noop = self.wrk("no-op libfcgi responder (transport ceiling)", f"http://127.0.0.1:{noop_port}/healthz")
            self.wrk("GET /healthz", base + "/healthz", ceiling=noop)
            self.wrk("GET /login", base + "/login", ceiling=noop)
            self.wrk("GET / (logged in)", base + "/", headers=[cookie], ceiling=noop)
            if self.args.with_class:
                self.class_benchmarks(base, noop)
        finally:
            stop.set()
            sampler.join()
        load_rss = max(self.rss_samples)

        # POST /login, sequentially over one keep-alive connection (http.client adds far less
        # client time than requests), next to raw Argon2id at the same parameters.
        fresh = Client(base)
        token = csrf_token(fresh.get("/login").text)
        form_cookie = fresh.http.cookies.get("lynx_form")
        body = f"csrf={token}&username=bencher&password={PASSWORD.replace(' ', '+')}"
        connection = http.client.HTTPConnection("127.0.0.1", portal_port)
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"lynx_form={form_cookie}"}
        # Interleaved in blocks of five logins and five raw hashes: this shared machine's speed
        # drifts by a quarter within minutes, so two long blocks one after the other drift apart.
        # Each raw block reports its median, which leaves out its first hash (the only one that
        # page-faults its fresh 19 MiB, as the portal's reused buffers never do).
        login_times, raw_medians = [], []
        for _ in range(max(1, self.args.login_runs // 5)):
            for _ in range(5):
                started = time.perf_counter()
                connection.request("POST", "/login", body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                login_times.append((time.perf_counter() - started) * 1000)
                assert response.status == 303, response.status
            raw_medians.append(float(run([str(tools / "argon2-raw"), "19456", "2", "1", "5"]).stdout))
        connection.close()
        self.login_count = len(login_times)
        login_ms = statistics.median(login_times)
        raw_ms = statistics.median(raw_medians)
        print(f"POST /login median {login_ms:.1f} ms; raw Argon2id {raw_ms:.1f} ms; ratio {login_ms / raw_ms:.2f}")
        print(f"resident memory: idle {idle_rss / 1024:.1f} MiB, under load (max) {load_rss / 1024:.1f} MiB")
        self.write(static, noop, login_ms, raw_ms, idle_rss, load_rss)

    def class_benchmarks(self, base, noop):
        """Logged-in pages against a realistic class: 50 learners × a year of use."""
        seed = REPO / "experiments" / "seed" / "seed_class.py"
        # --scale 10: a year of use per learner (~500 cards, 200 journal entries, 20 attempts).
        run([sys.executable, str(seed), "--db", str(self.tmp / "data" / "portal.db"), "--learners", "50",
             "--scale", "10", "--days", "365"])
        db = sqlite3.connect(self.tmp / "data" / "portal.db")
        learner_id = db.execute("SELECT id FROM learner WHERE username != 'bencher' ORDER BY id LIMIT 1").fetchone()[0]
        username = db.execute("SELECT username FROM learner WHERE id = ?", (learner_id,)).fetchone()[0]
        counts = db.execute(
            "SELECT (SELECT count(*) FROM review_card WHERE learner_id = ?), "
            "(SELECT count(*) FROM journal_entry WHERE learner_id = ?), "
            "(SELECT count(*) FROM attempt WHERE learner_id = ?)", (learner_id,) * 3).fetchone()
        db.close()
        self.class_counts = counts
        code = run([str(self.binary), "user", "reset", username], env=self.env).stdout
        code = re.search(r"^setup code: (\S+)$", code, re.M).group(1)
        learner = Client(base)
        assert learner.first_login(username, code).status_code == 200
        cookie = f"Cookie: lynx_session={learner.session_cookie()}"
        self.class_due = due_today(learner.get("/").text)
        for path in ("/review", "/journal", "/quiz/phase-0", "/"):
            self.wrk(f"GET {path} (class of 50)", base + path, headers=[cookie], ceiling=noop)
        # The seed's learner 10 stopped reviewing 60 days ago: the same pages with a backlog.
        code = run([str(self.binary), "user", "reset", "student10"], env=self.env).stdout
        behind = Client(base)
        assert behind.first_login("student10", re.search(r"^setup code: (\S+)$", code, re.M).group(1)).status_code == 200
        self.backlog_due = due_today(behind.get("/").text)
        for path in ("/review", "/"):
            self.wrk(f"GET {path} (class of 50, learner with a backlog)", base + path,
                     headers=[f"Cookie: lynx_session={behind.session_cookie()}"], ceiling=noop)
        review = learner.get("/review").text
        token = csrf_token(review)
        card = re.search(r'name="card" value="(\d+)"', review)
        assert card, "the seeded learner has no card due: the class benchmark needs one"
        db = sqlite3.connect(self.tmp / "data" / "portal.db")
        wrong = db.execute(
            "SELECT o.id FROM option o JOIN review_card c ON c.question_id = o.question_id "
            "WHERE c.id = ? AND o.is_correct = 0 LIMIT 1", (card.group(1),)).fetchone()[0]
        db.close()
        # Answering wrongly grades the card (q = 1) in one write transaction; repeats the same day
        # are logged without changing the schedule, so every request writes.
        script = self.tmp / "grade.lua"
        script.write_text(
            'wrk.method = "POST"\n'
            'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
            f'wrk.body = "csrf={token}&card={card.group(1)}&option={wrong}"\n')
        row = self.wrk("POST /review/answer, a grade (class of 50)", base + "/review/answer", headers=[cookie],
                       script=script, ceiling=noop)
        db = sqlite3.connect(self.tmp / "data" / "portal.db")
        logged = db.execute("SELECT count(*) FROM review_log WHERE card_id = ?", (card.group(1),)).fetchone()[0]
        db.close()
        self.grade_writes = logged
        print(f"review_log rows for the graded card: {logged}")

    def write(self, static, noop, login_ms, raw_ms, idle_rss, load_rss):
        commit = records.stamp()
        lines = [
            "# Benchmark results",
            "",
            f"Generated {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC at commit `{commit}` by",
            "",
            "```sh",
            "experiments/bench/run.sh " + " ".join(self.args.argv),
            "```",
            "",
            f"Machine: {os.cpu_count()} cores, shared and noisy; wrk and Caddy run on the same cores as the portal.",
            f"wrk: 2 threads, {self.args.connections} connections, {self.args.duration} s per run; portal "
            f"{self.args.workers} workers; release binary `{self.binary.relative_to(REPO) if self.binary.is_relative_to(REPO) else self.binary}`.",
            "",
            "| request | req/s | p50 ms | p99 ms | non-2xx | no-op ceiling around it, req/s | vs that ceiling | every run |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for row in self.rows:
            adjacent = f"{row['adjacent']:.0f}" if row["adjacent"] else "—"
            ratio = f"{row['rps'] / row['adjacent'] * 100:.0f}%" if row["adjacent"] else "—"
            every = " ".join(f"{one:.0%}" for one in row["ratios"]) or "—"
            lines.append(f"| {row['label']} | {row['rps']:.0f} | {row['p50']:.2f} | {row['p99']:.2f} | "
                         f"{row['non2xx']} | {adjacent} | {ratio} | {every} |")
        lines += [
            "",
            f"Each row with a ratio ran {self.args.repeat} times, each run between two half-length runs "
            "of the no-op responder, and is compared with their mean; the row shows the median run "
            "and the last column every run's ratio. This machine drifts by a quarter within minutes, "
            "so the ceiling row above, measured minutes earlier, is not the one a later row ran "
            "against.",
            "",
            "The `GET /` rows are one learner viewing an unchanged home page again and again: the "
            "portal keeps each learner's home page until something on it changes (a review, an "
            "attempt, a journal entry, a quiz import; migration v6-home-revision), so these views "
            "copy the kept page. What a view after a change costs (the page read and rendered "
            "anew) is in INSTRUCTIONS.md, the rows \"rendered anew\".",
        ]
        lines += [
            "",
            f"Static file vs no-op responder: the FastCGI transport runs at "
            f"{noop['rps'] / static['rps'] * 100:.0f}% of Caddy's static rate (Caddy 2.6 opens one FastCGI "
            "connection per request).",
            "",
            "| measurement | value |",
            "| --- | ---: |",
            f"| POST /login, median of {self.login_count} sequential | {login_ms:.1f} ms |",
            f"| raw Argon2id (argon2_ctx, m=19456 KiB, t=2, p=1, with secret), median of the medians of blocks "
            f"of 5, interleaved with the logins | {raw_ms:.1f} ms |",
            f"| POST /login ÷ raw Argon2id | {login_ms / raw_ms:.2f} |",
            f"| resident memory, idle after start-up | {idle_rss / 1024:.1f} MiB |",
            f"| resident memory under load (max of samples every 0.2 s) | {load_rss / 1024:.1f} MiB |",
        ]
        if getattr(self, "class_counts", None):
            cards, entries, attempts = self.class_counts
            lines += ["", f"Class rows: 50 learners; the measured learner has {cards} cards, {entries} journal "
                      f"entries and {attempts} quiz attempts (seeded by experiments/seed/seed_class.py --scale 10), "
                      f"and keeps up with reviews: {self.class_due} cards are due on the measured day. The backlog "
                      f"rows are the seed's learner 10, who stopped reviewing 60 days ago: {self.backlog_due} cards "
                      "due. "
                      f"The grade row's POSTs each wrote: the graded card has {self.grade_writes} review_log rows "
                      "afterwards; non-2xx there counts the 303 redirects as success."]
        def verdict(ok):
            return "**met**" if ok else "**not met**"

        home = next(row for row in self.rows if row["label"] == "GET / (logged in)")
        lines += [
            "",
            "The raw Argon2id program allocates its 19 MiB per hash with malloc, as libargon2 does by default;",
            "the portal reuses its hash buffers (PasswordHashing/Argon2Memory.swift), which skips the page",
            "faults of fresh memory, so POST /login can come out below the raw figure.",
            "",
            "## Against the targets",
            "",
            f"- Logged-in `GET /` at least 70% of the no-op ceiling: {home['rps'] / home['adjacent']:.0%} — "
            f"{verdict(home['rps'] / home['adjacent'] >= 0.7)}.",
            f"- POST /login within 1.2× of raw Argon2id: {login_ms / raw_ms:.2f}× — {verdict(login_ms / raw_ms <= 1.2)}.",
            f"- Resident memory under 30 MiB idle: {idle_rss / 1024:.1f} MiB — {verdict(idle_rss / 1024 < 30)}; "
            f"under 100 MiB under load: {load_rss / 1024:.1f} MiB — {verdict(load_rss / 1024 < 100)}.",
        ]
        for row in self.rows:
            if "class of 50" in row["label"] and row["label"].startswith("GET") and "backlog" not in row["label"]:
                share = row["rps"] / row["adjacent"]
                lines.append(f"- {row['label']}: {share:.0%} of the ceiling (target 60%) — {verdict(share >= 0.6)}; "
                             f"p99 {row['p99']:.1f} ms (target under 20 ms) — {verdict(row['p99'] < 20)}.")
        backlog = [row for row in self.rows if "backlog" in row["label"]]
        if backlog:
            lines.append("- Not among the targets, for the heavy case: " + "; ".join(
                f"{row['label']}: {row['rps'] / row['adjacent']:.0%} of the ceiling, p99 {row['p99']:.1f} ms"
                for row in backlog) + ".")
        lines.append("")
        out = pathlib.Path(self.args.out) if self.args.out else records.path("experiments/bench/RESULTS.md")
        out.write_text("\n".join(lines))
        print(f"wrote {out}")


def due_today(home):
    """The number of cards due today, as the home page says it."""
    found = re.search(r"(\d+) cards? due today", home)
    return int(found.group(1)) if found else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=str(REPO / "dist" / "lynx-portal" / "bin" / "lynx-portal"))
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5, help="runs per compared row (median reported)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--login-runs", type=int, default=20)
    parser.add_argument("--class", dest="with_class", action="store_true",
                        help="also seed a class of 50 learners and measure the learning pages")
    parser.add_argument("--out", help="default: experiments/bench/RESULTS.md under `make bench`, else .records/")
    args = parser.parse_args()
    args.argv = sys.argv[1:]
    bench = Bench(args)
    try:
        bench.main()
    finally:
        bench.stop()


if __name__ == "__main__":
    main()
