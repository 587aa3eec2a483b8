import Foundation
import GRDB
import Testing

@testable import PortalStore

@Suite("v8-password-pepper")
struct PepperMigrationTests {
    @Test func chosenPepperIDsAreClearedAndDerivedOnesKept() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("v8-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = try PortalDatabase(path: directory + "/portal.db")
        try Schema.migrator.migrate(database.pool, upTo: "v7-session-activity")
        try database.pool.write { db in
            for (name, hash, id) in [
                ("ana", "h1", "1"), ("bo", "h2", "3"), ("cy", "h3", "0123456789abcdef"), ("di", "h4", "0123456789ABCDEF"),
            ] {
                try db.execute(
                    sql:
                        "INSERT INTO learner (username, time_zone, password_hash, pepper_id, created_at) VALUES (?, 'UTC', ?, ?, 0)",
                    arguments: [name, hash, id])
            }
        }
        try database.migrate()
        let counts = try AccountStore(database: database).passwordsByPepperID()
        #expect(counts == [nil: 3, "0123456789abcdef": 1])
        let hashes = try database.pool.read { db in try String.fetchAll(db, sql: "SELECT password_hash FROM learner ORDER BY id")
        }
        #expect(hashes == ["h1", "h2", "h3", "h4"])
    }

    @Test func thePepperOfAnUnrecordedHashIsRecordedOnlyWhileTheHashIsUnchanged() throws {
        let store = try TemporaryDatabase()
        defer { store.remove() }
        let ana = try store.addLearner("ana", now: 0)
        try store.database.pool.write { db in
            try db.execute(sql: "UPDATE learner SET password_hash = 'h', pepper_id = NULL WHERE id = ?", arguments: [ana.id])
        }
        #expect(try !store.accounts.recordPepperID(learnerID: ana.id, verifiedHash: "other", pepperID: "0123456789abcdef"))
        #expect(try store.accounts.recordPepperID(learnerID: ana.id, verifiedHash: "h", pepperID: "0123456789abcdef"))
        #expect(try store.accounts.passwordsByPepperID() == ["0123456789abcdef": 1])
        // Once recorded, it is not overwritten by a late second login's record.
        #expect(try !store.accounts.recordPepperID(learnerID: ana.id, verifiedHash: "h", pepperID: "fedcba9876543210"))
    }
}
