import GRDB

/// A journal entry as stored.
public struct JournalEntry: Sendable, Equatable {
    public var id: Int64
    public var title: String
    public var body: String
    public var createdAt: Int64
    public var updatedAt: Int64
}

/// An entry in a list of entries: everything but the body, which lists do not show.
public struct JournalListing: Sendable, Equatable {
    public var id: Int64
    public var title: String
    public var createdAt: Int64
    public var updatedAt: Int64

    public init(id: Int64, title: String, createdAt: Int64, updatedAt: Int64) {
        self.id = id
        self.title = title
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A learner's private journal. Every query is scoped to the learner: another learner's entry
/// is simply not found.
public struct JournalStore: Sendable {
    public let database: PortalDatabase
    public let limits: LearnerLimits

    public init(database: PortalDatabase, limits: LearnerLimits = .standard) {
        self.database = database
        self.limits = limits
    }

    /// Newest first; one extra row tells whether another page follows. A page past the end
    /// (however large its number) is empty.
    public func entries(learnerID: Int64, page: Int, perPage: Int) throws -> (entries: [JournalListing], hasMore: Bool) {
        try database.read { db in try Self.entries(db, learnerID: learnerID, page: page, perPage: perPage) }
    }

    static func entries(_ db: Database, learnerID: Int64, page: Int, perPage: Int) throws
        -> (entries: [JournalListing], hasMore: Bool)
    {
        // Checked arithmetic: an offset that does not fit an Int64 lies past every row.
        guard perPage > 0, perPage < Int.max else { return ([], false) }
        let (offset, overflow) = (page > 1 ? page - 1 : 0).multipliedReportingOverflow(by: perPage)
        guard !overflow else { return ([], false) }
        var entries: [JournalListing] = []
        entries.reserveCapacity(min(perPage, 1000) + 1)
        try db.forEachRow(
            """
            SELECT id, title, created_at, updated_at FROM journal_entry
            WHERE learner_id = ? ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?
            """, [.int(learnerID), .int(Int64(perPage + 1)), .int(Int64(offset))]
        ) { row in
            entries.append(
                JournalListing(id: row.int64(0), title: row.text(1), createdAt: row.int64(2), updatedAt: row.int64(3)))
        }
        let hasMore = entries.count > perPage
        if hasMore { entries.removeLast() }
        return (entries, hasMore)
    }

    public func entry(id: Int64, learnerID: Int64) throws -> JournalEntry? {
        try database.read { db in
            try Row.fetchOne(
                db.cachedStatement(
                    sql: "SELECT id, title, body, created_at, updated_at FROM journal_entry WHERE id = ? AND learner_id = ?"),
                arguments: [id, learnerID]
            ).map(Self.entry)
        }
    }

    /// Throws `LearnerLimitReached` (writing nothing) when the learner has `limits.journalEntries`.
    public func create(learnerID: Int64, title: String, body: String, now: Int64) throws -> Int64 {
        try database.pool.write { db in
            let count =
                try Int.fetchOne(
                    db.cachedStatement(sql: "SELECT count(*) FROM journal_entry WHERE learner_id = ?"), arguments: [learnerID])
                ?? 0
            guard count < limits.journalEntries else {
                throw LearnerLimitReached(kind: .journalEntries, limit: limits.journalEntries)
            }
            try db.execute(
                sql: "INSERT INTO journal_entry (learner_id, title, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [learnerID, title, body, now, now])
            return db.lastInsertedRowID
        }
    }

    /// False when the entry is not this learner's.
    public func update(id: Int64, learnerID: Int64, title: String, body: String, now: Int64) throws -> Bool {
        try database.pool.write { db in
            try db.execute(
                sql: "UPDATE journal_entry SET title = ?, body = ?, updated_at = ? WHERE id = ? AND learner_id = ?",
                arguments: [title, body, now, id, learnerID])
            return db.changesCount == 1
        }
    }

    /// False when the entry is not this learner's.
    public func delete(id: Int64, learnerID: Int64) throws -> Bool {
        try database.pool.write { db in
            try db.execute(sql: "DELETE FROM journal_entry WHERE id = ? AND learner_id = ?", arguments: [id, learnerID])
            return db.changesCount == 1
        }
    }

    static func entry(_ row: Row) -> JournalEntry {
        // Every query selects id, title, body, created_at, updated_at in this order.
        JournalEntry(id: row[0], title: row[1], body: row[2], createdAt: row[3], updatedAt: row[4])
    }
}
