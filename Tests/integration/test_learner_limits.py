"""Per-learner limits (LYNX_MAX_JOURNAL_ENTRIES, LYNX_MAX_QUIZ_ATTEMPTS), set low here so the
test needs three entries, not 5,000: a create past the limit is refused with a clear message,
writes nothing, and shows back what the learner typed or chose."""
import html

from test_learning import QUIZ, answer_quiz


def count(stack, sql):
    db = stack.db()
    try:
        return db.execute(sql).fetchone()[0]
    finally:
        db.close()


def test_a_journal_entry_past_the_limit_is_refused_and_shown_back(fresh_stack_factory, name):
    stack = fresh_stack_factory(env={"LYNX_MAX_JOURNAL_ENTRIES": "2"}).start()
    client = stack.learner(name)
    for number in (1, 2):
        made = client.submit("/journal/new", "/journal/new", {"title": f"entry {number}", "body": "kept"})
        assert made.status_code == 303, made.text
    body = "The third entry, typed with care <and> kept."
    refused = client.submit("/journal/new", "/journal/new", {"title": "entry 3", "body": body})
    assert refused.status_code == 200, refused.status_code
    assert "Not saved: the journal already holds 2 entries, the most one learner may keep" in refused.text
    assert html.escape(body, quote=False) in refused.text and 'value="entry 3"' in refused.text
    assert count(stack, "SELECT count(*) FROM journal_entry") == 2


def test_a_quiz_attempt_past_the_limit_is_refused_with_the_answers_kept(fresh_stack_factory, name):
    stack = fresh_stack_factory(env={"LYNX_MAX_QUIZ_ATTEMPTS": "1"}).start()
    stack.cli("quiz", "import", str(QUIZ))
    client = stack.learner(name)
    first, _ = answer_quiz(stack, client, wrong_questions=1)
    assert first.status_code == 200 and count(stack, "SELECT count(*) FROM attempt") == 1
    cards = count(stack, "SELECT count(*) FROM review_card")
    second, _ = answer_quiz(stack, client, wrong_questions=2)
    assert second.status_code == 200
    assert "Not submitted: 1 quiz attempts are already stored, the most one learner may keep" in second.text
    assert "checked" in second.text, "the chosen answers are not shown back"
    assert count(stack, "SELECT count(*) FROM attempt") == 1
    assert count(stack, "SELECT count(*) FROM review_card") == cards


def test_a_limit_that_is_not_a_whole_number_stops_start_up(fresh_stack_factory):
    stack = fresh_stack_factory(env={"LYNX_MAX_JOURNAL_ENTRIES": "lots"})
    assert stack.start_portal(expect_exit=True) == 78
    assert "LYNX_MAX_JOURNAL_ENTRIES" in stack.portal_log.read_text()
