import Crypto
import Foundation
import GRDB
import PortalDomain

/// What a snapshot must contain, written beside it by the backup and checked before a restore.
///
/// `PRAGMA integrity_check` alone passes an empty or truncated database; the manifest's file
/// hash, row counts and per-table content hashes are what catch a snapshot that lost data.
public struct SnapshotManifest: Codable, Sendable, Equatable {
    public static let currentFormat = 1
    public static let fileName = "manifest.json"

    public var format: Int
    /// When the snapshot was taken, ISO 8601 in UTC.
    public var createdAt: String
    public var portalVersion: String
    /// The last schema migration applied (the portal's schema version), and all of them.
    public var schemaVersion: String
    public var migrations: [String]
    public var userVersion: Int
    public var sqliteVersion: String
    public var pageSize: Int
    public var pageCount: Int
    public var integrityCheck: String
    public var foreignKeyViolations: Int
    public var tables: [TableDigest]
    public var snapshot: FileRecord

    /// A table's row count and a SHA-256 over its rows in rowid order (values as `quote()` renders them).
    public struct TableDigest: Codable, Sendable, Equatable {
        public var name: String
        public var rows: Int
        public var sha256: String
    }

    /// The snapshot file's name (relative to the manifest), size and SHA-256.
    public struct FileRecord: Codable, Sendable, Equatable {
        public var file: String
        public var bytes: Int64
        public var sha256: String
    }

    enum CodingKeys: String, CodingKey {
        case format, migrations, tables, snapshot
        case createdAt = "created_at"
        case portalVersion = "portal_version"
        case schemaVersion = "schema_version"
        case userVersion = "user_version"
        case sqliteVersion = "sqlite_version"
        case pageSize = "page_size"
        case pageCount = "page_count"
        case integrityCheck = "integrity_check"
        case foreignKeyViolations = "foreign_key_violations"
    }

    /// Describes the snapshot file at `path` (opened immutable: describing changes nothing).
    public static func describe(snapshot path: String, portalVersion: String, createdAt: Date = Date()) throws
        -> SnapshotManifest
    {
        let digest = try FileDigest.sha256(path)
        let contents = try DatabaseContents.read(try Snapshot.openImmutable(path))
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return SnapshotManifest(
            format: currentFormat, createdAt: formatter.string(from: createdAt), portalVersion: portalVersion,
            schemaVersion: contents.migrations.last ?? "none", migrations: contents.migrations,
            userVersion: contents.userVersion, sqliteVersion: contents.sqliteVersion, pageSize: contents.pageSize,
            pageCount: contents.pageCount, integrityCheck: contents.integrityCheck,
            foreignKeyViolations: contents.foreignKeyViolations, tables: contents.tables,
            snapshot: FileRecord(file: (path as NSString).lastPathComponent, bytes: digest.bytes, sha256: digest.hex))
    }

    /// Reads a manifest file; a missing, empty or foreign file is an error naming it.
    public static func load(_ path: String) throws -> SnapshotManifest {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SnapshotError.unreadableManifest(path, "missing or unreadable")
        }
        let manifest: SnapshotManifest
        do {
            manifest = try JSONDecoder().decode(SnapshotManifest.self, from: data)
        } catch {
            throw SnapshotError.unreadableManifest(path, "not a lynx-portal snapshot manifest (\(error))")
        }
        guard manifest.format == currentFormat else {
            throw SnapshotError.unreadableManifest(path, "format \(manifest.format); this portal reads format \(currentFormat)")
        }
        return manifest
    }

    /// Writes the manifest durably (temporary name, fsync, rename, directory fsync).
    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let partial = path + ".partial"
        guard
            FileManager.default.createFile(
                atPath: partial, contents: try encoder.encode(self) + Data("\n".utf8), attributes: [.posixPermissions: 0o600])
        else {
            throw SnapshotError.io(partial, "cannot be created")
        }
        try FileSync.file(partial)
        guard rename(partial, path) == 0 else {
            throw SnapshotError.io(path, "rename from \(partial): \(String(cString: strerror(errno)))")
        }
        try FileSync.directory(containing: path)
    }

    public var rowCounts: [String: Int] {
        Dictionary(uniqueKeysWithValues: tables.map { ($0.name, $0.rows) })
    }
}

/// The facts read from one database file: schema, checks and each table's digest.
struct DatabaseContents {
    var migrations: [String]
    var userVersion: Int
    var sqliteVersion: String
    var pageSize: Int
    var pageCount: Int
    var integrityCheck: String
    var foreignKeyViolations: Int
    var tables: [SnapshotManifest.TableDigest]

    static func read(_ queue: DatabaseQueue, checks: Bool = true) throws -> DatabaseContents {
        defer { try? queue.close() }
        return try queue.read { db in
            let tableNames = try String.fetchAll(
                db, sql: "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            let migrations =
                tableNames.contains("grdb_migrations")
                ? try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY identifier") : []
            let integrity = checks ? try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ") : "skipped"
            let violations = checks ? try Row.fetchAll(db, sql: "PRAGMA foreign_key_check").count : 0
            return DatabaseContents(
                migrations: migrations,
                userVersion: try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0,
                sqliteVersion: try String.fetchOne(db, sql: "SELECT sqlite_version()") ?? "unknown",
                pageSize: try Int.fetchOne(db, sql: "PRAGMA page_size") ?? 0,
                pageCount: try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0,
                integrityCheck: integrity, foreignKeyViolations: violations,
                tables: try tableNames.map { try digest(table: $0, db) })
        }
    }

    /// Hashes every row in a stable order (rowid, or the primary key for WITHOUT ROWID tables),
    /// each row as SQLite's `quote()` renders its values, comma-separated: typed and unambiguous
    /// (`1`, `'1'`, `X'01'` and `NULL` all differ, and a quoted text cannot pass for two values).
    /// One string per row keeps hashing a large table fast.
    static func digest(table: String, _ db: Database) throws -> SnapshotManifest.TableDigest {
        let quoted = table.quotedDatabaseIdentifier
        let columns = try Row.fetchAll(db, sql: "PRAGMA table_info(\(quoted))")
        let withoutRowID =
            try Bool.fetchOne(
                db, sql: "SELECT sql LIKE '%WITHOUT ROWID%' FROM sqlite_schema WHERE type = 'table' AND name = ?",
                arguments: [table]) ?? false
        let order: String
        if withoutRowID {
            order = columns.filter { ($0["pk"] as Int? ?? 0) > 0 }
                .sorted { ($0["pk"] as Int? ?? 0) < ($1["pk"] as Int? ?? 0) }
                .map { ($0["name"] as String? ?? "").quotedDatabaseIdentifier }
                .joined(separator: ", ")
        } else {
            order = "rowid"
        }
        let rendered = columns.map { "quote(\(($0["name"] as String? ?? "").quotedDatabaseIdentifier))" }
            .joined(separator: " || ',' || ")
        var hasher = SHA256()
        var rows = 0
        let cursor = try String.fetchCursor(db, sql: "SELECT \(rendered) FROM \(quoted) ORDER BY \(order)")
        while let row = try cursor.next() {
            rows += 1
            hasher.update(data: Array(row.utf8))
            hasher.update(data: [0x0A])
        }
        return SnapshotManifest.TableDigest(
            name: table, rows: rows, sha256: hasher.finalize().map { String(format: "%02x", $0) }.joined())
    }
}

/// The outcome of checking a snapshot (or a restored database) against its manifest.
public struct SnapshotVerification: Sendable {
    /// One line per table: the manifest's row count beside the one found.
    public struct TableRow: Sendable {
        public var table: String
        public var manifestRows: Int?
        public var foundRows: Int?
        public var contentMatches: Bool
    }

    public var problems: [String] = []
    public var tables: [TableRow] = []

    /// True when nothing disagrees with the manifest.
    public var isTrusted: Bool { problems.isEmpty }

    /// Checks a snapshot file before it may replace the live database: file size and SHA-256,
    /// `integrity_check`, `foreign_key_check`, schema, and every table's row count and content.
    public static func verify(snapshot path: String, against manifest: SnapshotManifest) -> SnapshotVerification {
        var result = SnapshotVerification()
        do {
            let digest = try FileDigest.sha256(path)
            if digest.bytes != manifest.snapshot.bytes {
                result.problems.append("size is \(digest.bytes) bytes; the manifest says \(manifest.snapshot.bytes)")
            }
            if digest.hex != manifest.snapshot.sha256 {
                result.problems.append("SHA-256 is \(digest.hex); the manifest says \(manifest.snapshot.sha256)")
            }
        } catch {
            result.problems.append("\(error)")
            return result
        }
        let contents: DatabaseContents
        do {
            contents = try DatabaseContents.read(try Snapshot.openImmutable(path))
        } catch {
            result.problems.append("cannot be read as an SQLite database: \(error)")
            return result
        }
        if contents.integrityCheck != "ok" { result.problems.append("integrity_check: \(contents.integrityCheck)") }
        if contents.foreignKeyViolations > 0 {
            result.problems.append("foreign_key_check: \(contents.foreignKeyViolations) violation(s)")
        }
        if contents.pageSize != manifest.pageSize || contents.pageCount != manifest.pageCount {
            result.problems.append(
                "\(contents.pageCount) pages of \(contents.pageSize) bytes; the manifest says \(manifest.pageCount) of \(manifest.pageSize)"
            )
        }
        if contents.migrations != manifest.migrations {
            result.problems.append(
                "schema migrations \(contents.migrations); the manifest says \(manifest.migrations)")
        }
        let unknown = contents.migrations.filter { !Schema.migrator.migrations.contains($0) }
        if !unknown.isEmpty {
            result.problems.append(
                "taken by a newer portal (unknown migrations \(unknown.joined(separator: ", "))); restore with portal \(manifest.portalVersion) or later"
            )
        }
        if contents.userVersion != manifest.userVersion {
            result.problems.append("user_version is \(contents.userVersion); the manifest says \(manifest.userVersion)")
        }
        result.compareTables(found: contents.tables, manifest: manifest, compareContent: true)
        return result
    }

    /// Compares a live database (opened read-only, the running portal's WAL included) with the
    /// manifest it was restored from: row counts must match, except in `emptied` tables (ended on
    /// purpose, e.g. `session`); content is reported.
    public static func compare(
        database path: String, against manifest: SnapshotManifest, emptied: Set<String> = []
    ) -> SnapshotVerification {
        var result = SnapshotVerification()
        do {
            let contents = try DatabaseContents.read(try Snapshot.openReadOnly(path), checks: false)
            result.compareTables(found: contents.tables, manifest: manifest, compareContent: false, emptied: emptied)
        } catch {
            result.problems.append("\(path) cannot be read: \(error)")
        }
        return result
    }

    mutating func compareTables(
        found: [SnapshotManifest.TableDigest], manifest: SnapshotManifest, compareContent: Bool, emptied: Set<String> = []
    ) {
        let foundByName = Dictionary(uniqueKeysWithValues: found.map { ($0.name, $0) })
        let expected = Dictionary(uniqueKeysWithValues: manifest.tables.map { ($0.name, $0) })
        for name in Set(foundByName.keys).union(expected.keys).sorted() {
            let have = foundByName[name]
            let want = expected[name]
            let sameContent = have != nil && have?.sha256 == want?.sha256
            tables.append(TableRow(table: name, manifestRows: want?.rows, foundRows: have?.rows, contentMatches: sameContent))
            switch (have, want) {
            case (nil, _?): problems.append("table \(name) is missing")
            case (_?, nil): problems.append("table \(name) is not in the manifest")
            case (let have?, let want?):
                if emptied.contains(name) {
                    if have.rows != 0 { problems.append("table \(name) has \(have.rows) rows; it was emptied") }
                } else if have.rows != want.rows {
                    problems.append("table \(name) has \(have.rows) rows; the manifest says \(want.rows)")
                } else if compareContent && !sameContent {
                    problems.append("table \(name) content differs from the manifest (same row count)")
                }
            default: break
            }
        }
    }
}

/// Proves a verified snapshot opens through the portal's own store code: on a scratch copy in a
/// fresh directory under `$TMPDIR`, applies pending migrations as `lynx-portal migrate` would,
/// then runs the queries the pages run. The snapshot (and its directory) is only ever read.
public enum SnapshotSmokeTest {
    public static func run(snapshot path: String) throws -> String {
        var template = Array((NSTemporaryDirectory() + "/lynx-smoke.XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw SnapshotError.io(NSTemporaryDirectory(), "mkdtemp: \(String(cString: strerror(errno)))")
        }
        let directory = String(cString: made)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let scratch = directory + "/portal.db"
        try FileManager.default.copyItem(atPath: path, toPath: scratch)
        let database = try PortalDatabase(path: scratch)
        try database.migrate()
        let learners = try AccountStore(database: database).learners()
        let study = StudyStore(database: database)
        let journal = JournalStore(database: database)
        let quizzes = QuizStore(database: database)
        let today = StudyDay(containing: Date(), in: TimeZone(identifier: "UTC")!, dayStartHour: 4)
        var entries = 0
        var due = 0
        for learner in learners {
            entries += try journal.entries(learnerID: learner.id, page: 1, perPage: 20).entries.count
            due += try study.dueCount(learnerID: learner.id, on: today)
            _ = try quizzes.summaries(learnerID: learner.id)
        }
        return "\(learners.count) learners, \(entries) journal entries on first pages, \(due) cards due today; "
            + "schema current after migrate"
    }
}
