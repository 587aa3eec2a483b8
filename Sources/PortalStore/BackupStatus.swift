import Foundation

/// The backup jobs' last successes, read from the small JSON files they write into the data
/// directory (`deploy/backup/`: `borg-backup.sh` writes the last good backup, `borg-verify.sh`
/// the last verified restore). `doctor` and `/healthz` report their ages.
public struct BackupStatus: Sendable, Equatable {
    /// Written by `borg-backup.sh` after an archive was created.
    public static let lastBackupFile = "backup-last-good.json"
    /// Written by `borg-verify.sh` after an archive pulled back from the repository verified.
    public static let lastVerifiedRestoreFile = "backup-last-verified.json"
    /// A nightly job that missed one night (plus two hours of slack) is overdue.
    public static let maximumAgeSeconds: Int64 = 26 * 3600

    /// One recorded success.
    public struct Event: Sendable, Equatable, Decodable {
        /// Unix seconds (UTC) when the job finished.
        public var epoch: Int64
        public var archive: String?

        enum CodingKeys: String, CodingKey { case epoch, archive }
    }

    public var lastBackup: Event?
    public var lastVerifiedRestore: Event?

    public init(lastBackup: Event? = nil, lastVerifiedRestore: Event? = nil) {
        self.lastBackup = lastBackup
        self.lastVerifiedRestore = lastVerifiedRestore
    }

    /// Reads both files; a missing or unreadable file counts as "never".
    public static func read(dataDirectory: String) -> BackupStatus {
        func event(_ name: String) -> Event? {
            guard let data = FileManager.default.contents(atPath: dataDirectory + "/" + name) else { return nil }
            return try? JSONDecoder().decode(Event.self, from: data)
        }
        return BackupStatus(lastBackup: event(lastBackupFile), lastVerifiedRestore: event(lastVerifiedRestoreFile))
    }

    /// Seconds since the last good backup, nil when none was ever recorded.
    public func lastBackupAge(now: Int64) -> Int64? { lastBackup.map { max(0, now - $0.epoch) } }

    /// Seconds since the last verified restore, nil when none was ever recorded.
    public func lastVerifiedRestoreAge(now: Int64) -> Int64? { lastVerifiedRestore.map { max(0, now - $0.epoch) } }

    /// What an operator should look at; empty when both are recent.
    public func warnings(now: Int64) -> [String] {
        var warnings: [String] = []
        for (what, age) in [("good backup", lastBackupAge(now: now)), ("verified restore", lastVerifiedRestoreAge(now: now))] {
            if let age {
                if age > Self.maximumAgeSeconds {
                    warnings.append("last \(what) is \(Self.hours(age)) old (over 26 h)")
                }
            } else {
                warnings.append("no \(what) recorded")
            }
        }
        return warnings
    }

    /// A human summary for `doctor`: both ages, then any warning.
    public func summary(now: Int64) -> String {
        let backup = lastBackupAge(now: now).map { "\(Self.hours($0)) ago (\(lastBackup?.archive ?? "?"))" } ?? "never"
        let verified = lastVerifiedRestoreAge(now: now).map { "\(Self.hours($0)) ago" } ?? "never"
        let text = "last good backup \(backup); last verified restore \(verified)"
        let warnings = warnings(now: now)
        return warnings.isEmpty
            ? text : "WARNING: \(warnings.joined(separator: "; ")); \(text); see deploy/README.md, Backups and restore"
    }

    static func hours(_ seconds: Int64) -> String {
        String(format: "%.1f h", Double(seconds) / 3600)
    }
}
