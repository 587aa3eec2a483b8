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

    /// Each thread's own read-only connection, when enabled (see `init`).
    private let threadReaders: ThreadReaders?

    /// - Parameters:
    ///   - statementObserver: called with the SQL of every statement run (tests use it to check
    ///     query plans).
    ///   - perThreadReaders: `read` and `readStatement` use a read-only connection owned by the
    ///     calling thread instead of borrowing one from the pool. For the server's long-lived
    ///     worker threads: the pool's checkout (a lock, a semaphore and a dispatch queue shared by
    ///     every worker) cost more per request than the page's queries.
    public init(
        path: String, perThreadReaders: Bool = false, statementObserver: (@Sendable (String) -> Void)? = nil
    ) throws {
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
        var readerConfiguration = configuration
        readerConfiguration.readonly = true
        readerConfiguration.journalMode = .default
        threadReaders = perThreadReaders ? ThreadReaders(path: path, configuration: readerConfiguration) : nil
    }

    /// Runs `block` in one read transaction (a consistent view of the database).
    public func read<T>(_ block: (Database) throws -> T) throws -> T {
        guard let threadReaders else { return try pool.read(block) }
        let reader = try threadReaders.reader()
        if let db = try reader.scopeTransaction() { return try block(db) }
        return try reader.run { db in
            try db.execute(page: "BEGIN DEFERRED TRANSACTION")
            do {
                let value = try block(db)
                try db.execute(page: "COMMIT TRANSACTION")
                return value
            } catch {
                if db.isInsideTransaction { try? db.execute(sql: "ROLLBACK TRANSACTION") }
                throw error
            }
        }
    }

    /// Runs `block`, which must run a single statement (atomic on its own), without the cost of
    /// an explicit transaction.
    public func readStatement<T>(_ block: (Database) throws -> T) throws -> T {
        guard let threadReaders else { return try pool.unsafeRead(block) }
        let reader = try threadReaders.reader()
        if let db = try reader.scopeTransaction() { return try block(db) }
        return try reader.run(block)
    }

    /// Runs `block` with every `read` and `readStatement` it makes on this thread in one read
    /// transaction, begun at the first of them: one snapshot for the whole of `block`.
    ///
    /// For a page view (the server's GET requests): its session lookup and its page's queries
    /// then share one transaction and one trip through the connection's queue instead of one
    /// each. Only for blocks that do not write: a write (through `pool`) is not seen by the
    /// reads after it. Without per-thread readers, `block` simply runs.
    public func readScope<T>(_ block: () throws -> T) throws -> T {
        // A reader that cannot open leaves each read to report its own error.
        guard let reader = try? threadReaders?.reader() else { return try block() }
        return try reader.scope(block)
    }

    /// False when the database file was deleted or replaced under the running process (its
    /// open connections would keep serving the old file's pages from memory).
    public var fileIsIntact: Bool {
        identity != nil && FileIdentity(path: path) == identity
    }

    /// Opens `portal.db` in `dataDirectory`, creating the directory if needed.
    public convenience init(dataDirectory: String, perThreadReaders: Bool = false) throws {
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        try self.init(path: dataDirectory + "/portal.db", perThreadReaders: perThreadReaders)
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

    /// True when every known migration has been applied, and no unknown one.
    public func isUpToDate() throws -> Bool {
        try schemaState() == .current
    }

    /// Every migration this binary registers, in order.
    public static var registeredMigrations: [String] { Schema.migrator.migrations }

    /// The schema against this binary's migrations: current, migrations pending (an older
    /// database: `lynx-portal migrate` brings it up), or applied migrations this binary does not
    /// know (a newer portal migrated it: this binary must not touch it).
    public func schemaState() throws -> SchemaState {
        let migrator = Schema.migrator
        return try pool.read { db in
            let applied = try migrator.appliedIdentifiers(db)
            let known = migrator.migrations
            let unknown = applied.filter { !known.contains($0) }.sorted()
            if !unknown.isEmpty { return .newer(unknown: unknown) }
            let pending = known.filter { !applied.contains($0) }
            return pending.isEmpty ? .current : .pending(pending)
        }
    }

    /// The SQLite library version in use.
    public func sqliteVersion() throws -> String {
        try pool.read { db in try String.fetchOne(db, sql: "SELECT sqlite_version()") ?? "unknown" }
    }
}

/// Where a database's schema stands against the binary's registered migrations.
public enum SchemaState: Equatable, Sendable {
    case current
    /// Registered migrations not yet applied, in registration order.
    case pending([String])
    /// Applied migrations this binary does not know, sorted: a newer portal migrated the database.
    case newer(unknown: [String])
}

/// One read-only connection per thread, opened on the thread's first read. Only the owning
/// thread ever uses it, so its serial queue is never contended.
///
/// The connections belong to this object, not to the threads: thread-specific storage only
/// points at them, and they close when the `PortalDatabase` goes away. (Owned by the threads,
/// a connection outlived a database whose thread lived on, and was lost for good when a later
/// database's key took over the same storage slot: LeakSanitizer reported it.) A thread that
/// ends leaves its connection here until then; the portal's worker threads live as long as it.
final class ThreadReaders: @unchecked Sendable {
    private var key = pthread_key_t()
    private let path: String
    private let configuration: Configuration
    private let lock = NSLock()
    private var opened: [ThreadReader] = []

    init(path: String, configuration: Configuration) {
        self.path = path
        self.configuration = configuration
        pthread_key_create(&key, nil)
    }

    deinit {
        pthread_key_delete(key)
    }

    func reader() throws -> ThreadReader {
        if let pointer = pthread_getspecific(key) {
            return Unmanaged<ThreadReader>.fromOpaque(pointer).takeUnretainedValue()
        }
        let reader = ThreadReader(queue: try DatabaseQueue(path: path, configuration: configuration))
        lock.withLock { opened.append(reader) }
        pthread_setspecific(key, Unmanaged.passUnretained(reader).toOpaque())
        return reader
    }
}

/// A thread's read connection and the page queries prepared on it.
///
/// Page queries (`Database.forEachRow`, `firstRow`, `execute(page:)`) are string literals, so
/// the literal's address names the query: while `run` is on the stack, the thread's current
/// reader finds the prepared statement by comparing addresses, where GRDB's statement cache
/// hashes the whole SQL text on every use (about a thousand instructions per statement, several
/// statements per page view).
final class ThreadReader: @unchecked Sendable {
    let queue: DatabaseQueue
    private var connection: SQLiteConnection?
    private var statements: [(sql: UnsafeRawPointer, statement: Statement)] = []

    init(queue: DatabaseQueue) {
        self.queue = queue
    }

    deinit {
        // Finalized on the connection's queue, before it closes.
        queue.inDatabase { _ in statements.removeAll() }
    }

    private static let currentKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// The reader whose `run` the calling thread is in, if any.
    static var current: ThreadReader? {
        pthread_getspecific(currentKey).map { Unmanaged<ThreadReader>.fromOpaque($0).takeUnretainedValue() }
    }

    /// Runs `block` on this reader's connection, as the thread's current reader.
    func run<T>(_ block: (Database) throws -> T) throws -> T {
        try queue.inDatabase { db in
            connection = db.sqliteConnection
            let previous = pthread_getspecific(Self.currentKey)
            pthread_setspecific(Self.currentKey, Unmanaged.passUnretained(self).toOpaque())
            defer { pthread_setspecific(Self.currentKey, previous) }
            return try block(db)
        }
    }

    /// The connection while `scope` runs, and whether its transaction has begun.
    private var scopeDatabase: Database?
    private var scopeBegun = false

    /// Runs `block` as a read scope (`PortalDatabase.readScope`); not reentrant.
    func scope<T>(_ block: () throws -> T) throws -> T {
        precondition(scopeDatabase == nil, "read scopes do not nest")
        return try run { db in
            scopeDatabase = db
            scopeBegun = false
            defer {
                if scopeBegun, db.isInsideTransaction {
                    do { try db.execute(page: "COMMIT TRANSACTION") } catch { try? db.execute(sql: "ROLLBACK TRANSACTION") }
                }
                scopeDatabase = nil
                scopeBegun = false
            }
            return try block()
        }
    }

    /// Inside `scope`: its connection, in its transaction (begun now if this is the first read).
    func scopeTransaction() throws -> Database? {
        guard let db = scopeDatabase else { return nil }
        if !scopeBegun {
            try db.execute(page: "BEGIN DEFERRED TRANSACTION")
            scopeBegun = true
        }
        return db
    }

    /// True when `db` is this reader's connection.
    func owns(_ db: Database) -> Bool {
        connection != nil && db.sqliteConnection == connection
    }

    /// The page query `sql` prepared on `db` (this reader's connection), prepared on first use.
    func statement(_ sql: StaticString, in db: Database) throws -> Statement {
        let address = UnsafeRawPointer(sql.utf8Start)
        for entry in statements where entry.sql == address { return entry.statement }
        let statement = try db.makeStatement(sql: sql.description)
        statements.append((address, statement))
        return statement
    }
}
