"""Hostile input through Caddy: injection, cross-learner access, enumeration, malformed requests."""
import re
import socket
import statistics
import time

import requests

from test_learning import QUIZ, answer_quiz

# Payloads for HTML body, attribute, URL and script contexts, and SQL metacharacters.
PAYLOADS = [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<svg onload=alert(1)>",
    "\"><script>alert(1)</script>", "'><script>alert(1)</script>", "\" onmouseover=\"alert(1)",
    "' onfocus='alert(1)' autofocus='", "javascript:alert(1)", "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>", "<a href=\"javascript:alert(1)\">x</a>",
    "<iframe src=//evil.example>", "<body onload=alert(1)>", "<details open ontoggle=alert(1)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>", "{{7*7}}", "{{{raw}}}", "${7*7}",
    "<!--", "-->", "]]>", "<![CDATA[x]]>", "&lt;script&gt;", "&#60;script&#62;", "\\u003cscript\\u003e",
    "</textarea><script>alert(1)</script>", "</title><script>alert(1)</script>", "<style>*{}</style>",
    "<base href=//evil.example/>", "<meta http-equiv=refresh content=0;url=//evil.example>",
    "<form action=//evil.example><button>x</button></form>", "<input autofocus onfocus=alert(1)>",
    "' OR '1'='1", "\" OR \"1\"=\"1", "'; DROP TABLE learner; --", "1; DELETE FROM journal_entry",
    "' UNION SELECT password_hash FROM learner --", "admin'--", "%27%20OR%201=1", "\\'; --",
    "Robert'); DROP TABLE journal_entry;--", "1' AND sleep(5)--", "0x27", "' || (SELECT 1) || '",
"line\r\nInjected: header", "тест юникод ✓", "😀 emoji 👍🏽", "\u202eRTL override",
    "a" * 199, "`backticks` and $(subshell)", "<scr<script>ipt>alert(1)</script>",
]


def test_injection_payloads_are_stored_verbatim_and_rendered_escaped(stack, name):
    assert len(PAYLOADS) >= 50
    client = stack.learner(name)
    for payload in PAYLOADS:
        title = payload[:200].strip() or "x"
        body = f"{payload}\nsecond line {payload}"
        created = client.submit("/journal/new", "/journal/new", {"title": title, "body": body},
                                allow_redirects=True)
        assert created.status_code == 200, payload
        page = created.text
        # Nothing of the payload may appear unescaped in the page.
        for dangerous in ("<script>alert", "<img src=x", "<svg", "<iframe", "<body onload", "<details",
                          "<base href", "<meta http-equiv", "<form action=//", "<input autofocus", "<style>*"):
            assert dangerous not in page, (payload, dangerous)
        assert '" onmouseover="' not in page and "' onfocus='" not in page
    db = stack.db()
    stored = {row[0] for row in db.execute(
        "SELECT body FROM journal_entry WHERE learner_id = (SELECT id FROM learner WHERE username = ?)", (name,))}
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    db.close()
    for payload in PAYLOADS:
        expected = f"{payload}\nsecond line {payload}".replace("\r\n", "\n")
        assert expected in stored, payload
    assert {"learner", "journal_entry", "session"} <= tables


def test_payloads_in_login_and_setup_fields_are_escaped(stack):
    client = stack.client()
    for payload in PAYLOADS[:20]:
        response = client.submit("/login", "/login", {"username": payload, "password": "some password here!"})
        assert response.status_code in (200, 429)
        assert "<script>alert" not in response.text and "<img src=x" not in response.text
        page = client.get("/set-password?username=" + requests.utils.quote(payload))
        assert "<script>alert" not in page.text and '" onmouseover="' not in page.text


def test_another_learners_cards_and_attempts_are_404(stack, name):
    stack.cli("quiz", "import", str(QUIZ))
    owner = stack.learner(name)
    result, _ = answer_quiz(stack, owner)
    attempt_path = result.url.split(stack.base)[1]
    db = stack.db()
    card_id, question_id = db.execute(
        "SELECT c.id, c.question_id FROM review_card c JOIN learner l ON l.id = c.learner_id WHERE l.username = ?",
        (name,)).fetchone()
    option_id = db.execute("SELECT id FROM option WHERE question_id = ? AND is_correct = 1",
                           (question_id,)).fetchone()[0]
    db.close()
    intruder = stack.learner(name + "x")
    token = intruder.csrf_from("/review")
    assert intruder.get(attempt_path).status_code == 404
    assert intruder.post("/review/answer", {"csrf": token, "card": card_id, "option": option_id}).status_code == 404
    assert intruder.post("/review/grade", {"csrf": token, "card": card_id, "quality": 5, "token": "x"}).status_code == 404
    assert "Not quite" not in intruder.get(f"/review?missed={card_id}&chosen={option_id}").text
    assert "Graded" not in intruder.get(f"/review?graded={card_id}&q=4").text
    # Every attempt id the portal has handed out so far, the victim's among them: all 404.
    for guess in range(1, int(attempt_path.rsplit("/", 1)[1]) + 5):
        assert intruder.get(f"/quiz/phase-0/attempts/{guess}").status_code == 404, guess


def test_unknown_and_known_usernames_take_about_the_same_time(stack, name):
    stack.learner(name)
    client = stack.client()
    token = client.csrf_from("/login")

    def timed(username):
        started = time.perf_counter()
        response = client.post("/login", {"csrf": token, "username": username, "password": "wrong password, twice"})
        assert response.status_code == 200
        return time.perf_counter() - started

    # Alternate so machine noise hits both alike; stay under the per-account throttle.
    known, unknown = [], []
    for i in range(4):
        known.append(timed(name))
        unknown.append(timed(f"nobody-{i}-{name}"))
    argon2_time = min(known)
    difference = abs(statistics.median(known) - statistics.median(unknown))
    assert difference < argon2_time, (known, unknown)
    # The unknown name really paid for a hash: far slower than a page without one.
    started = time.perf_counter()
    client.get("/login")
    assert min(unknown) > (time.perf_counter() - started)


def raw(stack, data):
    data = data.replace(b"HOST", f"127.0.0.1:{stack.port}".encode())
    with socket.create_connection(("127.0.0.1", stack.port), timeout=30) as s:
        s.sendall(data)
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    reply = b"".join(chunks)
    return int(reply.split(b" ", 2)[1]) if reply else 0


def test_malformed_and_oversized_requests_get_4xx_and_the_portal_lives(stack):
    client = stack.client()
    token = client.csrf_from("/login")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    many_fields = f"csrf={token}&" + "&".join(f"f{i}=v" for i in range(5000))
    assert client.post("/login", many_fields, headers=form).status_code == 400
    deep = f"csrf={token}&username=" + "%25" * 5000
    decoded_once = client.post("/login", deep, headers=form)  # one decoding: a name of literal %s
    assert decoded_once.status_code == 303 and decoded_once.headers["Location"].endswith("%25" * 5000)
    assert client.post("/login", f"csrf={token}&username=a%00b&password=", headers=form).status_code == 400
    assert client.post("/login", f"csrf={token}&username=ab&password=x%00y", headers=form).status_code == 400
    assert client.post("/login", b"csrf=" + token.encode() + b"&username=\xc0\xaf", headers=form).status_code == 400
    assert raw(stack, b"GET /" + b"x" * 20000 + b" HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\n\r\n") == 404
    assert raw(stack, b"GET /login HTTP/1.1\r\nHost: HOST\r\nCookie: " + b"c=" + b"v" * 30000
               + b"\r\nConnection: close\r\n\r\n") == 200
    huge = client.post("/login", b"csrf=" + token.encode() + b"&username=" + b"x" * 10_000_000, headers=form)
    assert huge.status_code == 413
    assert raw(stack, b"GET /%zz HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\n\r\n") == 400
    assert raw(stack, b"BREW /login HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\n\r\n") == 405
    assert raw(stack, b"POST /journal/new HTTP/1.1\r\nHost: HOST\r\nContent-Type: multipart/form-data\r\n"
               b"Content-Length: 5\r\nConnection: close\r\n\r\nhello") == 403
    assert requests.get(stack.base + "/healthz").status_code == 200
