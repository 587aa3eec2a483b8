import GRDB

/// A journal entry as stored.
public struct JournalEntry: Sendable, Equatable {
    public var id: Int64
    public var title: String
    public var body: String
    public var createdAt: Int64
    public var updatedAt: Int64
}

/// A learner's private journal. Every query is scoped to the learner: another learner's entry
/// is simply not found.
public struct JournalStore: Sendable {
    public let database: PortalDatabase

    public init(database: PortalDatabase) {
        self.database = database
    }

    /// Newest first; one extra row tells whether another page follows.
    public func entries(learnerID: Int64, page: Int, perPage: Int) throws -> (entries: [JournalEntry], hasMore: Bool) {
        try database.read { db in try Self.entries(db, learnerID: learnerID, page: page, perPage: perPage) }
    }

    static func entries(_ db: Database, learnerID: Int64, page: Int, perPage: Int) throws
        -> (entries: [JournalEntry], hasMore: Bool)
    {
        do {
            let rows = try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT id, title, body, created_at, updated_at FROM journal_entry
                        WHERE learner_id = ? ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?
                        """),
                arguments: [learnerID, perPage + 1, max(0, page - 1) * perPage])
            let entries = rows.prefix(perPage).map(Self.entry)
            return (Array(entries), rows.count > perPage)
        }
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

    public func create(learnerID: Int64, title: String, body: String, now: Int64) throws -> Int64 {
        try database.pool.write { db in
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
