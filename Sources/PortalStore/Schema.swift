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
        return migrator
    }
}
