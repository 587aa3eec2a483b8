import Foundation
import GRDB
import Testing

@testable import PortalStore

/// The schema check behind the gate: current, pending (an older database) or newer (migrations
/// this binary does not know).
@Suite struct SchemaStateTests {
    @Test func aMigratedDatabaseIsCurrent() throws {
        let store = try TemporaryDatabase()
        defer { store.remove() }
        #expect(try store.database.schemaState() == .current)
        #expect(try store.database.isUpToDate())
    }

    @Test func anEmptyDatabaseHasEveryMigrationPendingInOrder() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("schema-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = try PortalDatabase(dataDirectory: directory)
        #expect(try database.schemaState() == .pending(PortalDatabase.registeredMigrations))
        #expect(PortalDatabase.registeredMigrations.first == "v1-accounts")
    }

    @Test func aMissingRecordIsPending() throws {
        let store = try TemporaryDatabase()
        defer { store.remove() }
        let last = try #require(PortalDatabase.registeredMigrations.last)
        try store.database.pool.write { db in
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = ?", arguments: [last])
        }
        #expect(try store.database.schemaState() == .pending([last]))
        #expect(try !store.database.isUpToDate())
    }

    @Test func unknownMigrationsMakeItNewerWhateverIsPending() throws {
        let store = try TemporaryDatabase()
        defer { store.remove() }
        try store.database.pool.write { db in
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = 'v1-accounts'")
            for id in ["v9-later", "v10-even-later"] {
                try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES (?)", arguments: [id])
            }
        }
        #expect(try store.database.schemaState() == .newer(unknown: ["v10-even-later", "v9-later"]))
    }
}
