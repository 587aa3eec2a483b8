import GRDB

extension Snapshot {
    /// Deletes every row of the `session` table in a restored copy, before it replaces the live
    /// database: a session ended after the backup (a logout, a reset, a revocation) must not come
    /// back with it. Everyone signs in again. Returns how many sessions were ended.
    public static func endSessions(in path: String) throws -> Int {
        let queue = try DatabaseQueue(path: path)
        let ended = try queue.write { db in
            try db.execute(sql: "DELETE FROM session")
            return db.changesCount
        }
        // The copy is moved into place as one file: nothing may stay behind in a -wal beside it.
        try queue.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
        return ended
    }
}
