"""The learning loop through real Caddy and the binary: quiz, study days, SM-2 review, journal.

The portal's clock is moved with libfaketime (the portal restarted under `faketime`); the
product has no clock back door.
"""
import datetime
import re
import sqlite3
import zoneinfo

import pytest

from conftest import PASSWORD, REPO, csrf_token

QUIZ = REPO / "quizzes" / "phase-0.gift"


def fake(local, zone):
    """A libfaketime start time for a local wall-clock time in `zone`."""
    instant = local.replace(tzinfo=zoneinfo.ZoneInfo(zone)).astimezone(datetime.timezone.utc)
    return "@" + instant.strftime("%Y-%m-%d %H:%M:%S")


def base_day():
    """A date safely after today, so setup codes issued now are still valid."""
    return datetime.date.today() + datetime.timedelta(days=2)


def quiz_fields(client, slug="phase-0"):
    page = client.get(f"/quiz/{slug}")
    assert page.status_code == 200
    questions = []
    for block in re.findall(r'<fieldset id="question-(\d+)".*?</fieldset>', page.text, re.S):
        questions.append(block)
    options = re.findall(r'name="(q\d+)" value="(\d+)"[^>]*> ([^<]*)</label>', page.text)
    return page, options


def answer_quiz(stack, client, wrong_questions=1):
    """Submits phase-0 with the first `wrong_questions` answered wrongly; returns the result page
    and the prompts that were missed."""
    db = stack.db()
    right = {}
    for qid, oid, correct in db.execute(
            "SELECT question_id, id, is_correct FROM option WHERE question_id IN "
            "(SELECT id FROM question WHERE retired_at IS NULL)"):
        right.setdefault(qid, {})[oid] = bool(correct)
    db.close()
    page, options = quiz_fields(client)
    chosen = {}
    missed = []
    names = []
    for name, option_id, _ in options:
        if name not in names:
            names.append(name)
    for index, name in enumerate(names):
        qid = int(name[1:])
        want_right = index >= wrong_questions
        choice = next(oid for oid, ok in right[qid].items() if ok == want_right)
        chosen[name] = str(choice)
        if not want_right:
            missed.append(qid)
    chosen["csrf"] = csrf_token(page.text)
    result = client.post("/quiz/phase-0", chosen, allow_redirects=True)
    return result, missed


@pytest.fixture(scope="module")
def quiz_stack(stack):
    stack.cli("quiz", "import", str(QUIZ))
    return stack


def card_row(stack, username):
    db = stack.db()
    row = db.execute(
        "SELECT c.easiness, c.repetitions, c.interval_days, c.due_day, c.repeat_day FROM review_card c "
        "JOIN learner l ON l.id = c.learner_id WHERE l.username = ?", (username,)).fetchall()
    db.close()
    return row


def test_wrong_answer_becomes_a_card_due_on_the_next_study_day(quiz_stack, name):
    stack = quiz_stack
    client = stack.learner(name)
    result, missed = answer_quiz(stack, client)
    assert result.status_code == 200 and "/attempts/" in result.url
    assert "You scored 17 out of 18" in result.text
    db = stack.db()
    prompt = db.execute("SELECT prompt FROM question WHERE id = ?", (missed[0],)).fetchone()[0]
    db.close()
    assert prompt.split(" ")[0] in result.text and "Right answer:" in result.text
    rows = card_row(stack, name)
    assert len(rows) == 1
    easiness, repetitions, interval, due, repeat = rows[0]
    assert (easiness, repetitions, interval, repeat) == (196, 0, 1, None)
    review = client.get("/review")
    assert "Nothing to review right now" in review.text
    assert f'datetime="{due}"' in review.text
    home = client.get("/")
    assert "No cards due today" in home.text and "17/18" in home.text


def test_incomplete_quiz_is_reshown_with_choices_kept(quiz_stack, name):
    client = quiz_stack.learner(name)
    page, options = quiz_fields(client)
    first_two = {}
    for field, option_id, _ in options:
        if field not in first_two and len(first_two) < 2:
            first_two[field] = option_id
    first_two["csrf"] = csrf_token(page.text)
    response = client.post("/quiz/phase-0", first_two)
    assert response.status_code == 200
    assert "16 questions have no answer yet" in response.text
    for field, option_id in first_two.items():
        if field != "csrf":
            assert re.search(rf'name="{field}" value="{option_id}" checked', response.text)
    assert response.text.count('class="missing"') == 16
    db = quiz_stack.db()
    assert db.execute("SELECT count(*) FROM attempt a JOIN learner l ON l.id = a.learner_id WHERE l.username = ?",
                      (name,)).fetchone()[0] == 0
    db.close()


def test_every_attempt_is_kept_and_only_its_owner_sees_it(quiz_stack, name):
    client = quiz_stack.learner(name)
    first, _ = answer_quiz(quiz_stack, client, wrong_questions=2)
    second, _ = answer_quiz(quiz_stack, client, wrong_questions=0)
    assert "16 out of 18" in first.text and "18 out of 18" in second.text
    assert "18/18" in client.get("/").text
    other = quiz_stack.learner(name + "o")
    path = first.url.split(quiz_stack.base)[1]
    assert other.get(path).status_code == 404
    assert client.get(path).status_code == 200
    bumped = re.sub(r"/attempts/(\d+)", lambda m: f"/attempts/{int(m.group(1)) + 1000}", path)
    assert client.get(bumped).status_code == 404


def test_the_home_page_follows_every_change_behind_it(quiz_stack, name):
    """Home is kept per learner until something on it changes (migration v6-home-revision):
    an attempt, a journal entry, a quiz renamed by another process all show on the next view."""
    client = quiz_stack.learner(name)
    assert "not taken yet" in client.get("/").text
    assert "not taken yet" in client.get("/").text  # the kept page
    answer_quiz(quiz_stack, client, wrong_questions=2)
    home = client.get("/")
    assert "16/18" in home.text and "1 card due today" not in home.text
    assert "No entries yet" in home.text
    created = client.submit("/journal/new", "/journal/new", {"title": "Kept pages", "body": "b"})
    assert created.status_code == 303
    assert "Kept pages" in client.get("/").text
    db = sqlite3.connect(quiz_stack.data / "portal.db", timeout=10)  # another process, writing
    (title,) = db.execute("SELECT title FROM quiz WHERE slug = 'phase-0'").fetchone()
    db.execute("UPDATE quiz SET title = 'Renamed elsewhere' WHERE slug = 'phase-0'")
    db.commit()
    try:
        assert "Renamed elsewhere" in client.get("/").text
    finally:
        db.execute("UPDATE quiz SET title = ? WHERE slug = 'phase-0'", (title,))
        db.commit()
        db.close()
    assert "Renamed elsewhere" not in client.get("/").text


def study_day_case(fresh_stack_factory, zone, miss_at, not_due_at, due_at):
    stack = fresh_stack_factory(faketime=fake(miss_at, zone)).start()
    stack.cli("quiz", "import", str(QUIZ))
    client = stack.learner("walker", tz=zone)
    answer_quiz(stack, client)
    assert "Nothing to review right now" in client.get("/review").text
    stack.restart_portal(faketime=fake(not_due_at, zone))
    client.login("walker")  # hours later: the session has timed out
    assert "Nothing to review right now" in client.get("/review").text, f"due too early at {not_due_at}"
    stack.restart_portal(faketime=fake(due_at, zone))
    client.login("walker")
    review = client.get("/review")
    assert "Check answer" in review.text, f"not due at {due_at}"
    assert "1 card due today" in client.get("/").text
    return stack, client


def test_learner_east_of_utc_sees_the_card_next_local_morning_not_the_same_afternoon(fresh_stack_factory):
    day = base_day()
    at = lambda d, h, m=0: datetime.datetime.combine(day + datetime.timedelta(days=d), datetime.time(h, m))
    # Brisbane is UTC+10: 08:00 local is 22:00 UTC the day before, so the UTC date changes at 10:00 local.
    study_day_case(fresh_stack_factory, "Australia/Brisbane", at(0, 8), at(0, 14), at(1, 7))


def test_learner_west_of_utc_sees_the_card_next_morning(fresh_stack_factory):
    day = base_day()
    at = lambda d, h, m=0: datetime.datetime.combine(day + datetime.timedelta(days=d), datetime.time(h, m))
    # Los Angeles: 18:00 local is already the next UTC date.
    study_day_case(fresh_stack_factory, "America/Los_Angeles", at(0, 18), at(0, 23, 30), at(1, 8))


def test_a_miss_at_half_past_midnight_is_due_after_four_that_morning(fresh_stack_factory):
    day = base_day()
    at = lambda d, h, m=0: datetime.datetime.combine(day + datetime.timedelta(days=d), datetime.time(h, m))
    study_day_case(fresh_stack_factory, "Europe/Berlin", at(1, 0, 30), at(1, 3, 50), at(1, 4, 5))


def grade_form(client, right):
    """Answers the card on /review; returns the response to the answer."""
    page = client.get("/review")
    card = re.search(r'name="card" value="(\d+)"', page.text).group(1)
    return card, page


def test_review_grades_follow_sm2_and_the_same_day_rule(fresh_stack_factory):
    day = base_day()
    zone = "UTC"
    at = lambda d, h: datetime.datetime.combine(day + datetime.timedelta(days=d), datetime.time(h))
    stack = fresh_stack_factory(faketime=fake(at(0, 9), zone)).start()
    stack.cli("quiz", "import", str(QUIZ))
    client = stack.learner("sam", tz=zone)
    answer_quiz(stack, client)
    assert card_row(stack, "sam")[0][:4] == (196, 0, 1, str(day + datetime.timedelta(days=1)))
    stack.restart_portal(faketime=fake(at(1, 9), zone))
    client.login("sam")  # a day later: the session has timed out

    db = stack.db()
    card_id, question_id = db.execute("SELECT id, question_id FROM review_card").fetchone()
    options = dict(db.execute("SELECT id, is_correct FROM option WHERE question_id = ?", (question_id,)).fetchall())
    db.close()
    right = next(o for o, ok in options.items() if ok)
    wrong = next(o for o, ok in options.items() if not ok)

    page = client.get("/review")
    token = csrf_token(page.text)
    missed = client.post("/review/answer", {"csrf": token, "card": card_id, "option": wrong}, allow_redirects=True)
    assert "Not quite" in missed.text and "Right answer:" in missed.text
    # q = 1 on the day's first grading: EF 1.96 - 0.54 = 1.42, interval 1, and a same-day repeat.
    assert card_row(stack, "sam")[0] == (142, 0, 1, str(day + datetime.timedelta(days=2)), str(day + datetime.timedelta(days=1)))
    assert "Again today" in missed.text and "Check answer" in missed.text

    answered = client.post("/review/answer", {"csrf": token, "card": card_id, "option": right})
    assert answered.status_code == 200 and "How hard was it to remember?" in answered.text
    grade_token = re.search(r'name="token" value="([^"]+)"', answered.text).group(1)
    forged = client.post("/review/grade", {"csrf": token, "card": card_id, "quality": "5", "token": "x" * 43})
    assert forged.status_code == 400
    graded = client.post("/review/grade", {"csrf": token, "card": card_id, "quality": "4", "token": grade_token},
                         allow_redirects=True)
    assert "Graded <strong>Good</strong>" in graded.text
    # The repeat did not change the schedule; the repeat is cleared by a 4.
    assert card_row(stack, "sam")[0] == (142, 0, 1, str(day + datetime.timedelta(days=2)), None)
    assert "Nothing to review right now" in graded.text

    stack.restart_portal(faketime=fake(at(2, 9), zone))
    client.login("sam")
    page = client.get("/review")
    answered = client.post("/review/answer", {"csrf": csrf_token(page.text), "card": card_id, "option": right})
    grade_token = re.search(r'name="token" value="([^"]+)"', answered.text).group(1)
    graded = client.post("/review/grade", {"csrf": csrf_token(page.text), "card": card_id, "quality": "4",
                                           "token": grade_token}, allow_redirects=True)
    # First successful repetition: interval 1, EF unchanged by a 4.
    due = day + datetime.timedelta(days=3)
    assert card_row(stack, "sam")[0] == (142, 1, 1, str(due), None)
    assert f'datetime="{due}"' in graded.text
    audit = [line for line in stack.audit_lines() if '"event":"card_reviewed"' in line]
    assert len(audit) == 3 and f'"due":"{due}"' in audit[-1] and '"q":"4"' in audit[-1]


def test_journal_create_view_edit_delete_keeps_line_breaks_and_escapes(quiz_stack, name):
    client = quiz_stack.learner(name)
    body = "first line\nsecond <b>line</b>\n\n<script>alert(1)</script>"
    created = client.submit("/journal/new", "/journal/new", {"title": "Day <1>", "body": body}, allow_redirects=True)
    assert created.status_code == 200
    assert "Day &lt;1&gt;" in created.text
    assert "first line\nsecond &lt;b&gt;line&lt;/b&gt;\n\n&lt;script&gt;" in created.text
    assert "<script>alert" not in created.text
    entry = created.url.split(quiz_stack.base)[1]
    edited = client.submit(entry + "/edit", entry + "/edit", {"title": "Day one", "body": "changed"},
                           allow_redirects=True)
    assert "Day one" in edited.text and "changed" in edited.text and "Saved." in edited.text
    assert "Day one" in client.get("/journal").text
    assert "Delete this entry?" in client.get(entry + "/delete").text
    deleted = client.submit(entry + "/delete", entry + "/delete", {}, allow_redirects=True)
    assert "The entry was deleted." in deleted.text
    assert client.get(entry).status_code == 404
    events = [line for line in quiz_stack.audit_lines() if name in line and '"event":"journal_' in line]
    assert [re.search(r'"event":"(\w+)"', line).group(1) for line in events] == [
        "journal_created", "journal_edited", "journal_deleted"]


def test_journal_validation_keeps_what_was_typed(quiz_stack, name):
    client = quiz_stack.learner(name)
    missing_title = client.submit("/journal/new", "/journal/new", {"title": " ", "body": "kept text"})
    assert "Give the entry a title." in missing_title.text and "kept text" in missing_title.text
    long_title = client.submit("/journal/new", "/journal/new", {"title": "t" * 201, "body": "x"})
    assert "keep it to 200" in long_title.text
    long_body = client.submit("/journal/new", "/journal/new", {"title": "ok", "body": "b" * 20001})
    assert "keep it to 20000" in long_body.text
    empty_body = client.submit("/journal/new", "/journal/new", {"title": "ok", "body": "  \n "})
    assert "Write something" in empty_body.text
    assert "No entries yet" in client.get("/journal").text


def test_another_learner_gets_404_for_every_journal_action(quiz_stack, name):
    owner = quiz_stack.learner(name)
    created = owner.submit("/journal/new", "/journal/new", {"title": "mine", "body": "private"}, allow_redirects=True)
    entry = created.url.split(quiz_stack.base)[1]
    intruder = quiz_stack.learner(name + "i")
    for path in (entry, entry + "/edit", entry + "/delete"):
        assert intruder.get(path).status_code == 404
    token = intruder.csrf_from("/journal")
    assert intruder.post(entry + "/edit", {"csrf": token, "title": "pwned", "body": "x"}).status_code == 404
    assert intruder.post(entry + "/delete", {"csrf": token}).status_code == 404
    assert "private" in owner.get(entry).text and "pwned" not in owner.get(entry).text
    assert intruder.get("/journal/999999").status_code == 404
    assert intruder.get("/journal/abc").status_code == 404


def test_journal_is_paginated_newest_first(quiz_stack, name):
    client = quiz_stack.learner(name)
    for i in range(23):
        client.submit("/journal/new", "/journal/new", {"title": f"entry {i:02d}", "body": "x"})
    first = client.get("/journal")
    titles = re.findall(r">entry (\d\d)<", first.text)
    assert len(titles) == 20 and titles[0] == "22"
    assert "/journal?page=2" in first.text
    second = client.get("/journal?page=2")
    assert re.findall(r">entry (\d\d)<", second.text) == ["02", "01", "00"]


def test_every_new_form_checks_csrf(quiz_stack, name):
    client = quiz_stack.learner(name)
    created = client.submit("/journal/new", "/journal/new", {"title": "t", "body": "b"}, allow_redirects=True)
    entry = created.url.split(quiz_stack.base)[1]
    other_session_token = quiz_stack.learner(name + "o").csrf_from("/journal")
    for path in ("/quiz/phase-0", "/review/answer", "/review/grade", "/journal/new", entry + "/edit",
                 entry + "/delete", "/settings/time-zone", "/settings/password", "/logout"):
        assert client.post(path, {"title": "x", "body": "y", "time_zone": "Europe/Paris"}).status_code == 403, path
        assert client.post(path, {"csrf": "nope", "time_zone": "Europe/Paris"}).status_code == 403, path
        assert client.post(path, {"csrf": other_session_token, "title": "x", "body": "y",
                                  "time_zone": "Europe/Paris"}).status_code == 403, path
    assert client.get(entry).status_code == 200
    assert "<option selected>UTC</option>" in client.get("/settings").text
    assert "Welcome" in client.get("/").text  # still logged in: /logout refused too


def test_settings_change_time_zone_and_password(quiz_stack, name):
    client = quiz_stack.learner(name)
    other = quiz_stack.client()
    other.login(name)
    page = client.get("/settings")
    assert "study days" in page.text and "4:00" in page.text
    saved = client.submit("/settings", "/settings/time-zone", {"time_zone": "Asia/Tokyo"}, allow_redirects=True)
    assert "Time zone saved." in saved.text and "<option selected>Asia/Tokyo</option>" in saved.text
    bad = client.submit("/settings", "/settings/time-zone", {"time_zone": "Mars/Olympus"})
    assert "Choose a time zone from the list." in bad.text
    wrong = client.submit("/settings", "/settings/password",
                          {"current": "not it at all, no", "password": "a new long passphrase", "confirm": "a new long passphrase"})
    assert "current password is not right" in wrong.text
    changed = client.submit("/settings", "/settings/password",
                            {"current": PASSWORD, "password": "a new long passphrase", "confirm": "a new long passphrase"},
                            allow_redirects=True)
    assert "Password changed." in changed.text
    assert other.get("/", allow_redirects=False).status_code == 303  # other session ended
    assert client.get("/", allow_redirects=False).status_code == 200
    assert quiz_stack.client().login(name, "a new long passphrase").status_code == 303


def test_reimport_keeps_history_and_retires_removed_questions(fresh_stack_factory, tmp_path):
    stack = fresh_stack_factory().start()
    stack.cli("quiz", "import", str(QUIZ))
    client = stack.learner("keeper")
    result, missed = answer_quiz(stack, client)
    db = stack.db()
    key = db.execute("SELECT key FROM question WHERE id = ?", (missed[0],)).fetchone()[0]
    db.close()
    text = QUIZ.read_text()
    blocks = re.split(r"\n(?=::)", text)
    kept = [b for b in blocks if not b.startswith(f"::{key}::")]
    edited = tmp_path / "phase-0.gift"
    assert key == "shell-pwd"  # the first question is the one answered wrongly
    edited.write_text("\n".join(kept).replace("Which command also lists hidden files", "Which command lists hidden files too"))
    out = stack.cli("quiz", "import", str(edited)).stdout
    assert "1 retired" in out and "1 updated" in out
    db = stack.db()
    assert db.execute("SELECT retired_at IS NOT NULL FROM question WHERE id = ?", (missed[0],)).fetchone()[0] == 1
    assert db.execute("SELECT retired FROM review_card").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM attempt_answer").fetchone()[0] == 18
    db.close()
    assert client.get(result.url.split(stack.base)[1]).status_code == 200
    page = client.get("/quiz/phase-0")
    assert page.text.count("<fieldset") == 17 and "lists hidden files too" in page.text
    restored = stack.cli("quiz", "import", str(QUIZ)).stdout
    assert "1 updated" in restored or "2 updated" in restored
    db = stack.db()
    assert db.execute("SELECT retired FROM review_card").fetchone()[0] == 0
    db.close()


def test_malformed_quiz_file_is_refused_with_its_line_and_nothing_imported(fresh_stack_factory, tmp_path):
    stack = fresh_stack_factory()
    bad = tmp_path / "broken.gift"
    bad.write_text("::a:: First? {=yes ~no}\n\n::b:: Second? {=one =two}\n")
    result = stack.cli("quiz", "import", str(bad), check=False)
    assert result.returncode != 0
    assert "line 3" in result.stderr and "nothing imported" in result.stderr
    stack.cli("migrate")
    db = sqlite3.connect(stack.data / "portal.db")
    assert db.execute("SELECT count(*) FROM quiz").fetchone()[0] == 0
    db.close()
    aiken = tmp_path / "capitals.txt"
    aiken.write_text("What is the capital of France?\nA. Paris\nB. Rome\nANSWER: A\n")
    assert "1 new" in stack.cli("quiz", "import", str(aiken)).stdout
