import GRDB
internal import GRDBSQLite

/// An argument bound to a `?` of a page query.
enum QueryArgument {
    case int(Int64)
    case text(String)
}

/// The current row of a page query, read by column position.
struct QueryRow: ~Copyable {
    fileprivate let handle: OpaquePointer

    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

    func int(_ column: Int32) -> Int { Int(sqlite3_column_int64(handle, column)) }

    func bool(_ column: Int32) -> Bool { sqlite3_column_int64(handle, column) != 0 }

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

    /// The column as text; NULL reads as "". Invalid UTF-8 is repaired, never trapped on.
    func text(_ column: Int32) -> String {
        guard let bytes = sqlite3_column_text(handle, column) else { return "" }
        return String(
            decoding: UnsafeBufferPointer(start: bytes, count: Int(sqlite3_column_bytes(handle, column))), as: UTF8.self)
    }

    func optionalText(_ column: Int32) -> String? { isNull(column) ? nil : text(column) }

    func optionalInt64(_ column: Int32) -> Int64? { isNull(column) ? nil : int64(column) }
}

extension Database {
    /// Runs a query from the connection's statement cache through SQLite's C API, calling `row`
    /// for each result row.
    ///
    /// For the queries every page view runs (session, queue, journal, quiz list). GRDB's own
    /// fetching (arguments as existentials, a cursor object, generic decoding per column) cost
    /// several times SQLite's work for these small indexed reads. Connections, transactions,
    /// the statement cache and errors stay GRDB's; this file is the only one that calls SQLite's
    /// C functions.
    func forEachRow(
        _ sql: StaticString, _ arguments: [QueryArgument], _ row: (borrowing QueryRow) throws -> Void
    ) throws {
        try run(sql, arguments, onlyFirst: false, row)
    }

    /// The first row's value, or nil when there is no row.
    func firstRow<T>(_ sql: StaticString, _ arguments: [QueryArgument], _ read: (borrowing QueryRow) throws -> T) throws -> T? {
        var found: T?
        try run(sql, arguments, onlyFirst: true) { found = try read($0) }
        return found
    }

    /// Runs a page query that returns no rows (BEGIN, COMMIT).
    func execute(page sql: StaticString) throws {
        try run(sql, [], onlyFirst: false) { _ in }
    }

    /// The prepared statement for a page query: from the thread's reader when this is its
    /// connection (found by the literal's address), otherwise from GRDB's statement cache.
    private func pageStatement(_ sql: StaticString) throws -> Statement {
        if let reader = ThreadReader.current, reader.owns(self) { return try reader.statement(sql, in: self) }
        return try cachedStatement(sql: sql.description)
    }

    private func run(
        _ sql: StaticString, _ arguments: [QueryArgument], onlyFirst: Bool, _ row: (borrowing QueryRow) throws -> Void
    ) throws {
        let statement = try pageStatement(sql)
        let handle = statement.sqliteStatement
        // Left reset by the last run (the defer below); only a statement someone else left
        // running needs it now.
        if sqlite3_stmt_busy(handle) != 0 { sqlite3_reset(handle) }
        defer {
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
        }
        for (index, argument) in arguments.enumerated() {
            let position = Int32(index + 1)
            let code: Int32
            switch argument {
            case .int(let value):
                code = sqlite3_bind_int64(handle, position, value)
            case .text(let value):
                var value = value
                code = value.withUTF8 { bytes in
                    bytes.withMemoryRebound(to: CChar.self) {
                        // A nil pointer would bind NULL, not the empty text.
                        sqlite3_bind_text(handle, position, $0.baseAddress ?? emptyText(), Int32($0.count), transientDestructor)
                    }
                }
            }
            guard code == SQLITE_OK else { throw error(code, sql) }
        }
        while true {
            let code = sqlite3_step(handle)
            if code == SQLITE_DONE { return }
            guard code == SQLITE_ROW else { throw error(code, sql) }
            try row(QueryRow(handle: handle))
            if onlyFirst { return }
        }
    }

    private func error(_ code: Int32, _ sql: StaticString) -> DatabaseError {
        DatabaseError(
            resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(sqliteConnection)),
            sql: sql.description)
    }
}

/// A valid pointer to no characters (a static string's storage), for binding the empty text.
private func emptyText() -> UnsafePointer<CChar> {
    UnsafeRawPointer(("" as StaticString).utf8Start).assumingMemoryBound(to: CChar.self)
}

/// SQLite's SQLITE_TRANSIENT (a macro Swift cannot import): copy the bound bytes now.
private let transientDestructor = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
