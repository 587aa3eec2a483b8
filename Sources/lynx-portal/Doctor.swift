import ArgumentParser
import Foundation
import GRDB
import PortalStore
import PortalWeb

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check configuration, data directory, database, templates and versions; non-zero exit on any failure.")

    @Option(
        help:
            "The FastCGI socket to test (default /run/lynx-portal/portal.sock when it exists, or always on an installed system under systemd)."
    )
    var socket: String?

    func run() throws {
        var report = DoctorReport()
        report.pass("version", "lynx-portal \(BuildInfo.stamped)")
        let environment = ProcessInfo.processInfo.environment
        var configuration: PortalConfiguration?
        do {
            configuration = try PortalConfiguration(environment: environment)
            report.check("secrets") { try Self.secretsStrength(environment) }
        } catch {
            report.fail("secrets", "\(error)")
        }
        report.check("argon2") { try Self.argon2Strength(environment) }
        let dataDirectory = configuration?.dataDirectory ?? ProcessInfo.processInfo.dataDirectory
        report.check("data directory filesystem") { try Self.localFilesystem(dataDirectory) }
        report.check("database") {
            let database = try PortalDatabase(dataDirectory: dataDirectory)
            let (mode, foreignKeys, busy, synchronous) = try database.pool.read { db in
                (
                    try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "?",
                    try Int.fetchOne(db, sql: "PRAGMA foreign_keys") ?? 0,
                    try Int.fetchOne(db, sql: "PRAGMA busy_timeout") ?? 0,
                    try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1
                )
            }
            guard synchronous == 1 else { throw DoctorFailure("synchronous is \(synchronous), expected 1 (NORMAL)") }
            guard mode == "wal" else { throw DoctorFailure("journal_mode is \(mode), expected wal") }
            guard foreignKeys == 1 else { throw DoctorFailure("foreign_keys is off") }
            if let refusal = SchemaGate.refusal(try database.schemaState(), dataDirectory: dataDirectory) {
                throw DoctorFailure(refusal)
            }
            let integrity = try database.pool.read { db in try String.fetchOne(db, sql: "PRAGMA quick_check") ?? "?" }
            guard integrity == "ok" else { throw DoctorFailure("quick_check: \(integrity)") }
            return
                "\(dataDirectory)/portal.db: WAL, synchronous NORMAL, foreign keys on, busy_timeout \(busy) ms, schema current, quick_check ok"
        }
        report.check("sqlite version") {
            let version = try PortalDatabase(dataDirectory: dataDirectory).sqliteVersion()
            return Self.compare(version, "3.51.3") < 0
                ? "\(version): predates the WAL-reset fix (3.51.3); the portal keeps all writes on one connection"
                : "\(version)"
        }
        report.check("templates") {
            let directory = configuration?.templatesDirectory ?? environment["LYNX_TEMPLATES_DIR"] ?? "/opt/lynx-portal/templates"
            _ = try TemplateSet.compile(directory: directory)
            return "\(directory): all compile"
        }
        report.check("borg") {
            guard let output = Self.run(["borg", "--version"]) else { return "not installed (needed for backups)" }
            let version = output.split(separator: " ").last.map(String.init) ?? output
            return Self.compare(version, "1.2.5") < 0
                ? "\(version): predates the CVE-2023-36811 fix (1.2.5); see deploy/README.md for the upgrade path"
                : version
        }
        Self.reportAlerts(into: &report, dataDirectory: dataDirectory, configuration: configuration)
        Self.reportPeppers(into: &report, dataDirectory: dataDirectory, configuration: configuration, environment: environment)
        report.check("libfcgi") {
            let version = Self.run(["dpkg-query", "-W", "-f", "${Version}", "libfcgi0ldbl"]) ?? "unknown"
            return "\(version): carries only part of the CVE-2025-23016 fix; keep the socket unix-only (never TCP)"
        }
        Self.reportCrashes(into: &report, dataDirectory: dataDirectory)
        // On an installed system the layout is part of the health: owners and modes of every path.
        let installed = ServerLayout.isInstalledSystem
        if installed {
            let layout = ServerLayout.installed(
                dataDirectory: dataDirectory,
                templatesDirectory: configuration?.templatesDirectory ?? "/opt/lynx-portal/templates",
                withSocket: ServerLayout.systemdIsRunning)
            report.check("layout") { try Self.layout(layout) }
        }
        let defaultSocket = "/run/lynx-portal/portal.sock"
        let socketPath =
            socket
            ?? (FileManager.default.fileExists(atPath: defaultSocket) || (installed && ServerLayout.systemdIsRunning)
                ? defaultSocket : nil)
        if let socketPath {
            report.check("socket") { try Self.connect(socketPath) }
        }
        report.print()
        if report.failures > 0 { throw ExitCode(1) }
    }

    struct DoctorFailure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// Refuses network and FUSE filesystems: SQLite's locking is not reliable there.
    static func localFilesystem(_ path: String) throws -> String {
        guard let type = run(["stat", "--file-system", "--format=%T", path]) else {
            throw DoctorFailure("\(path): cannot read its filesystem type (does it exist?)")
        }
        let remote = ["nfs", "smb", "smb2", "cifs", "fuse", "fuseblk", "9p", "ceph", "glusterfs"]
        if remote.contains(where: { type.lowercased().hasPrefix($0) }) {
            throw DoctorFailure("\(path) is on \(type): SQLite's locking needs a local filesystem")
        }
        return "\(path) is on a local filesystem (\(type))"
    }

    static func connect(_ path: String) throws -> String {
        let descriptor = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw DoctorFailure("socket(): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in path.utf8.prefix(buffer.count - 1).enumerated() { buffer[index] = byte }
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else { throw DoctorFailure("\(path): \(String(cString: strerror(errno)))") }
        return "\(path) accepts connections"
    }

    static func run(_ arguments: [String]) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Compares dotted version numbers numerically.
    static func compare(_ a: String, _ b: String) -> Int {
        let left = a.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        let right = b.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        for index in 0..<max(left.count, right.count) {
            let l = index < left.count ? left[index] : 0
            let r = index < right.count ? right[index] : 0
            if l != r { return l < r ? -1 : 1 }
        }
        return 0
    }
}

/// Collects one line per check.
struct DoctorReport {
    private(set) var lines: [String] = []
    private(set) var failures = 0

    mutating func pass(_ name: String, _ detail: String) { lines.append("ok    \(name): \(detail)") }

    /// Something the operator should look at that is not a failure: listed, exit status unchanged.
    mutating func warn(_ name: String, _ detail: String, more: [String] = []) {
        lines.append("WARN  \(name): \(detail)")
        lines.append(contentsOf: more.map { "      \($0)" })
    }

    mutating func fail(_ name: String, _ detail: String) {
        failures += 1
        lines.append("FAIL  \(name): \(detail)")
    }

    mutating func check(_ name: String, _ body: () throws -> String) {
        do { pass(name, try body()) } catch { fail(name, "\(error)") }
    }

    func print() {
        for line in lines { Swift.print(line) }
        Swift.print(failures == 0 ? "doctor: all checks passed" : "doctor: \(failures) check(s) failed")
    }
}
