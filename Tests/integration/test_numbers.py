"""Hostile numbers in every numeric parameter of every route, through Caddy, as a signed-in learner.

The probes come from the routing table itself (`lynx-portal routes`), so a new route, or a new
number an old route reads, is probed without anyone adding it here. Each number the table
declares (a path segment, a query field or a form field) gets every value in HOSTILE; a value
outside the declared type must get a clean 400 (404 for a path segment), a value inside it a
normal answer, and nothing may get a 5xx or stop the process.
"""
import json
import re
import shutil
import tempfile
import urllib.parse

import pytest
import requests

from conftest import Stack
from test_learning import QUIZ, answer_quiz

INT64_MAX = 2**63 - 1

HOSTILE = [
    str(INT64_MAX), str(-(2**63)), str(INT64_MAX + 1), "999999999999999999", "12345678901234567890123",
    "-1", "0", "+1", " 1", "1 ", "1 2", "1e3", "0x10", "1.5", "01", "\u0663", "\uff13", "1\u0663", "", "NaN",
]


def accepts(number, text):
    """True when `text` is one of the number's values: canonical ASCII decimal within its range."""
    if not re.fullmatch(r"0|[1-9][0-9]*", text):
        return False
    return number["minimum"] <= int(text) <= number["maximum"]


@pytest.fixture(scope="module")
def probed():
    tmp = tempfile.mkdtemp(prefix="lynx-it-numbers-")
    stack = Stack(tmp)
    try:
        stack.start()
        stack.cli("quiz", "import", str(QUIZ))
        client = stack.learner("numbers")
        result, _ = answer_quiz(stack, client)
        assert result.status_code == 200
        created = client.submit("/journal/new", "/journal/new", {"title": "Day one", "body": "Notes."})
        assert created.status_code == 303
        yield stack, client, result.url.split(stack.base)[1], created.headers["Location"]
    finally:
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def valid_fields(route, probed_number, source, fields, method):
    """Valid values for the route's other numbers from `source`, so the handler gets past them."""
    return {n["name"]: fields[n["name"]] for n in route["numbers"]
            if n is not probed_number and n["in"] == source and n["name"] in fields and method in n["methods"]}


def route_table(stack):
    return json.loads(stack.cli("routes").stdout)


def test_the_route_table_lists_the_numbers_routes_read(probed):
    stack, *_ = probed
    table = {route["pattern"]: route for route in route_table(stack)}
    assert {"/journal", "/journal/:id", "/quiz/:slug/attempts/:id", "/review", "/review/grade"} <= set(table)
    page = next(n for n in table["/journal"]["numbers"] if n["name"] == "page")
    assert (page["in"], page["type"], page["minimum"]) == ("query", "page", 1)
    assert {n["name"] for n in table["/review"]["numbers"]} == {"graded", "q", "missed", "chosen"}


def test_hostile_numbers_in_every_route_get_a_clean_answer(probed):
    stack, client, attempt_path, entry_path = probed
    db = stack.db()
    card_id, question_id = db.execute("SELECT id, question_id FROM review_card").fetchone()
    option_id = db.execute("SELECT id FROM option WHERE question_id = ? ORDER BY id", (question_id,)).fetchone()[0]
    db.close()
    attempt_id = attempt_path.rsplit("/", 1)[1]
    entry_id = entry_path.rsplit("/", 1)[1]
    # Valid values for the numbers a probe does not target, so handlers get past them.
    captures = {("journal", "id"): entry_id, ("quiz", "id"): attempt_id, ("quiz", "slug"): "phase-0"}
    fields = {"page": "1", "graded": str(card_id), "q": "4", "missed": str(card_id), "chosen": str(option_id),
              "card": str(card_id), "option": str(option_id), "quality": "4"}
    csrf = client.csrf_from("/")

    pairs = 0
    requests_sent = 0
    failures = []
    for route in route_table(stack):
        pattern = route["pattern"]
        segments = [s for s in pattern.split("/") if s]
        for number in route["numbers"]:
            pairs += 1
            name = number["name"] + (str(question_id) if number.get("nameSuffix") else "")
            for method in number["methods"]:
                for value in HOSTILE:
                    path = "/" + "/".join(
                        urllib.parse.quote(value, safe="") if number["in"] == "path" and s == ":" + number["name"]
                        else captures.get((segments[0], s[1:]), "1") if s.startswith(":") else s
                        for s in segments)
                    query = valid_fields(route, number, "query", fields, method)
                    form = valid_fields(route, number, "form", fields, method)
                    if number["in"] == "query":
                        query[name] = value
                    elif number["in"] == "form":
                        form[name] = value
                    if method == "POST":
                        form["csrf"] = csrf
                        response = client.post(path, form, params=query)
                    else:
                        response = client.get(path, params=query, allow_redirects=False)
                    requests_sent += 1
                    probe = f"{method} {pattern} {number['in']}:{name}={value!r} -> {response.status_code}"
                    if response.status_code >= 500:
                        failures.append(probe)
                        if stack.portal.poll() is not None:
                            pytest.fail(f"the portal stopped (exit {stack.portal.returncode}) after {probe}; "
                                        f"log: {stack.portal_log.read_text()[-3000:]}")
                    elif accepts(number, value):
                        continue
                    elif number["in"] == "path" and value == "":
                        # An empty segment is a different path (/journal/ is /journal): any clean answer.
                        continue
                    elif response.status_code != (404 if number["in"] == "path" else 400):
                        failures.append(probe)
    print(f"\nnumeric probes: {pairs} route x parameter pairs, {requests_sent} requests, "
          f"{len(HOSTILE)} values each")
    assert pairs >= 12 and requests_sent == sum(
        len(n["methods"]) for r in route_table(stack) for n in r["numbers"]) * len(HOSTILE)
    assert not failures, "\n".join(failures)
    assert stack.portal.poll() is None, "the portal stopped"
    assert requests.get(stack.base + "/healthz", timeout=10).status_code == 200
    log = stack.portal_log.read_text()
    for crash in ("Fatal error", "fatal error", "Illegal instruction", "Segmentation fault", "request failed"):
        assert crash not in log, log[-3000:]
