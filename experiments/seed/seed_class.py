#!/usr/bin/env python3
"""Seeds a class into a migrated portal.db through SQL, for benchmarks and backup sizing.

Usage:
  LYNX_DATA_DIR=DIR lynx-portal migrate            # create the schema with the portal's own code
  experiments/seed/seed_class.py --db DIR/portal.db [--learners 50] [--scale 1] [--days 180]
  experiments/seed/seed_class.py --db DIR/portal.db --simulate-day [--audit-dir DIR/audit]

A class at --scale 1: per learner ~50 review cards, 20 journal entries and 2 quiz attempts of 20
questions over --days of history. --scale 10 is the benchmark's class: ~500 cards, 200 journal
entries, 20 attempts per learner. Learners review each card whenever it falls due (on the day, or
one time in five a few days late), so on the last day a few cards are due, as for a class that
uses the portal; learners 10, 20, ... stopped reviewing --behind-days ago and have a backlog. Quiz banks of 20
questions are added as needed (quiz slugs seed-bank-NN). Learners are named student01.. and
have no password and no setup code: `lynx-portal user reset NAME` gives one a setup code.

--simulate-day adds one day of typical use to an existing class: each learner opens a session,
grades 20 cards (the schedule and a review_log row each), writes a journal entry, and one in
three takes a quiz; with --audit-dir, the audit lines the portal would write for it.

Rows are written as the portal writes them (see Sources/PortalStore); run it while no portal
writes (or one idles), since another process's writes should stay rare (docs/ARCHITECTURE.md, Platform notes).
"""
import argparse
import datetime
import hashlib
import json
import math
import os
import pathlib
import random
import sqlite3
import sys
import time

WORDS = (
    "review card question answer learn remember forget practice spaced repetition memory quiz "
    "today tomorrow week lesson teacher class notes idea example mistake again better slowly "
    "quickly understand explain simple hard easy interval schedule morning evening problem "
    "solution function variable loop list string number file server database backup restore "
    "write read think try compare choose because although while after before during until the "
    "a an and or but of to in on with for from about into over under between through".split())
ZONES = ("UTC", "Europe/Madrid", "America/Mexico_City", "Asia/Tokyo", "Australia/Sydney")
QUESTIONS_PER_BANK = 20


def text(rng, low, high):
    """Plain prose of low..high characters (compresses like real notes, not like noise)."""
    target = rng.randint(low, high)
    parts, size = [], 0
    while size < target:
        sentence = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 16))).capitalize() + "."
        parts.append(sentence)
        size += len(sentence) + 1
        if rng.random() < 0.15:
            parts.append("\n\n")
    return " ".join(parts)[:target]


def study_day(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).date()


def iso(day):
    return day.isoformat()


def open_db(path):
    db = sqlite3.connect(path, timeout=30)
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA busy_timeout = 5000")
    migrated = {row[0] for row in db.execute("SELECT identifier FROM grdb_migrations")} \
        if db.execute("SELECT 1 FROM sqlite_schema WHERE name = 'grdb_migrations'").fetchone() else set()
    if "v7-session-activity" not in migrated:
        sys.exit(f"seed_class: {path} is not a migrated portal database: run "
                 f"`LYNX_DATA_DIR={os.path.dirname(path) or '.'} lynx-portal migrate` first")
    return db


def ensure_banks(db, rng, questions_needed, now):
    """Quiz banks seed-bank-NN of 20 four-option questions until enough questions exist."""
    banks = db.execute("SELECT count(*) FROM quiz WHERE slug LIKE 'seed-bank-%'").fetchone()[0]
    while banks * QUESTIONS_PER_BANK < questions_needed:
        banks += 1
        db.execute("INSERT INTO quiz (slug, title, source_name, imported_at) VALUES (?, ?, ?, ?)",
                   (f"seed-bank-{banks:02d}", f"Seeded bank {banks}", f"seed-bank-{banks:02d}.gift", now))
        quiz_id = db.execute("SELECT last_insert_rowid()").fetchone()[0]
        for position in range(QUESTIONS_PER_BANK):
            db.execute("INSERT INTO question (quiz_id, key, prompt, general_feedback, position) VALUES (?, ?, ?, ?, ?)",
                       (quiz_id, f"q{position + 1}", text(rng, 40, 160) + "?", text(rng, 0, 120) or None, position))
            question_id = db.execute("SELECT last_insert_rowid()").fetchone()[0]
            right = rng.randrange(4)
            for option in range(4):
                db.execute("INSERT INTO option (question_id, position, text, is_correct, feedback) VALUES (?, ?, ?, ?, ?)",
                           (question_id, option, text(rng, 5, 60), int(option == right), None))
    return [row for row in db.execute(
        "SELECT q.id, q.quiz_id FROM question q JOIN quiz z ON z.id = q.quiz_id "
        "WHERE z.slug LIKE 'seed-bank-%' AND q.retired_at IS NULL ORDER BY q.id")]


def options_of(db, question_id):
    return db.execute("SELECT text, is_correct FROM option WHERE question_id = ? ORDER BY position",
                      (question_id,)).fetchall()


def add_attempt(db, rng, learner_id, quiz_id, questions, at, cards):
    """An attempt with its answers; a wrong answer creates (or grades) the card with q = 1."""
    day = iso(study_day(at))
    answers = []
    for question_id in questions:
        choices = options_of(db, question_id)
        correct = rng.random() < 0.75
        chosen = next(t for t, ok in choices if bool(ok) == correct)
        answers.append((question_id, chosen, correct))
    score = sum(1 for _, _, ok in answers if ok)
    db.execute("INSERT INTO attempt (learner_id, quiz_id, submitted_at, study_day, score, total) "
               "VALUES (?, ?, ?, ?, ?, ?)", (learner_id, quiz_id, at, day, score, len(answers)))
    attempt_id = db.execute("SELECT last_insert_rowid()").fetchone()[0]
    for question_id, chosen, correct in answers:
        db.execute("INSERT INTO attempt_answer (attempt_id, question_id, chosen_text, correct) VALUES (?, ?, ?, ?)",
                   (attempt_id, question_id, chosen, int(correct)))
        if not correct:
            card_id = cards.get(question_id)
            if card_id is None:
                db.execute("INSERT INTO review_card (learner_id, question_id, easiness, repetitions, interval_days, "
                           "due_day, created_at, updated_at) VALUES (?, ?, 250, 0, 0, ?, ?, ?)",
                           (learner_id, question_id, day, at, at))
                card_id = db.execute("SELECT last_insert_rowid()").fetchone()[0]
                cards[question_id] = card_id
            grade(db, card_id, 1, at, "quiz")
    return attempt_id


def sm2(easiness, repetitions, interval, quality):
    """SM-2 as the portal applies it (docs/ARCHITECTURE.md), integer hundredths for EF."""
    if quality < 3:
        repetitions, interval = 0, 1
    else:
        interval = 1 if repetitions == 0 else 6 if repetitions == 1 else math.ceil(interval * easiness / 100)
        repetitions += 1
    easiness = max(130, easiness + (10, 0, -14, -32, -54, -80)[5 - quality])
    return easiness, repetitions, interval


def grade(db, card_id, quality, at, source):
    """Grades a card as the portal does: the schedule (once per study day) and a review_log row."""
    easiness, repetitions, interval, last = db.execute(
        "SELECT easiness, repetitions, interval_days, last_reviewed_day FROM review_card WHERE id = ?",
        (card_id,)).fetchone()
    day = study_day(at)
    changed = last != iso(day)
    if changed:
        easiness, repetitions, interval = sm2(easiness, repetitions, interval, quality)
    due = iso(day + datetime.timedelta(days=interval))
    db.execute("UPDATE review_card SET easiness = ?, repetitions = ?, interval_days = ?, due_day = ?, "
               "last_reviewed_day = ?, repeat_day = NULL, updated_at = ? WHERE id = ?",
               (easiness, repetitions, interval, due, iso(day), at, card_id))
    db.execute("INSERT INTO review_log (card_id, reviewed_at, study_day, quality, source, schedule_changed, easiness, "
               "repetitions, interval_days, due_day) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (card_id, at, iso(day), quality, source, int(changed), easiness, repetitions, interval, due))


def keep_up(db, rng, card_id, until):
    """Reviews the card whenever it falls due until `until`, as a learner who keeps up does: on
    the due day, or one time in five one to three days late; grades 1, 3, 4, 4, 5, 5 at random.
    The card is left with whatever falls due on or after `until` (today, or later)."""
    easiness, repetitions, interval, due = db.execute(
        "SELECT easiness, repetitions, interval_days, due_day FROM review_card WHERE id = ?", (card_id,)).fetchone()
    logs, last, updated = [], None, None
    while True:
        day = datetime.date.fromisoformat(due)
        if rng.random() < 0.2:
            day += datetime.timedelta(days=rng.randint(1, 3))
        at = int(datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.timezone.utc).timestamp()) \
            + rng.randrange(7 * 3600, 22 * 3600)
        if at >= until:
            break
        quality = rng.choice((1, 3, 4, 4, 5, 5))
        easiness, repetitions, interval = sm2(easiness, repetitions, interval, quality)
        due, last, updated = iso(day + datetime.timedelta(days=interval)), iso(day), at
        logs.append((card_id, at, last, quality, "review", 1, easiness, repetitions, interval, due))
    if logs:
        db.executemany("INSERT INTO review_log (card_id, reviewed_at, study_day, quality, source, schedule_changed, "
                       "easiness, repetitions, interval_days, due_day) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", logs)
        db.execute("UPDATE review_card SET easiness = ?, repetitions = ?, interval_days = ?, due_day = ?, "
                   "last_reviewed_day = ?, repeat_day = NULL, updated_at = ? WHERE id = ?",
                   (easiness, repetitions, interval, due, last, updated, card_id))


def add_journal(db, rng, learner_id, at):
    db.execute("INSERT INTO journal_entry (learner_id, title, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
               (learner_id, text(rng, 10, 60), text(rng, 200, 1500), at, at))
    return db.execute("SELECT last_insert_rowid()").fetchone()[0]


def add_session(db, rng, learner_id, at):
    # As the portal opens one: 12 hours at most, last active when opened.
    db.execute("INSERT INTO session (token_hash, learner_id, csrf_token, created_at, expires_at, last_seen_at) "
               "VALUES (?, ?, ?, ?, ?, ?)",
               (hashlib.sha256(rng.randbytes(32)).hexdigest(), learner_id, rng.randbytes(32).hex(), at,
                at + 12 * 3600, at))


def seed(args):
    rng = random.Random(args.seed)
    db = open_db(args.db)
    now = int(time.time())
    start = now - args.days * 86400
    cards_per, journal_per, attempts_per = 50 * args.scale, 20 * args.scale, 2 * args.scale
    with db:
        questions = ensure_banks(db, rng, cards_per + QUESTIONS_PER_BANK, now)
        banks = {}
        for question_id, quiz_id in questions:
            banks.setdefault(quiz_id, []).append(question_id)
        taken = {row[0] for row in db.execute("SELECT username FROM learner")}
        created = 0
        number = 0
        while created < args.learners:
            number += 1
            username = f"student{number:02d}"
            if username in taken:
                continue
            joined = start + rng.randrange(86400)
            db.execute("INSERT INTO learner (username, time_zone, created_at) VALUES (?, ?, ?)",
                       (username, rng.choice(ZONES), joined))
            learner_id = db.execute("SELECT last_insert_rowid()").fetchone()[0]
            created += 1
            cards = {}
            for _ in range(attempts_per):
                quiz_id = rng.choice(list(banks))
                add_attempt(db, rng, learner_id, quiz_id, banks[quiz_id], rng.randrange(joined, now), cards)
            # Top up with cards from reviews so each learner has ~cards_per; ~4 gradings each.
            pool = [q for q, _ in questions if q not in cards]
            rng.shuffle(pool)
            for question_id in pool[:max(0, cards_per - len(cards))]:
                at = rng.randrange(joined, now - 5 * 86400)
                db.execute("INSERT INTO review_card (learner_id, question_id, easiness, repetitions, interval_days, "
                           "due_day, created_at, updated_at) VALUES (?, ?, 250, 0, 0, ?, ?, ?)",
                           (learner_id, question_id, iso(study_day(at)), at, at))
                cards[question_id] = db.execute("SELECT last_insert_rowid()").fetchone()[0]
                grade(db, cards[question_id], 1, at, "quiz")
            # One learner in ten fell behind: they stopped reviewing --behind-days ago, and their
            # cards have piled up as due since.
            until = now - args.behind_days * 86400 if created % 10 == 0 else now
            for card_id in cards.values():
                keep_up(db, rng, card_id, until)
            for _ in range(journal_per):
                add_journal(db, rng, learner_id, rng.randrange(joined, now))
            add_session(db, rng, learner_id, now - rng.randrange(7 * 86400))
    counts = {table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
              for table in ("learner", "quiz", "question", "review_card", "review_log", "journal_entry", "attempt",
                            "attempt_answer", "session")}
    db.close()
    print(json.dumps({"seeded": args.learners, "scale": args.scale, "rows": counts}))


def simulate_day(args):
    rng = random.Random(args.seed)
    db = open_db(args.db)
    now = int(time.time()) + args.day_offset * 86400
    audit = []
    with db:
        learners = db.execute("SELECT id, username FROM learner WHERE disabled = 0 ORDER BY id").fetchall()
        banks = {}
        for question_id, quiz_id in db.execute("SELECT id, quiz_id FROM question WHERE retired_at IS NULL"):
            banks.setdefault(quiz_id, []).append(question_id)
        for learner_id, username in learners:
            at = now - rng.randrange(12 * 3600)
            add_session(db, rng, learner_id, at)
            audit.append(("login", username, at, {}))
            cards = [row[0] for row in db.execute(
                "SELECT id FROM review_card WHERE learner_id = ? AND retired = 0 ORDER BY due_day, id LIMIT 20",
                (learner_id,))]
            for card_id in cards:
                at += rng.randint(5, 60)
                grade(db, card_id, rng.choice((1, 3, 4, 4, 5, 5)), at, "review")
            entry = add_journal(db, rng, learner_id, at + 60)
            audit.append(("journal_created", username, at + 60, {"entry": str(entry)}))
            if rng.random() < 1 / 3:
                quiz_id = rng.choice(list(banks))
                existing = {q: c for q, c in db.execute(
                    "SELECT question_id, id FROM review_card WHERE learner_id = ?", (learner_id,))}
                attempt = add_attempt(db, rng, learner_id, quiz_id, banks[quiz_id], at + 120, existing)
                audit.append(("quiz_submitted", username, at + 120, {"attempt": str(attempt)}))
    db.close()
    if args.audit_dir:
        directory = pathlib.Path(args.audit_dir)
        directory.mkdir(parents=True, exist_ok=True)
        for event, username, at, details in sorted(audit, key=lambda item: item[2]):
            stamp = datetime.datetime.fromtimestamp(at, datetime.timezone.utc)
            line = {"event": event, "outcome": "succeeded", "remote_addr": "203.0.113.7",
                    "request_id": rng.randbytes(8).hex(), "timestamp": stamp.isoformat(timespec="milliseconds")
                    .replace("+00:00", "Z"), "username": username, **details}
            with open(directory / f"{stamp.date().isoformat()}.log", "a") as log:
                log.write(json.dumps(line, sort_keys=True) + "\n")
    print(json.dumps({"simulated_day": study_day(now).isoformat(), "learners": len(learners),
                      "audit_lines": len(audit)}))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="a portal.db created by `lynx-portal migrate`")
    parser.add_argument("--learners", type=int, default=50)
    parser.add_argument("--scale", type=int, default=1, help="1: the realistic class; 10: ten times its history")
    parser.add_argument("--days", type=int, default=180, help="days of history to spread it over")
    parser.add_argument("--seed", type=int, default=1, help="random seed (same seed, same class)")
    parser.add_argument("--behind-days", type=int, default=60,
                        help="learners 10, 20, ... stopped reviewing this many days ago (default 60)")
    parser.add_argument("--simulate-day", action="store_true", help="add one day of typical use instead")
    parser.add_argument("--day-offset", type=int, default=0, help="with --simulate-day: days after today")
    parser.add_argument("--audit-dir", help="with --simulate-day: also append the day's audit lines here")
    args = parser.parse_args()
    if args.learners < 1 or args.scale < 1:
        parser.error("--learners and --scale must be at least 1")
    simulate_day(args) if args.simulate_day else seed(args)


if __name__ == "__main__":
    main()
