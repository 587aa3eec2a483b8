"""Load and fault scenarios against the real binary behind real Caddy on a real SQLite file.

Each function runs one scenario on a started `Stack` and returns its figures as a dict with a
`problems` list (empty when the scenario passed). The bounded runs in `make test` and the long
runs in experiments/reliability/run.py call the same functions.
"""
import concurrent.futures
import os
import random
import re
import signal
import socket
import sqlite3
import struct
import subprocess
import threading
import time

import requests

from conftest import PASSWORD, REPO, Client, csrf_token

QUIZ = REPO / "quizzes" / "phase-0.gift"


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else 0.0


def rss_kib(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except FileNotFoundError:
        return 0
    return 0


class Recorder:
    """Thread-safe log of requests and acknowledged writes."""

    def __init__(self):
        self.lock = threading.Lock()
        self.statuses = {}
        self.latencies = []
        self.acknowledged = []  # (username, title) of journal entries that got their redirect
        self.timeouts = 0

    def request(self, call):
        started = time.perf_counter()
        try:
            response = call()
        except requests.Timeout:
            with self.lock:
                self.timeouts += 1
            return None
        except requests.ConnectionError:
            with self.lock:
                self.statuses["connection error"] = self.statuses.get("connection error", 0) + 1
            return None
        elapsed = (time.perf_counter() - started) * 1000
        with self.lock:
            self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
            self.latencies.append(elapsed)
        return response

    def server_errors(self):
        return sum(count for status, count in self.statuses.items() if isinstance(status, int) and status >= 500)


def make_learners(stack, count, prefix):
    clients = []
    for index in range(count):
        name = f"{prefix}{index}"
        code = stack.add_user(name)
        client = stack.client()
        assert client.first_login(name, code).status_code == 200
        clients.append((name, client))
    return clients


def missing_entries(stack, acknowledged):
    db = sqlite3.connect(f"file:{stack.data / 'portal.db'}?mode=ro", uri=True, timeout=30)
    present = set(db.execute(
        "SELECT l.username, j.title FROM journal_entry j JOIN learner l ON l.id = j.learner_id").fetchall())
    db.close()
    return [entry for entry in acknowledged if entry not in present]


def integrity(stack):
    db = sqlite3.connect(f"file:{stack.data / 'portal.db'}?mode=ro", uri=True, timeout=30)
    result = db.execute("PRAGMA integrity_check").fetchone()[0]
    foreign = db.execute("PRAGMA foreign_key_check").fetchall()
    db.close()
    return result, foreign


def write_entry(recorder, name, client, token, title, body="written under load", timeout=15):
    response = recorder.request(lambda: client.http.post(
        client.base + "/journal/new", data={"csrf": token, "title": title, "body": body},
        allow_redirects=False, timeout=timeout))
    if response is not None and response.status_code == 303:
        with recorder.lock:
            recorder.acknowledged.append((name, title))
    return response


# --- soak ------------------------------------------------------------------------------------

def soak(stack, learners=20, seconds=60, think=(0.2, 1.0), seed=7):
    """Simulated learners log in, take the quiz, review, write and read the journal."""
    stack.cli("quiz", "import", str(QUIZ))
    clients = make_learners(stack, learners, "soak")
    recorder = Recorder()
    deadline = time.time() + seconds
    pid = stack.portal_pid()
    memory = []
    stop = threading.Event()

    def sample():
        start = time.time()
        while not stop.is_set():
            memory.append((time.time() - start, rss_kib(pid)))
            stop.wait(1.0)

    def learner(name, client, rng):
        counter = 0
        while time.time() < deadline:
            action = rng.random()
            if action < 0.35:
                page = recorder.request(lambda: client.http.get(client.base + "/journal", timeout=15))
                if page is not None and page.status_code == 200:
                    counter += 1
                    write_entry(recorder, name, client, csrf_token(page.text), f"{name}-{counter}",
                                "notes " * rng.randint(1, 200))
            elif action < 0.55:
                page = recorder.request(lambda: client.http.get(client.base + "/quiz/phase-0", timeout=15))
                if page is not None and page.status_code == 200:
                    fields = {"csrf": csrf_token(page.text)}
                    for field, option in re.findall(r'name="(q\d+)" value="(\d+)"', page.text):
                        if field not in fields or rng.random() < 0.3:
                            fields[field] = option
                    recorder.request(lambda: client.http.post(client.base + "/quiz/phase-0", data=fields,
                                                              allow_redirects=False, timeout=15))
            elif action < 0.75:
                page = recorder.request(lambda: client.http.get(client.base + "/review", timeout=15))
                if page is not None and 'name="card"' in page.text:
                    card = re.search(r'name="card" value="(\d+)"', page.text).group(1)
                    options = re.findall(r'name="option" value="(\d+)"', page.text)
                    recorder.request(lambda: client.http.post(
                        client.base + "/review/answer",
                        data={"csrf": csrf_token(page.text), "card": card, "option": rng.choice(options)},
                        allow_redirects=False, timeout=15))
            elif action < 0.95:
                recorder.request(lambda: client.http.get(client.base + "/", timeout=15))
            else:
                token = csrf_token(client.http.get(client.base + "/", timeout=15).text)
                recorder.request(lambda: client.http.post(client.base + "/logout", data={"csrf": token},
                                                          allow_redirects=False, timeout=15))
                page = client.http.get(client.base + "/login", timeout=15)
                recorder.request(lambda: client.http.post(
                    client.base + "/login",
                    data={"csrf": csrf_token(page.text), "username": name, "password": PASSWORD},
                    allow_redirects=False, timeout=15))
            time.sleep(rng.uniform(*think))

    sampler = threading.Thread(target=sample)
    sampler.start()
    threads = [threading.Thread(target=learner, args=(name, client, random.Random(seed + i)))
               for i, (name, client) in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    sampler.join()
    missing = missing_entries(stack, recorder.acknowledged)
    check, foreign = integrity(stack)
    warm = [kib for at, kib in memory if at >= seconds * 0.25] or [kib for _, kib in memory]
    middle = warm[len(warm) // 2]
    growth = (warm[-1] - warm[0]) / warm[0] * 100 if warm and warm[0] else 0.0
    figures = {
        "learners": learners, "seconds": seconds, "requests": sum(recorder.statuses.values()),
        "statuses": dict(sorted(recorder.statuses.items(), key=lambda item: str(item[0]))),
        "p50_ms": percentile(recorder.latencies, 0.50), "p99_ms": percentile(recorder.latencies, 0.99),
        "timeouts": recorder.timeouts, "acknowledged_writes": len(recorder.acknowledged),
        "lost_writes": len(missing), "rss_start_mib": memory[0][1] / 1024, "rss_after_warmup_mib": warm[0] / 1024,
        "rss_middle_mib": middle / 1024, "rss_end_mib": memory[-1][1] / 1024, "growth_after_warmup_pct": growth,
        "integrity_check": check,
    }
    problems = []
    if recorder.server_errors():
        problems.append(f"{recorder.server_errors()} server errors")
    if missing:
        problems.append(f"{len(missing)} acknowledged journal entries missing, e.g. {missing[:3]}")
    if recorder.timeouts:
        problems.append(f"{recorder.timeouts} requests timed out")
    if growth >= 10:
        problems.append(f"memory grew {growth:.1f}% after warm-up")
    if check != "ok" or foreign:
        problems.append(f"integrity_check {check}, foreign keys {foreign}")
    figures["problems"] = problems
    return figures


# --- crash -----------------------------------------------------------------------------------

def crash(stack, kills=20, writers=4, seed=11):
    """SIGKILL the portal repeatedly under a write load, restarting it each time."""
    clients = make_learners(stack, writers, "crash")
    recorder = Recorder()
    stop = threading.Event()

    def writer(name, client):
        counter = 0
        token = csrf_token(client.get("/journal").text)
        while not stop.is_set():
            counter += 1
            write_entry(recorder, name, client, token, f"{name}-{counter}", timeout=10)

    threads = [threading.Thread(target=writer, args=pair) for pair in clients]
    for thread in threads:
        thread.start()
    rng = random.Random(seed)
    restart_seconds = []
    try:
        for _ in range(kills):
            time.sleep(rng.uniform(0.2, 0.8))
            os.kill(stack.portal_pid(), signal.SIGKILL)
            stack.portal.wait()
            started = time.time()
            stack.start_portal()
            stack.wait_healthy()
            restart_seconds.append(time.time() - started)
        time.sleep(1)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    missing = missing_entries(stack, recorder.acknowledged)
    check, foreign = integrity(stack)
    figures = {
        "kills": kills, "writers": writers, "requests": sum(recorder.statuses.values()),
        "statuses": dict(sorted(recorder.statuses.items(), key=lambda item: str(item[0]))),
        "acknowledged_writes": len(recorder.acknowledged), "lost_writes": len(missing),
        "hung_requests": recorder.timeouts, "integrity_check": check,
        "restart_p50_s": percentile(restart_seconds, 0.5), "restart_max_s": max(restart_seconds),
    }
    problems = []
    if missing:
        problems.append(f"{len(missing)} acknowledged writes lost, e.g. {missing[:3]}")
    if recorder.timeouts:
        problems.append(f"{recorder.timeouts} requests hung")
    if check != "ok" or foreign:
        problems.append(f"integrity_check {check}, foreign keys {foreign}")
    if not recorder.acknowledged:
        problems.append("no write was acknowledged at all")
    figures["problems"] = problems
    return figures


# --- disk full -------------------------------------------------------------------------------

def disk_full(stack_factory, size_mib=4):
    """The data directory on a small tmpfs that fills up."""
    import tempfile
    mount = pathlib_path(tempfile.mkdtemp(prefix="lynx-full-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mib}m", "tmpfs", str(mount)], check=True)
    try:
        stack = stack_factory(env={"LYNX_DATA_DIR": str(mount / "data")})
        stack.data = mount / "data"
        stack.start()
        name, client = make_learners(stack, 1, "full")[0]
        token = csrf_token(client.get("/journal").text)
        recorder = Recorder()
        assert write_entry(recorder, name, client, token, "before").status_code == 303
        filler = mount / "filler"
        with open(filler, "wb") as out:
            try:
                while True:
                    out.write(b"\0" * 65536)
                    out.flush()
            except OSError:
                pass
        statuses = []
        body = "x" * 16000
        for index in range(40):
            response = write_entry(recorder, name, client, token, f"full-{index}", body)
            statuses.append(response.status_code if response is not None else "error")
            if response is not None and response.status_code == 503:
                break
        refused = [s for s in statuses if s == 503]
        page_503 = response.text if response is not None else ""
        reads = [client.get(path).status_code for path in ("/", "/journal", "/settings")]
        log = stack.portal_log.read_text()
        filler.unlink()
        after = write_entry(recorder, name, client, token, "after space freed")
        check, foreign = integrity(stack)
        missing = missing_entries(stack, recorder.acknowledged)
        figures = {
            "filesystem": f"tmpfs {size_mib} MiB", "writes_until_refused": len(statuses),
            "write_statuses": statuses, "reads_while_full": reads,
            "log_line": "SQLITE_FULL" in log or "database or disk is full" in log,
            "write_after_freeing": after.status_code if after is not None else "error",
            "integrity_check": check, "lost_writes": len(missing),
        }
        problems = []
        if not refused:
            problems.append(f"no 503 while the disk was full: {statuses}")
        if any(isinstance(s, int) and s >= 500 and s != 503 for s in statuses):
            problems.append(f"non-503 server errors: {statuses}")
        if refused and "Temporarily unavailable" not in page_503:
            problems.append("the 503 page is not the clear one")
        if reads != [200, 200, 200]:
            problems.append(f"reads failed while full: {reads}")
        if not figures["log_line"]:
            problems.append("no log line names the full disk")
        if figures["write_after_freeing"] != 303:
            problems.append(f"write after freeing space: {figures['write_after_freeing']}")
        if check != "ok" or foreign or missing:
            problems.append(f"integrity {check}, foreign {foreign}, missing {missing}")
        figures["problems"] = problems
        stack.stop()
        return figures
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def pathlib_path(text):
    import pathlib
    return pathlib.Path(text)


# --- lock contention -------------------------------------------------------------------------

def contention(stack, short_hold=2.0, long_hold=8.0):
    """Another process holds the write lock (or a long read) while learners write."""
    name, client = make_learners(stack, 1, "lock")[0]
    token = csrf_token(client.get("/journal").text)
    recorder = Recorder()
    path = stack.data / "portal.db"

    def hold(seconds, statement):
        db = sqlite3.connect(path, timeout=30, isolation_level=None)
        db.execute(statement)
        if statement.startswith("BEGIN") and "IMMEDIATE" not in statement:
            db.execute("SELECT count(*) FROM journal_entry").fetchone()
        time.sleep(seconds)
        db.execute("ROLLBACK")
        db.close()

    results = {}
    for label, seconds, statement in (("long reader", 6.0, "BEGIN"),
                                      ("writer within busy timeout", short_hold, "BEGIN IMMEDIATE"),
                                      ("writer beyond busy timeout", long_hold, "BEGIN IMMEDIATE")):
        holder = threading.Thread(target=hold, args=(seconds, statement))
        holder.start()
        time.sleep(0.3)
        started = time.time()
        response = write_entry(recorder, name, client, token, f"{label}", timeout=30)
        results[label] = (response.status_code if response is not None else "error", round(time.time() - started, 2))
        holder.join()
    after = write_entry(recorder, name, client, token, "after the lock")
    check, _ = integrity(stack)
    figures = {"results": results, "after": after.status_code if after is not None else "error", "integrity_check": check}
    problems = []
    if results["long reader"][0] != 303:
        problems.append(f"a write under a long reader got {results['long reader']}")
    if results["writer within busy timeout"][0] != 303:
        problems.append(f"a write within the busy timeout got {results['writer within busy timeout']}")
    if results["writer beyond busy timeout"][0] != 503:
        problems.append(f"a write beyond the busy timeout got {results['writer beyond busy timeout']}")
    if figures["after"] != 303 or check != "ok":
        problems.append(f"after the lock: {figures['after']}, integrity {check}")
    if missing_entries(stack, recorder.acknowledged):
        problems.append("acknowledged writes missing")
    figures["problems"] = problems
    return figures


# --- garbage on the FastCGI socket -------------------------------------------------------------

def fcgi_record(kind, content, request_id=1):
    return struct.pack("!BBHHBB", 1, kind, request_id, len(content), 0, 0) + content


def fcgi_pairs(params):
    """FastCGI name-value pairs (lengths under 128 in one byte, longer in four)."""
    encoded = b""
    for name, value in params.items():
        for text in (name, value):
            size = len(text.encode())
            encoded += bytes([size]) if size < 128 else struct.pack("!I", size | 0x80000000)
        encoded += name.encode() + value.encode()
    return encoded


def fcgi_hold_post(stack, path, body, sent):
    """Opens a POST straight on the portal's socket (as Caddy would) and sends only the first
    `sent` bytes of its body: the worker that accepts it waits inside the request. Returns the
    socket; `fcgi_finish` sends the rest and reads the answer."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(30)
    conn.connect(str(stack.socket))
    params = {"REQUEST_METHOD": "POST", "REQUEST_URI": path, "SCRIPT_NAME": path.split("?")[0],
              "QUERY_STRING": path.partition("?")[2], "REMOTE_ADDR": "127.0.0.1",
              "CONTENT_TYPE": "application/x-www-form-urlencoded", "CONTENT_LENGTH": str(len(body))}
    conn.sendall(fcgi_record(1, struct.pack("!HB5x", 1, 0)) + fcgi_record(4, fcgi_pairs(params))
                 + fcgi_record(4, b"") + fcgi_record(5, body[:sent]))
    return conn


def fcgi_finish(conn, rest):
    """Sends the rest of a held body and returns the answer's stdout (headers and page)."""
    if rest:
        conn.sendall(fcgi_record(5, rest))
    conn.sendall(fcgi_record(5, b""))
    data = b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    conn.close()
    stdout, offset = b"", 0
    while offset + 8 <= len(data):
        _, kind, _, length, padding, _ = struct.unpack("!BBHHBB", data[offset:offset + 8])
        if kind == 6:
            stdout += data[offset + 8:offset + 8 + length]
        offset += 8 + length + padding
    return stdout


def garbage(stack, rounds=200, seed=5):
    """Random bytes, truncated records and absurd lengths straight into the portal's socket."""
    rng = random.Random(seed)
    begin = fcgi_record(1, struct.pack("!HB5x", 1, 0))
    payloads = [
        b"", b"\x00", b"GET / HTTP/1.1\r\n\r\n", begin[:5], begin, begin + fcgi_record(4, b"\x05")[:6],
        begin + fcgi_record(4, b"\x7f\xff\xff\xff"),
        begin + fcgi_record(4, b"\xff\xff\xff\xff\xff\xff\xff\xffNAME"),
        begin + fcgi_record(4, b"\x80\x00\x00\x10\x80\x00\x00\x10" + b"A" * 40),
        begin + fcgi_record(4, bytes([4, 200]) + b"HOST" + b"v" * 10) + fcgi_record(4, b""),
        begin + fcgi_record(4, b"") + fcgi_record(5, b"x" * 100),
        fcgi_record(4, b"") + fcgi_record(5, b""), fcgi_record(99, b"?" * 8), fcgi_record(1, b"\x00" * 8, 0),
        begin + fcgi_record(4, b"\x0bREQUEST_URI" [:0] + bytes([11, 7]) + b"REQUEST_URI/healthz") + fcgi_record(4, b"")
        + fcgi_record(5, b""),
    ]
    for _ in range(rounds):
        payloads.append(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 2048))))
        payloads.append(begin + bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 512))))
    for payload in payloads:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(str(stack.socket))
            try:
                s.sendall(payload)
                s.shutdown(socket.SHUT_WR)
                while s.recv(65536):
                    pass
            except OSError:
                pass
    alive = stack.portal.poll() is None
    health = requests.get(stack.base + "/healthz", timeout=10).status_code
    figures = {"payloads": len(payloads), "alive": alive, "healthz_after": health}
    figures["problems"] = [] if alive and health == 200 else [f"alive {alive}, healthz {health}"]
    return figures


def audit_bytes(stack):
    directory = stack.data / "audit"
    return sum(path.stat().st_size for path in directory.glob("*.log")) if directory.is_dir() else 0


def trickle(port, stop, opened, body_bytes=200, gap=0.25):
    """POST /login with a body sent one byte every `gap` seconds until `stop` is set."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        head = (f"POST /login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                f"Content-Length: {body_bytes}\r\n\r\n")
        conn.sendall(head.encode())
        opened.release()
        sent = 0
        while sent < body_bytes - 1 and not stop.wait(gap):
            try:
                conn.sendall(b"a")
            except OSError:
                return
            sent += 1


def page_times(client, path="/", count=10):
    """Seconds for `count` page views one after another; None for a view that was not a 200."""
    times = []
    for _ in range(count):
        started = time.monotonic()
        response = client.get(path)
        times.append(time.monotonic() - started if response.status_code == 200 else None)
    return times


def while_trickling(stack, tricklers, measure):
    """Runs `measure()` while `tricklers` connections each trickle a login body through Caddy;
    returns its result and how many tricklers were still sending when it ended."""
    stop = threading.Event()
    opened = threading.Semaphore(0)
    threads = [threading.Thread(target=trickle, args=(stack.port, stop, opened), daemon=True)
               for _ in range(tricklers)]
    for thread in threads:
        thread.start()
    try:
        for _ in threads:
            if not opened.acquire(timeout=10):
                raise RuntimeError("a trickling connection did not open")
        time.sleep(1.0)  # every trickler has sent its head and some body bytes by now
        result = measure()
        return result, sum(thread.is_alive() for thread in threads)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)


def refused_logins(stack, names, threads=4):
    """A wrong password for every name, from `threads` clients; returns the status counts."""
    local = threading.local()
    counts = {}
    lock = threading.Lock()

    def one(name):
        if not hasattr(local, "client"):
            local.client = Client(stack.base)
            local.token = local.client.csrf_from("/login")
        status = local.client.post(
            "/login", {"username": name, "password": "wrong wrong wrong wrong", "csrf": local.token}).status_code
        with lock:
            counts[status] = counts.get(status, 0) + 1

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, names))
    return counts


def abuse(stack_factory, key_flood=20_000, tricklers=6, workers=2):
    """What an anonymous flood costs: audit bytes per refused login (before and after the
    throttle), the portal's memory under a flood of distinct usernames, and another learner's
    page time while more login bodies than workers trickle in."""
    figures, problems = {}, []

    # Disk: one address, 400 refused logins with 60 KB and unknown usernames (the default limits).
    stack = stack_factory().start()
    start = audit_bytes(stack)
    names = [f"{i:06d}" + "x" * 60_000 if i % 2 else f"nobody{i}" for i in range(400)]
    first = refused_logins(stack, names[:30], threads=1)
    middle = audit_bytes(stack)
    rest = refused_logins(stack, names[30:], threads=1)
    end = audit_bytes(stack)
    figures["refused logins before the throttle: statuses"] = str(first)
    figures["audit bytes per refused login before the throttle"] = round((middle - start) / 30)
    figures["refused logins once throttled: statuses"] = str(rest)
    figures["audit bytes for all 370 throttled logins"] = end - middle
    if (middle - start) / 30 > 400 or end - middle > 600:
        problems.append("audit bytes over budget")

    # Memory: distinct valid-looking usernames, the address limit off (a class behind one NAT),
    # cheap Argon2 so the run measures the throttle and the audit log rather than hashing.
    stack = stack_factory(env={"LYNX_LOGIN_ADDRESS_LIMIT": "0", "LYNX_ARGON2": "m=8,t=1,p=1",
                               "LYNX_ARGON2_ALLOW_WEAK": "test"}).start()
    pid = stack.portal_pid()
    refused_logins(stack, [f"warmup{i}" for i in range(200)])
    before, disk_before = rss_kib(pid), audit_bytes(stack)
    counts = refused_logins(stack, [f"n{random.getrandbits(48):012x}" for _ in range(key_flood)])
    after_first = rss_kib(pid)
    refused_logins(stack, [f"m{random.getrandbits(48):012x}" for _ in range(key_flood)])
    after_second = rss_kib(pid)
    figures["key flood: distinct usernames per round, rounds"] = f"{key_flood}, 2"
    figures["key flood: statuses of the first round"] = str(counts)
    figures["VmRSS before the key flood (MiB)"] = before / 1024
    figures["VmRSS after one round (MiB)"] = after_first / 1024
    figures["VmRSS after two rounds (MiB)"] = after_second / 1024
    figures["audit bytes per refused login in the key flood"] = round((audit_bytes(stack) - disk_before) / (2 * key_flood))
    if after_second - after_first > 8 * 1024:
        problems.append("memory still growing in the second round of the key flood")

    # Slow bodies: more trickling login bodies than workers.
    stack = stack_factory(workers=workers).start()
    learner = Client(stack.base)
    code = stack.add_user("abuse")
    learner.first_login("abuse", code)
    quiet = page_times(learner)
    busy, still = while_trickling(stack, tricklers, lambda: page_times(learner))
    figures["slow bodies: workers, trickling connections"] = f"{workers}, {tricklers}"
    for label, times in (("without", quiet), ("with", busy)):
        served = [t for t in times if t is not None]
        figures[f"another learner's page {label} trickling bodies: median / max ms"] = (
            f"{percentile(served, 0.5) * 1000:.1f} / {max(served) * 1000:.1f}" if served else "none served")
    if None in busy or still != tricklers:
        problems.append(f"pages not served while trickling ({busy}), or tricklers ended early ({still})")
    figures["problems"] = problems
    return figures


def markdown(figures):
    """A figures dict as a two-column markdown table."""
    lines = ["| figure | value |", "| --- | --- |"]
    for key, value in figures.items():
        if key == "problems":
            continue
        if isinstance(value, float):
            value = f"{value:.2f}"
        lines.append(f"| {key.replace('_', ' ')} | {value} |")
    lines.append("")
    lines.append("Result: " + ("**pass**" if not figures["problems"] else "**FAIL**: " + "; ".join(figures["problems"])))
    return "\n".join(lines) + "\n"
