import ArgumentParser
import Foundation
import PortalStore

struct Migrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create or upgrade the database schema in $LYNX_DATA_DIR/portal.db.")

    func run() throws {
        let directory = ProcessInfo.processInfo.dataDirectory
        do {
            let database = try PortalDatabase(dataDirectory: directory)
            let before = try database.appliedMigrations()
            try database.migrate()
            let after = try database.appliedMigrations()
            let new = after.filter { !before.contains($0) }
            print(new.isEmpty ? "schema up to date (\(after.count) migrations)" : "applied: \(new.joined(separator: ", "))")
        } catch {
            fail("migrate \(directory)/portal.db: \(error)")
        }
    }
}
