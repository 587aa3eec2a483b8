import Crypto
import Foundation
import GRDB

/// A consistent copy of the live database, taken with SQLite's online backup API in one step.
///
/// `sqlite3_backup_step(-1)` copies every page under a single read transaction, so a portal
/// writing at the same time neither restarts nor blocks it (WAL readers do not block the
/// writer). The copy keeps the source's pages, page size and header, so fixed-size chunking in
/// borg sees unchanged pages as unchanged chunks. Never `cp` a WAL database, and never the
/// `sqlite3` shell's `.backup`: it restarts whenever another connection writes.
public enum Snapshot {
    /// Copies the database at `source` to `destination` and makes the copy durable.
    ///
    /// The source is opened read-only, so this process never writes or checkpoints the live
    /// database (SQLite 3.40's WAL-reset bug needs two writers). The copy is written under a
    /// temporary name, fsynced, renamed into place and its directory fsynced: a crash leaves
    /// either no snapshot or a complete one, never a half-written file under the final name.
    public static func take(from source: String, to destination: String) throws {
        guard FileManager.default.fileExists(atPath: source) else {
            throw SnapshotError.missingFile(source, "the live database does not exist (is LYNX_DATA_DIR right?)")
        }
        guard !FileManager.default.fileExists(atPath: destination) else {
            throw SnapshotError.refused(destination, "already exists; snapshots never overwrite a file")
        }
        let directory = (destination as NSString).deletingLastPathComponent
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.isEmpty ? "." : directory, isDirectory: &isDirectory),
            isDirectory.boolValue
        else {
            throw SnapshotError.missingFile(directory, "the snapshot's directory does not exist")
        }
        let partial = destination + ".partial"
        unlink(partial)
        do {
            var sourceConfiguration = Configuration()
            sourceConfiguration.readonly = true
            sourceConfiguration.busyMode = .timeout(5)
            let live = try DatabaseQueue(path: source, configuration: sourceConfiguration)
            let copy = try DatabaseQueue(path: partial)
            // The copy holds password hashes: owner-only until the restore installs it 0640.
            guard chmod(partial, 0o600) == 0 else {
                throw SnapshotError.io(partial, "chmod 0600: \(String(cString: strerror(errno)))")
            }
            try live.backup(to: copy, pagesPerStep: -1)
            try copy.close()
            try live.close()
            try FileSync.file(partial)
            guard rename(partial, destination) == 0 else {
                throw SnapshotError.io(destination, "rename from \(partial): \(String(cString: strerror(errno)))")
            }
            try FileSync.directory(containing: destination)
        } catch {
            unlink(partial)
            unlink(partial + "-journal")
            throw error
        }
    }

    /// Opens a snapshot file strictly read-only: `immutable=1` makes SQLite take no locks and
    /// create no `-wal`/`-shm` beside it, so verifying a file never changes a byte of it.
    /// (A URI filename: Debian's SQLite is built with SQLITE_USE_URI. Without it the open fails,
    /// and a snapshot that cannot be opened is refused, never trusted.)
    static func openImmutable(_ path: String) throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.readonly = true
        guard let escaped = path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) else {
            throw SnapshotError.refused(path, "cannot be expressed as an SQLite URI")
        }
        return try DatabaseQueue(path: "file:\(escaped)?mode=ro&immutable=1", configuration: configuration)
    }

    /// Opens a live database read-only (normal locking, the running portal's WAL included).
    static func openReadOnly(_ path: String) throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(5)
        return try DatabaseQueue(path: path, configuration: configuration)
    }
}

/// A snapshot that cannot be taken, read or trusted; the message says which file and why.
public enum SnapshotError: Error, CustomStringConvertible {
    case missingFile(String, String)
    case refused(String, String)
    case io(String, String)
    case unreadableManifest(String, String)

    public var description: String {
        switch self {
        case .missingFile(let path, let why): "\(path): \(why)"
        case .refused(let path, let why): "\(path): \(why)"
        case .io(let path, let why): "\(path): \(why)"
        case .unreadableManifest(let path, let why): "manifest \(path): \(why)"
        }
    }
}

/// fsync for files and directories (the rename of a new file is durable only once its
/// directory is synced).
enum FileSync {
    static func file(_ path: String) throws {
        try sync(path, flags: O_RDONLY)
    }

    static func directory(containing path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try sync(directory.isEmpty ? "." : directory, flags: O_RDONLY | O_DIRECTORY)
    }

    private static func sync(_ path: String, flags: Int32) throws {
        let descriptor = open(path, flags)
        guard descriptor >= 0 else { throw SnapshotError.io(path, "open for fsync: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw SnapshotError.io(path, "fsync: \(String(cString: strerror(errno)))") }
    }
}

/// SHA-256 of a file, read in 1 MiB blocks.
enum FileDigest {
    static func sha256(_ path: String) throws -> (hex: String, bytes: Int64) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw SnapshotError.missingFile(path, "cannot be opened for reading")
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        var total: Int64 = 0
        while true {
            let block = try handle.read(upToCount: 1 << 20) ?? Data()
            if block.isEmpty { break }
            hasher.update(data: block)
            total += Int64(block.count)
        }
        return (hasher.finalize().map { String(format: "%02x", $0) }.joined(), total)
    }
}
