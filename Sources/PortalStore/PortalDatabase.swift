import Foundation
import GRDB

/// The portal's SQLite database: one file, WAL, opened through a GRDB `DatabasePool`.
///
/// Every connection gets `synchronous=NORMAL`, `foreign_keys=ON` and `busy_timeout=5000`;
/// the pool puts the file in WAL mode. All writes go through the pool's single writer
/// connection (readers are read-only), which keeps clear of SQLite 3.40's WAL-reset bug.
public final class PortalDatabase: Sendable {
    public let pool: DatabasePool
    public let path: String
    /// Device and inode of the file the pool opened, to notice it being deleted or replaced.
    private let identity: FileIdentity?

    struct FileIdentity: Equatable, Sendable {
        let device: UInt64
        let inode: UInt64

        init?(path: String) {
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
        }
    }

    public static let busyTimeoutMilliseconds = 5000

    /// - Parameter statementObserver: called with the SQL of every statement run (tests use it
    ///   to check query plans).
    public init(path: String, statementObserver: (@Sendable (String) -> Void)? = nil) throws {
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(Double(Self.busyTimeoutMilliseconds) / 1000)
        configuration.journalMode = .wal
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            try db.execute(sql: "PRAGMA busy_timeout = \(PortalDatabase.busyTimeoutMilliseconds)")
            if let statementObserver {
                db.trace(options: .statement) { event in
                    if case .statement(let statement) = event { statementObserver(statement.sql) }
                }
            }
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        self.path = path
        identity = FileIdentity(path: path)
    }

    /// False when the database file was deleted or replaced under the running process (its
    /// open connections would keep serving the old file's pages from memory).
    public var fileIsIntact: Bool {
        identity != nil && FileIdentity(path: path) == identity
    }

    /// Opens `portal.db` in `dataDirectory`, creating the directory if needed.
    public convenience init(dataDirectory: String) throws {
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        try self.init(path: dataDirectory + "/portal.db")
    }

    /// Applies every migration not yet applied. Safe to run any number of times.
    public func migrate() throws {
        let migrator = Schema.migrator
        try migrator.migrate(pool)
    }

    /// The identifiers of the migrations applied so far.
    public func appliedMigrations() throws -> [String] {
        let migrator = Schema.migrator
        return try pool.read { db in try migrator.appliedIdentifiers(db).sorted() }
    }

    /// True when every known migration has been applied.
    public func isUpToDate() throws -> Bool {
        let migrator = Schema.migrator
        return try pool.read { db in try migrator.hasCompletedMigrations(db) }
    }

    /// The SQLite library version in use.
    public func sqliteVersion() throws -> String {
        try pool.read { db in try String.fetchOne(db, sql: "SELECT sqlite_version()") ?? "unknown" }
    }
}
