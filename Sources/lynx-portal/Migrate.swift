import ArgumentParser
import Foundation
import PortalStore

struct Migrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create or upgrade the database schema in $LYNX_DATA_DIR/portal.db (the only command that does).",
        discussion: """
            Refuses, with exit status 78 and without touching it, a database migrated by a newer
            lynx-portal (migrations this binary does not know). --check changes nothing: it prints
            the pending migrations and exits 0 when the schema is current, 1 when migrations are
            pending (or there is no database yet), 78 when the database is newer, 2 when it cannot
            be read.
            """)

    @Flag(
        help: "Only report: exit 0 current, 1 migrations pending (listed), 78 migrated by a newer lynx-portal, 2 unreadable."
    )
    var check = false

    func run() throws {
        let directory = ProcessInfo.processInfo.dataDirectory
        let path = directory + "/portal.db"
        if check, !FileManager.default.fileExists(atPath: path) {
            FileHandle.standardError.write(Data("lynx-portal: no database at \(path) yet\n".utf8))
            print("pending: \(PortalDatabase.registeredMigrations.joined(separator: " "))")
            throw ExitCode(1)
        }
        do {
            let database = try PortalDatabase(dataDirectory: directory)
            let state = try database.schemaState()
            if case .newer(let unknown) = state {
                fail(
                    "\(path): \(SchemaGate.newerMessage(unknown, dataDirectory: directory))",
                    code: Serve.configurationError)
            }
            if check {
                guard case .pending(let ids) = state else {
                    print("schema current (\(PortalDatabase.registeredMigrations.count) migrations)")
                    return
                }
                print("pending: \(ids.joined(separator: " "))")
                throw ExitCode(1)
            }
            let before = try database.appliedMigrations()
            try database.migrate()
            let after = try database.appliedMigrations()
            let new = after.filter { !before.contains($0) }
            print(new.isEmpty ? "schema up to date (\(after.count) migrations)" : "applied: \(new.joined(separator: ", "))")
        } catch let exit as ExitCode {
            throw exit
        } catch {
            // --check's 1 means "pending": a database that cannot be read is another answer.
            fail("migrate \(path): \(error)", code: check ? 2 : 1)
        }
    }
}
