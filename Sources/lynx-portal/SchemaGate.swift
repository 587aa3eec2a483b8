import Foundation
import PortalStore

/// The schema gate: `migrate` is the only command that changes the schema; every other command
/// that opens the database refuses one that is not current. A database with migrations pending
/// needs `lynx-portal migrate` (deploy/install.sh runs it after a pre-upgrade snapshot); one
/// with migrations this binary does not know was migrated by a newer portal and is never touched.
enum SchemaGate {
    /// Where deploy/install.sh puts the snapshot it takes before migrating an existing database.
    static func preUpgradeDirectory(_ dataDirectory: String) -> String { dataDirectory + "/pre-upgrade" }

    /// Why a command other than `migrate` must not use a database in `state`, or nil when current.
    static func refusal(_ state: SchemaState, dataDirectory: String) -> String? {
        switch state {
        case .current: return nil
        case .pending(let ids): return pendingMessage(ids)
        case .newer(let unknown): return newerMessage(unknown, dataDirectory: dataDirectory)
        }
    }

    static func pendingMessage(_ ids: [String]) -> String {
        "migrations pending (\(ids.joined(separator: ", "))): run `lynx-portal migrate` (install.sh does, after a snapshot)"
    }

    static func newerMessage(_ unknown: [String], dataDirectory: String) -> String {
        let directory = preUpgradeDirectory(dataDirectory)
        let snapshots = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".db") }.sorted()
        let found =
            snapshots.isEmpty
            ? "; no snapshot found in \(directory)"
            : "; snapshots there: " + snapshots.map { directory + "/" + $0 }.joined(separator: ", ")
        return "this database was migrated by a newer lynx-portal (unknown migrations: "
            + "\(unknown.joined(separator: ", "))); run that version again, or restore the snapshot taken before "
            + "the upgrade (ls \(directory)/; deploy/README.md, Rolling back)\(found)"
    }

    /// Opens `portal.db` in `dataDirectory` for a command that needs the current schema; on any
    /// other schema, prints the refusal and exits with `Serve.configurationError` (78).
    static func openCurrent(dataDirectory: String, perThreadReaders: Bool = false) -> PortalDatabase {
        let path = dataDirectory + "/portal.db"
        // No database yet: refused like an empty one, without creating the file.
        guard FileManager.default.fileExists(atPath: path) else {
            fail(
                "\(path) does not exist; \(pendingMessage(PortalDatabase.registeredMigrations))",
                code: Serve.configurationError)
        }
        let database: PortalDatabase
        let state: SchemaState
        do {
            database = try PortalDatabase(dataDirectory: dataDirectory, perThreadReaders: perThreadReaders)
            state = try database.schemaState()
        } catch {
            fail("database \(path): \(error)")
        }
        if let refusal = refusal(state, dataDirectory: dataDirectory) {
            fail("\(path): \(refusal)", code: Serve.configurationError)
        }
        return database
    }
}
