import ArgumentParser
import Foundation
import PortalStore
import PortalWeb

struct SnapshotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Take, verify and compare database snapshots (used by deploy/backup/).",
        subcommands: [Take.self, Verify.self, Compare.self, EndSessions.self],
        defaultSubcommand: Take.self)

    static func manifestPath(beside file: String, _ given: String?) -> String {
        given ?? ((file as NSString).deletingLastPathComponent.isEmpty ? "." : (file as NSString).deletingLastPathComponent)
            + "/" + SnapshotManifest.fileName
    }

    static func printTables(_ verification: SnapshotVerification, contentHeader: String) {
        let width = max(16, (verification.tables.map(\.table.count).max() ?? 0) + 2)
        print("table".padding(toLength: width, withPad: " ", startingAt: 0) + "manifest     found  \(contentHeader)")
        for row in verification.tables {
            let manifest = row.manifestRows.map(String.init) ?? "-"
            let found = row.foundRows.map(String.init) ?? "-"
            print(
                row.table.padding(toLength: width, withPad: " ", startingAt: 0)
                    + String(repeating: " ", count: max(0, 8 - manifest.count)) + manifest
                    + String(repeating: " ", count: max(0, 10 - found.count)) + found
                    + "  " + (row.contentMatches ? "same" : "differs"))
        }
    }

    struct Take: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "take",
            abstract: "Copy the live database with SQLite's online backup API in one step, fsync it, write its manifest.",
            discussion: """
                Safe while the portal serves: the live database is opened read-only and copied under one read
                transaction (sqlite3_backup_step(-1)), so concurrent writes neither restart nor corrupt it. The
                manifest (default: manifest.json beside FILE) records the UTC time, portal and schema versions,
                user_version, each table's row count and content hash, integrity_check, and FILE's SHA-256.
                Exits non-zero, keeping nothing under FILE's name, when the copy fails its own checks.
                """)

        @Option(help: "Where to write the snapshot (must not exist).")
        var to: String

        @Option(help: "Where to write the manifest (default: manifest.json beside the snapshot).")
        var manifest: String?

        @Option(help: "The live database (default $LYNX_DATA_DIR/portal.db).")
        var database: String?

        func run() throws {
            let source = database ?? ProcessInfo.processInfo.dataDirectory + "/portal.db"
            let manifestPath = SnapshotCommand.manifestPath(beside: to, manifest)
            let started = Date()
            do {
                try Snapshot.take(from: source, to: to)
            } catch {
                fail("snapshot of \(source) failed: \(error)")
            }
            let taken = Date()
            let description: SnapshotManifest
            do {
                description = try SnapshotManifest.describe(
                    snapshot: to, portalVersion: BuildInfo.stamped.version, createdAt: started)
            } catch {
                unlink(to)
                fail("snapshot \(to) cannot be read back (removed): \(error)")
            }
            guard description.integrityCheck == "ok", description.foreignKeyViolations == 0 else {
                unlink(to)
                fail(
                    "snapshot of \(source) fails its checks (integrity_check: \(description.integrityCheck); "
                        + "foreign_key_check: \(description.foreignKeyViolations) violation(s)); removed. "
                        + "The live database itself needs attention: run `lynx-portal doctor`.")
            }
            do {
                try description.write(to: manifestPath)
            } catch {
                unlink(to)
                fail("manifest \(manifestPath) cannot be written (snapshot removed): \(error)")
            }
            let rows = description.tables.map { "\($0.name)=\($0.rows)" }.joined(separator: " ")
            print(
                "snapshot: \(to) (\(description.snapshot.bytes) bytes, \(description.pageCount) pages of \(description.pageSize))"
            )
            print("sha256: \(description.snapshot.sha256)")
            print("manifest: \(manifestPath) (schema \(description.schemaVersion), integrity_check ok, foreign keys ok)")
            print("rows: \(rows)")
            print(
                String(
                    format: "seconds: copy %.3f, manifest %.3f", taken.timeIntervalSince(started), Date().timeIntervalSince(taken)
                ))
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a snapshot against its manifest before it may replace the live database.",
            discussion: """
                Checks the file's size and SHA-256, integrity_check, foreign_key_check, the schema, and every
                table's row count and content hash. The file is opened immutable: verifying changes nothing.
                --smoke then opens a scratch copy through the portal's own store code. Exit 0 only when trusted.
                """)

        @Argument(help: "The snapshot file.")
        var file: String

        @Option(help: "Its manifest (default: manifest.json beside the file).")
        var manifest: String?

        @Flag(help: "Also run the portal's own queries against a scratch copy.")
        var smoke = false

        func run() throws {
            let manifestPath = SnapshotCommand.manifestPath(beside: file, manifest)
            let description: SnapshotManifest
            do {
                description = try SnapshotManifest.load(manifestPath)
            } catch {
                fail("refusing \(file): \(error)")
            }
            let verification = SnapshotVerification.verify(snapshot: file, against: description)
            SnapshotCommand.printTables(verification, contentHeader: "content")
            guard verification.isTrusted else {
                for problem in verification.problems { print("problem: \(problem)") }
                fail("refusing \(file): it does not match \(manifestPath) (\(verification.problems.count) problem(s) above)")
            }
            print(
                "verified: \(file) matches \(manifestPath) (sha256 \(description.snapshot.sha256.prefix(16))…, "
                    + "taken \(description.createdAt) by portal \(description.portalVersion), schema \(description.schemaVersion))"
            )
            if smoke {
                do {
                    print("smoke: " + (try SnapshotSmokeTest.run(snapshot: file)))
                } catch {
                    fail("smoke test of \(file) through the portal's store failed: \(error)")
                }
            }
        }
    }

    struct Compare: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a live database's row counts beside a manifest's (after a restore).",
            discussion: "Opens the database read-only. Exits non-zero when a table's row count differs.")

        @Option(help: "The manifest to compare with.")
        var manifest: String

        @Option(help: "The database (default $LYNX_DATA_DIR/portal.db).")
        var database: String?

        @Flag(help: "The sessions were ended on restore: expect an empty session table, whatever the manifest says.")
        var sessionsEnded = false

        func run() throws {
            let path = database ?? ProcessInfo.processInfo.dataDirectory + "/portal.db"
            let description: SnapshotManifest
            do {
                description = try SnapshotManifest.load(manifest)
            } catch {
                fail("\(error)")
            }
            let comparison = SnapshotVerification.compare(
                database: path, against: description, emptied: sessionsEnded ? ["session"] : [])
            SnapshotCommand.printTables(comparison, contentHeader: "content now")
            guard comparison.isTrusted else {
                for problem in comparison.problems { print("problem: \(problem)") }
                fail("\(path) differs from \(manifest)")
            }
            print("row counts match \(manifest)")
        }
    }

    struct EndSessions: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "end-sessions",
            abstract: "Delete every session from a restored copy before it is put in place (used by lynx-restore).",
            discussion: """
                Sessions ended after the backup was taken must not come back with it: after a restore
                everyone signs in again. Refuses the live database ($LYNX_DATA_DIR/portal.db).
                """)

        @Argument(help: "The restored copy (never the live database).")
        var file: String

        func run() throws {
            let live = URL(fileURLWithPath: ProcessInfo.processInfo.dataDirectory + "/portal.db").resolvingSymlinksInPath()
            guard URL(fileURLWithPath: file).resolvingSymlinksInPath() != live else {
                fail("\(file) is the live database: end-sessions only works on a restored copy")
            }
            do {
                let ended = try Snapshot.endSessions(in: file)
                print("ended \(ended) session(s) in \(file): everyone signs in again")
            } catch {
                fail("cannot end the sessions in \(file): \(error)")
            }
        }
    }
}
