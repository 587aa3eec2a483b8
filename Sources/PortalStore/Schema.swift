import GRDB

/// The versioned schema. Migrations are append-only: never edit one that has shipped.
///
/// Timestamps are Unix seconds (UTC); due dates are study days as `YYYY-MM-DD` text.
enum Schema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-accounts") { db in
            try db.execute(
                sql: """
                    CREATE TABLE learner (
                        id INTEGER PRIMARY KEY,
                        username TEXT NOT NULL UNIQUE,
                        time_zone TEXT NOT NULL,
                        password_hash TEXT,
                        pepper_id TEXT,
                        disabled INTEGER NOT NULL DEFAULT 0,
                        created_at INTEGER NOT NULL,
                        password_set_at INTEGER
                    );
                    CREATE TABLE setup_code (
                        learner_id INTEGER PRIMARY KEY REFERENCES learner(id) ON DELETE CASCADE,
                        code_hash TEXT NOT NULL,
                        issued_at INTEGER NOT NULL,
                        expires_at INTEGER NOT NULL
                    );
                    CREATE TABLE session (
                        token_hash TEXT PRIMARY KEY,
                        learner_id INTEGER NOT NULL REFERENCES learner(id) ON DELETE CASCADE,
                        csrf_token TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        expires_at INTEGER NOT NULL
                    );
                    CREATE INDEX session_by_learner ON session(learner_id);
                    """)
        }
        migrator.registerMigration("v2-learning") { db in
            try db.execute(
                sql: """
                    CREATE TABLE quiz (
                        id INTEGER PRIMARY KEY,
                        slug TEXT NOT NULL UNIQUE,
                        title TEXT NOT NULL,
                        source_name TEXT NOT NULL,
                        imported_at INTEGER NOT NULL
                    );
                    CREATE TABLE question (
                        id INTEGER PRIMARY KEY,
                        quiz_id INTEGER NOT NULL REFERENCES quiz(id) ON DELETE CASCADE,
                        key TEXT NOT NULL,
                        prompt TEXT NOT NULL,
                        general_feedback TEXT,
                        position INTEGER NOT NULL,
                        retired_at INTEGER,
                        UNIQUE (quiz_id, key)
                    );
                    CREATE TABLE option (
                        id INTEGER PRIMARY KEY,
                        question_id INTEGER NOT NULL REFERENCES question(id) ON DELETE CASCADE,
                        position INTEGER NOT NULL,
                        text TEXT NOT NULL,
                        is_correct INTEGER NOT NULL,
                        feedback TEXT
                    );
                    CREATE INDEX option_by_question ON option(question_id, position);
                    CREATE TABLE attempt (
                        id INTEGER PRIMARY KEY,
                        learner_id INTEGER NOT NULL REFERENCES learner(id) ON DELETE CASCADE,
                        quiz_id INTEGER NOT NULL REFERENCES quiz(id) ON DELETE CASCADE,
                        submitted_at INTEGER NOT NULL,
                        study_day TEXT NOT NULL,
                        score INTEGER NOT NULL,
                        total INTEGER NOT NULL
                    );
                    CREATE INDEX attempt_by_learner ON attempt(learner_id, quiz_id, submitted_at);
                    CREATE TABLE attempt_answer (
                        attempt_id INTEGER NOT NULL REFERENCES attempt(id) ON DELETE CASCADE,
                        question_id INTEGER NOT NULL REFERENCES question(id) ON DELETE CASCADE,
                        chosen_text TEXT NOT NULL,
                        correct INTEGER NOT NULL,
                        PRIMARY KEY (attempt_id, question_id)
                    );
                    CREATE TABLE review_card (
                        id INTEGER PRIMARY KEY,
                        learner_id INTEGER NOT NULL REFERENCES learner(id) ON DELETE CASCADE,
                        question_id INTEGER NOT NULL REFERENCES question(id) ON DELETE CASCADE,
                        easiness INTEGER NOT NULL,
                        repetitions INTEGER NOT NULL,
                        interval_days INTEGER NOT NULL,
                        due_day TEXT NOT NULL,
                        last_reviewed_day TEXT,
                        repeat_day TEXT,
                        retired INTEGER NOT NULL DEFAULT 0,
                        created_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL,
                        UNIQUE (learner_id, question_id)
                    );
                    CREATE INDEX card_due ON review_card(learner_id, retired, due_day);
                    CREATE INDEX card_repeat ON review_card(learner_id, retired, repeat_day);
                    CREATE INDEX card_by_question ON review_card(question_id);
                    CREATE TABLE review_log (
                        id INTEGER PRIMARY KEY,
                        card_id INTEGER NOT NULL REFERENCES review_card(id) ON DELETE CASCADE,
                        reviewed_at INTEGER NOT NULL,
                        study_day TEXT NOT NULL,
                        quality INTEGER NOT NULL,
                        source TEXT NOT NULL,
                        schedule_changed INTEGER NOT NULL,
                        easiness INTEGER NOT NULL,
                        repetitions INTEGER NOT NULL,
                        interval_days INTEGER NOT NULL,
                        due_day TEXT NOT NULL
                    );
                    CREATE INDEX review_log_by_card ON review_log(card_id, reviewed_at);
                    CREATE TABLE journal_entry (
                        id INTEGER PRIMARY KEY,
                        learner_id INTEGER NOT NULL REFERENCES learner(id) ON DELETE CASCADE,
                        title TEXT NOT NULL,
                        body TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        updated_at INTEGER NOT NULL
                    );
                    CREATE INDEX journal_by_learner ON journal_entry(learner_id, created_at, id);
                    """)
        }
        // Covering indexes for the hottest counts. Today's queue reads last_reviewed_day for every
        // due card, and the home page counts each quiz's live questions: with those columns in
        // the index, both come from the index alone, without a table lookup per row.
        migrator.registerMigration("v3-covering-indexes") { db in
            try db.execute(
                sql: """
                    DROP INDEX card_due;
                    CREATE INDEX card_due ON review_card(learner_id, retired, due_day, last_reviewed_day);
                    CREATE INDEX question_live ON question(quiz_id, retired_at);
                    """)
        }
        // The home page lists every quiz with its number of live questions. Counting them per
        // page view read every question row; the count now lives on the quiz, kept by triggers
        // whatever writes the questions (the importer, a seed script, a manual fix).
        migrator.registerMigration("v4-quiz-question-count") { db in
            try db.execute(
                sql: """
                    ALTER TABLE quiz ADD COLUMN live_questions INTEGER NOT NULL DEFAULT 0;
                    UPDATE quiz SET live_questions =
                        (SELECT count(*) FROM question WHERE quiz_id = quiz.id AND retired_at IS NULL);
                    CREATE TRIGGER question_counted_insert AFTER INSERT ON question BEGIN
                        UPDATE quiz SET live_questions =
                            (SELECT count(*) FROM question WHERE quiz_id = NEW.quiz_id AND retired_at IS NULL)
                        WHERE id = NEW.quiz_id;
                    END;
                    CREATE TRIGGER question_counted_update AFTER UPDATE OF quiz_id, retired_at ON question BEGIN
                        UPDATE quiz SET live_questions =
                            (SELECT count(*) FROM question WHERE quiz_id = quiz.id AND retired_at IS NULL)
                        WHERE id IN (OLD.quiz_id, NEW.quiz_id);
                    END;
                    CREATE TRIGGER question_counted_delete AFTER DELETE ON question BEGIN
                        UPDATE quiz SET live_questions =
                            (SELECT count(*) FROM question WHERE quiz_id = OLD.quiz_id AND retired_at IS NULL)
                        WHERE id = OLD.quiz_id;
                    END;
                    """)
        }
        // A revision per quiz that every change to the quiz, its questions or their options
        // raises, in the changing transaction: the quiz page keeps the quiz it read and only
        // checks this number (QuizStore.quiz(slug:)). Triggers, so that no writer can forget it.
        // And the quiz list in title order straight from an index, without a sort per page view;
        // journal lists from an index holding everything they show (no row lookups).
        migrator.registerMigration("v5-quiz-revision") { db in
            try db.execute(
                sql: """
                    ALTER TABLE quiz ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
                    CREATE INDEX quiz_by_title ON quiz(title, slug, live_questions);
                    CREATE INDEX journal_listing ON journal_entry(learner_id, created_at, id, title, updated_at);
                    DROP INDEX journal_by_learner;
                    CREATE TRIGGER quiz_revised AFTER UPDATE OF slug, title ON quiz BEGIN
                        UPDATE quiz SET revision = revision + 1 WHERE id = NEW.id;
                    END;
                    CREATE TRIGGER question_revised_insert AFTER INSERT ON question BEGIN
                        UPDATE quiz SET revision = revision + 1 WHERE id = NEW.quiz_id;
                    END;
                    CREATE TRIGGER question_revised_update AFTER UPDATE ON question BEGIN
                        UPDATE quiz SET revision = revision + 1 WHERE id IN (OLD.quiz_id, NEW.quiz_id);
                    END;
                    CREATE TRIGGER question_revised_delete AFTER DELETE ON question BEGIN
                        UPDATE quiz SET revision = revision + 1 WHERE id = OLD.quiz_id;
                    END;
                    CREATE TRIGGER option_revised_insert AFTER INSERT ON option BEGIN
                        UPDATE quiz SET revision = revision + 1
                        WHERE id = (SELECT quiz_id FROM question WHERE id = NEW.question_id);
                    END;
                    CREATE TRIGGER option_revised_update AFTER UPDATE ON option BEGIN
                        UPDATE quiz SET revision = revision + 1
                        WHERE id IN (SELECT quiz_id FROM question WHERE id IN (OLD.question_id, NEW.question_id));
                    END;
                    CREATE TRIGGER option_revised_delete AFTER DELETE ON option BEGIN
                        UPDATE quiz SET revision = revision + 1
                        WHERE id = (SELECT quiz_id FROM question WHERE id = OLD.question_id);
                    END;
                    """)
        }
        // What the home page shows of a learner changes only with these rows: each change raises
        // the learner's home_revision (the quiz list, shared by all, raises catalog.revision),
        // so a home page rendered for one revision can be shown again until the next change, in
        // this process or another.
        migrator.registerMigration("v6-home-revision") { db in
            var triggers = """
                ALTER TABLE learner ADD COLUMN home_revision INTEGER NOT NULL DEFAULT 0;
                CREATE TABLE catalog (id INTEGER PRIMARY KEY CHECK (id = 1), revision INTEGER NOT NULL);
                INSERT INTO catalog (id, revision) VALUES (1, 0);
                CREATE TRIGGER learner_home_revised AFTER UPDATE OF username, time_zone ON learner BEGIN
                    UPDATE learner SET home_revision = home_revision + 1 WHERE id = NEW.id;
                END;

                """
            for table in ["review_card", "attempt", "journal_entry"] {
                triggers += """
                    CREATE TRIGGER \(table)_home_insert AFTER INSERT ON \(table) BEGIN
                        UPDATE learner SET home_revision = home_revision + 1 WHERE id = NEW.learner_id;
                    END;
                    CREATE TRIGGER \(table)_home_update AFTER UPDATE ON \(table) BEGIN
                        UPDATE learner SET home_revision = home_revision + 1 WHERE id IN (OLD.learner_id, NEW.learner_id);
                    END;
                    CREATE TRIGGER \(table)_home_delete AFTER DELETE ON \(table) BEGIN
                        UPDATE learner SET home_revision = home_revision + 1 WHERE id = OLD.learner_id;
                    END;

                    """
            }
            for (event, name) in [("INSERT", "insert"), ("UPDATE", "update"), ("DELETE", "delete")] {
                triggers += """
                    CREATE TRIGGER quiz_catalog_\(name) AFTER \(event) ON quiz BEGIN
                        UPDATE catalog SET revision = revision + 1 WHERE id = 1;
                    END;

                    """
            }
            try db.execute(sql: triggers)
        }
        // Re-authentication after 12 hours or 30 minutes idle (PortalDomain.SessionLifetime):
        // sessions record their last activity, and none outlives 12 hours (43200 s) any more.
        migrator.registerMigration("v7-session-activity") { db in
            try db.execute(
                sql: """
                    ALTER TABLE session ADD COLUMN last_seen_at INTEGER NOT NULL DEFAULT 0;
                    UPDATE session SET last_seen_at = created_at, expires_at = MIN(expires_at, created_at + 43200);
                    """)
        }
        // Pepper ids are derived from the pepper (16 hex digits, PortalConfiguration.pepperID)
        // instead of chosen (LYNX_PEPPER_ID, "1" by default). A chosen id says nothing about which
        // pepper made a hash, so it is cleared: such a hash is tried under the current pepper, then
        // each of LYNX_PEPPER_PREVIOUS, at its next login, which records the id that verified it.
        migrator.registerMigration("v8-password-pepper") { db in
            try db.execute(
                sql: """
                    UPDATE learner SET pepper_id = NULL
                    WHERE pepper_id IS NOT NULL AND (length(pepper_id) != 16 OR pepper_id GLOB '*[^0-9a-f]*');
                    """)
        }
        return migrator
    }
}
