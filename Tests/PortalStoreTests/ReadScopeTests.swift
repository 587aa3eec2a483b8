import Foundation
import GRDB
import Synchronization
import Testing

@testable import PortalStore

/// `PortalDatabase.readScope`: the reads of one page view in one transaction.
@Suite struct ReadScopeTests {
    struct Failure: Error {}

    private static func count(_ db: Database) throws -> Int {
        try db.firstRow("SELECT count(*) FROM marker", []) { $0.int(0) } ?? -1
    }

    private static func insert(_ database: PortalDatabase) throws {
        try database.pool.write { db in try db.execute(sql: "INSERT INTO marker VALUES (1)") }
    }

    @Test func readsInAScopeShareOneSnapshotAndOneTransaction() throws {
        let statements = Mutex<[String]>([])
        let temporary = try TemporaryDatabase(perThreadReaders: true) { sql in statements.withLock { $0.append(sql) } }
        defer { temporary.remove() }
        let database = temporary.database
        try database.pool.write { db in try db.execute(sql: "CREATE TABLE marker (value INTEGER)") }
        try Self.insert(database)
        statements.withLock { $0.removeAll() }

        let seen = try database.readScope {
            let before = try database.readStatement(Self.count)
            try Self.insert(database)  // committed by another connection between the two reads
            let after = try database.read(Self.count)
            return [before, after]
        }
        #expect(seen == [1, 1], "both reads see the snapshot the scope's first read took")
        #expect(try database.read(Self.count) == 2, "after the scope, reads see the write")
        // Read transactions begin DEFERRED (the writes above begin IMMEDIATE).
        let reads = statements.withLock { $0 }.filter { $0.hasPrefix("BEGIN DEFERRED") }
        #expect(reads.count == 2, "one read transaction for the scope, one for the read after it")

        // A scope that reads nothing opens no transaction.
        statements.withLock { $0.removeAll() }
        #expect(try database.readScope { 7 } == 7)
        #expect(statements.withLock { $0 }.isEmpty)
    }

    @Test func aScopeThatThrowsEndsItsTransaction() throws {
        let temporary = try TemporaryDatabase(perThreadReaders: true)
        defer { temporary.remove() }
        let database = temporary.database
        try database.pool.write { db in try db.execute(sql: "CREATE TABLE marker (value INTEGER)") }
        #expect(throws: Failure.self) {
            try database.readScope {
                _ = try database.read(Self.count)
                throw Failure()
            }
        }
        #expect(throws: DatabaseError.self) {
            try database.readScope { _ = try database.read { db in try db.execute(sql: "SELECT * FROM missing") } }
        }
        try Self.insert(database)
        #expect(try database.readScope { try database.read(Self.count) } == 1, "a fresh snapshot, not a leftover one")
    }

    @Test func withoutThreadReadersAScopeJustRuns() throws {
        let temporary = try TemporaryDatabase()
        defer { temporary.remove() }
        let database = temporary.database
        try database.pool.write { db in try db.execute(sql: "CREATE TABLE marker (value INTEGER)") }
        #expect(try database.readScope { try database.read(Self.count) } == 0)
    }
}
