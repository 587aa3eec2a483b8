import GRDB
import PortalDomain

/// Learner accounts, setup codes and sessions.
public struct AccountStore: Sendable {
    public let database: PortalDatabase

    public init(database: PortalDatabase) {
        self.database = database
    }

    private var pool: DatabasePool { database.pool }

    /// Creates a learner with a setup code (given here as its hash).
    public func addLearner(username: String, timeZone: String, codeHash: String, now: Int64, codeExpiresAt: Int64) throws
        -> Learner
    {
        try pool.write { db in
            if try Int.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM learner WHERE username = ?"), arguments: [username]) != nil
            {
                throw AccountError.usernameTaken(username)
            }
            try db.execute(
                sql: "INSERT INTO learner (username, time_zone, created_at) VALUES (?, ?, ?)",
                arguments: [username, timeZone, now])
            let id = db.lastInsertedRowID
            try db.execute(
                sql: "INSERT INTO setup_code (learner_id, code_hash, issued_at, expires_at) VALUES (?, ?, ?, ?)",
                arguments: [id, codeHash, now, codeExpiresAt])
            return try Learner.fetchOne(db.cachedStatement(sql: "SELECT * FROM learner WHERE id = ?"), arguments: [id])!
        }
    }

    /// Issues a new setup code, clears the password and ends every session of the learner.
    public func resetLearner(username: String, codeHash: String, now: Int64, codeExpiresAt: Int64) throws {
        try pool.write { db in
            guard let learner = try Self.learner(db, username: username) else { throw AccountError.noSuchLearner(username) }
            try db.execute(
                sql:
                    "UPDATE learner SET password_hash = NULL, pepper_id = NULL, password_set_at = NULL, disabled = 0 WHERE id = ?",
                arguments: [learner.id])
            try db.execute(
                sql: "INSERT OR REPLACE INTO setup_code (learner_id, code_hash, issued_at, expires_at) VALUES (?, ?, ?, ?)",
                arguments: [learner.id, codeHash, now, codeExpiresAt])
            try db.execute(sql: "DELETE FROM session WHERE learner_id = ?", arguments: [learner.id])
        }
    }

    /// Disables the account and ends its sessions; its data stays.
    public func disableLearner(username: String) throws {
        try pool.write { db in
            guard let learner = try Self.learner(db, username: username) else { throw AccountError.noSuchLearner(username) }
            try db.execute(sql: "UPDATE learner SET disabled = 1 WHERE id = ?", arguments: [learner.id])
            try db.execute(sql: "DELETE FROM setup_code WHERE learner_id = ?", arguments: [learner.id])
            try db.execute(sql: "DELETE FROM session WHERE learner_id = ?", arguments: [learner.id])
        }
    }

    public func learner(username: String) throws -> Learner? {
        try database.read { db in try Self.learner(db, username: username) }
    }

    public func learners() throws -> [Learner] {
        try database.read { db in try Learner.fetchAll(db.cachedStatement(sql: "SELECT * FROM learner ORDER BY username")) }
    }

    /// The hash and expiry of the learner's pending setup code, if any.
    public func setupCode(learnerID: Int64) throws -> (hash: String, expiresAt: Int64)? {
        try database.read { db in
            try Row.fetchOne(
                db.cachedStatement(sql: "SELECT code_hash, expires_at FROM setup_code WHERE learner_id = ?"),
                arguments: [learnerID]
            )
            .map { ($0["code_hash"], $0["expires_at"]) }
        }
    }

    /// Sets the first password: consumes the setup code (only if it still has `codeHash`, so a
    /// code is used at most once even under concurrent requests) and opens a session.
    /// Returns false when the code was already used.
    public func setFirstPassword(
        learnerID: Int64, codeHash: String, passwordHash: String, pepperID: String, now: Int64,
        session: NewSession
    ) throws -> Bool {
        try pool.write { db in
            try db.execute(
                sql: "DELETE FROM setup_code WHERE learner_id = ? AND code_hash = ? AND expires_at > ?",
                arguments: [learnerID, codeHash, now])
            guard db.changesCount == 1 else { return false }
            try db.execute(
                sql: "UPDATE learner SET password_hash = ?, pepper_id = ?, password_set_at = ? WHERE id = ?",
                arguments: [passwordHash, pepperID, now, learnerID])
            try db.execute(sql: "DELETE FROM session WHERE learner_id = ?", arguments: [learnerID])
            try Self.insert(db, session, learnerID: learnerID, now: now)
            return true
        }
    }

    /// Replaces the hash of the password that was just verified (`verifiedHash`) by the same
    /// password hashed with today's parameters or pepper, only if the stored hash is still the
    /// verified one: a reset or a password change in between wins. Returns false when it did.
    @discardableResult
    public func rehashPassword(learnerID: Int64, verifiedHash: String, passwordHash: String, pepperID: String) throws -> Bool {
        try pool.write { db in
            try db.execute(
                sql: "UPDATE learner SET password_hash = ?, pepper_id = ? WHERE id = ? AND password_hash = ?",
                arguments: [passwordHash, pepperID, learnerID, verifiedHash])
            return db.changesCount == 1
        }
    }

    /// Records which pepper verified a hash stored without its id (from before v8), only if the
    /// stored hash is still the verified one. The hash itself stays: it is under that pepper.
    @discardableResult
    public func recordPepperID(learnerID: Int64, verifiedHash: String, pepperID: String) throws -> Bool {
        try pool.write { db in
            try db.execute(
                sql: "UPDATE learner SET pepper_id = ? WHERE id = ? AND password_hash = ? AND pepper_id IS NULL",
                arguments: [pepperID, learnerID, verifiedHash])
            return db.changesCount == 1
        }
    }

    /// How many stored passwords each pepper id holds (nil: not recorded, i.e. not seen at a
    /// login since v8-password-pepper). Learners without a password are not counted.
    public func passwordsByPepperID() throws -> [String?: Int] {
        try pool.read { db in
            var counts: [String?: Int] = [:]
            let rows = try Row.fetchAll(
                db, sql: "SELECT pepper_id, count(*) FROM learner WHERE password_hash IS NOT NULL GROUP BY pepper_id")
            for row in rows { counts[row[0] as String?] = row[1] as Int }
            return counts
        }
    }

    /// Changes the password and ends every other session of the learner, in one transaction,
    /// only if the stored hash is still `verifiedHash` (the one the current password was
    /// checked against). Returns false, changing nothing, when it is not.
    public func changePassword(
        learnerID: Int64, verifiedHash: String, passwordHash: String, pepperID: String, now: Int64,
        keepingSession: String
    ) throws -> Bool {
        try pool.write { db in
            try db.execute(
                sql:
                    "UPDATE learner SET password_hash = ?, pepper_id = ?, password_set_at = ? WHERE id = ? AND password_hash = ?",
                arguments: [passwordHash, pepperID, now, learnerID, verifiedHash])
            guard db.changesCount == 1 else { return false }
            try db.execute(
                sql: "DELETE FROM session WHERE learner_id = ? AND token_hash != ?", arguments: [learnerID, keepingSession])
            return true
        }
    }

    public func updateTimeZone(learnerID: Int64, timeZone: String) throws {
        try pool.write { db in
            try db.execute(sql: "UPDATE learner SET time_zone = ? WHERE id = ?", arguments: [timeZone, learnerID])
        }
    }

    // MARK: Sessions

    /// What a new session stores: only the hash of the token the browser keeps.
    public struct NewSession: Sendable {
        public var tokenHash: String
        public var csrfToken: String
        public var expiresAt: Int64

        public init(tokenHash: String, csrfToken: String, expiresAt: Int64) {
            self.tokenHash = tokenHash
            self.csrfToken = csrfToken
            self.expiresAt = expiresAt
        }
    }

    /// Opens a session, ending `replacing` (the session the browser had before, if any) and the
    /// learner's sessions that have run out.
    ///
    /// With `ifPasswordSetAt` (the account as it was when its password was verified), opens it
    /// only if the learner is still enabled with a password set at that moment: a reset,
    /// disable or password change since then wins. Returns false when it did.
    @discardableResult
    public func openSession(
        _ session: NewSession, learnerID: Int64, now: Int64, replacing: String? = nil, ifPasswordSetAt: Int64? = nil
    ) throws -> Bool {
        try pool.write { db in
            if let ifPasswordSetAt {
                let unchanged = try Int.fetchOne(
                    db.cachedStatement(
                        sql:
                            "SELECT 1 FROM learner WHERE id = ? AND password_hash IS NOT NULL AND disabled = 0 AND password_set_at = ?"
                    ), arguments: [learnerID, ifPasswordSetAt])
                guard unchanged != nil else { return false }
            }
            if let replacing {
                try db.execute(sql: "DELETE FROM session WHERE token_hash = ?", arguments: [replacing])
            }
            try db.execute(
                sql: "DELETE FROM session WHERE learner_id = ? AND (expires_at <= ? OR last_seen_at <= ?)",
                arguments: [learnerID, now, SessionLifetime.idleCutoff(now: now)])
            try Self.insert(db, session, learnerID: learnerID, now: now)
            return true
        }
    }

    /// The live session with this token hash: not past its expiry, active within the idle
    /// timeout (`SessionLifetime`), its learner enabled.
    public func session(tokenHash: String, now: Int64) throws -> SessionRecord? {
        // One SELECT is atomic on its own: no need for the cost of an explicit read transaction.
        try database.readStatement { db in
            try db.firstRow(
                """
                SELECT s.token_hash, s.csrf_token, s.expires_at, s.last_seen_at, l.id, l.username, l.time_zone,
                    l.password_hash, l.pepper_id, l.disabled, l.created_at, l.password_set_at,
                    l.home_revision, (SELECT revision FROM catalog WHERE id = 1)
                FROM session s JOIN learner l ON l.id = s.learner_id
                WHERE s.token_hash = ? AND s.expires_at > ? AND s.last_seen_at > ? AND l.disabled = 0
                """, [.text(tokenHash), .int(now), .int(SessionLifetime.idleCutoff(now: now))]
            ) { row in
                SessionRecord(
                    tokenHash: row.text(0), csrfToken: row.text(1), expiresAt: row.int64(2), lastSeenAt: row.int64(3),
                    learner: Learner(
                        id: row.int64(4), username: row.text(5), timeZone: row.text(6), passwordHash: row.optionalText(7),
                        pepperID: row.optionalText(8), disabled: row.bool(9), createdAt: row.int64(10),
                        passwordSetAt: row.optionalInt64(11)),
                    homeVersion: HomeVersion(learner: row.int64(12), catalog: row.int64(13)))
            }
        }
    }

    public func closeSession(tokenHash: String) throws {
        try pool.write { db in try db.execute(sql: "DELETE FROM session WHERE token_hash = ?", arguments: [tokenHash]) }
    }

    /// Records activity on the session at `now`, if none was recorded in the last
    /// `SessionLifetime.activityIntervalSeconds` (a no-op for a session that is gone).
    public func recordActivity(tokenHash: String, now: Int64) throws {
        try pool.write { db in
            try db.execute(
                sql: "UPDATE session SET last_seen_at = ? WHERE token_hash = ? AND last_seen_at <= ?",
                arguments: [now, tokenHash, now - SessionLifetime.activityIntervalSeconds])
        }
    }

    static func learner(_ db: Database, username: String) throws -> Learner? {
        try Learner.fetchOne(db.cachedStatement(sql: "SELECT * FROM learner WHERE username = ?"), arguments: [username])
    }

    static func insert(_ db: Database, _ session: NewSession, learnerID: Int64, now: Int64) throws {
        try db.execute(
            sql:
                "INSERT INTO session (token_hash, learner_id, csrf_token, created_at, expires_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [session.tokenHash, learnerID, session.csrfToken, now, session.expiresAt, now])
    }
}
