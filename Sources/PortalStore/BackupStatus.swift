import Foundation

/// The backup jobs' last successes, read from the small JSON files they write into the data
/// directory (`deploy/backup/`: `borg-backup.sh` writes the last good backup, `borg-verify.sh`
/// the last verified restore). `doctor` and `/healthz` report their ages.
public struct BackupStatus: Sendable, Equatable {
    /// Written by `borg-backup.sh` after an archive was created.
    public static let lastBackupFile = "backup-last-good.json"
    /// Written by `borg-verify.sh` after an archive pulled back from the repository verified.
    public static let lastVerifiedRestoreFile = "backup-last-verified.json"
    /// Written by `borg-backup.sh` when a run fails: when, at which step, and why.
    public static let lastBackupFailureFile = "backup-last-failed.json"
    /// Written by `borg-verify.sh` when a run (verify, check or verify-data) fails.
    public static let lastVerifyFailureFile = "backup-verify-last-failed.json"
    /// Written by `borg-backup.sh` (nightly and `--frequent`) when the off-site copy was last known
    /// to hold the database's content: an archive was created, or a frequent run found the
    /// content unchanged since the last one. Carries the snapshot interval from `borg.env`.
    public static let lastSnapshotFile = "backup-last-snapshot.json"
    /// Written by `borg-backup.sh --frequent` when a run fails.
    public static let lastSnapshotFailureFile = "backup-snapshot-last-failed.json"
    /// A nightly job that missed one night (plus two hours of slack) is overdue.
    public static let maximumAgeSeconds: Int64 = 26 * 3600

    /// One recorded success.
    public struct Event: Sendable, Equatable, Decodable {
        /// Unix seconds (UTC) when the job finished.
        public var epoch: Int64
        public var archive: String?
        /// The snapshot interval configured when it was written (`backup-last-snapshot.json`
        /// only; 0: frequent snapshots are off).
        public var intervalSeconds: Int64?

        public init(epoch: Int64, archive: String? = nil, intervalSeconds: Int64? = nil) {
            self.epoch = epoch
            self.archive = archive
            self.intervalSeconds = intervalSeconds
        }

        enum CodingKeys: String, CodingKey {
            case epoch, archive
            case intervalSeconds = "interval_seconds"
        }
    }

    /// One recorded failure.
    public struct Failure: Sendable, Equatable, Decodable {
        /// Unix seconds (UTC) when the job failed.
        public var epoch: Int64
        /// The job as backup.log names it: `backup`, or `verify`, `check`, `verify-data`.
        public var job: String?
        /// The step it was at, as the job's log line names it.
        public var step: String?
        /// The last line the failed step wrote to stderr.
        public var message: String?

        public init(epoch: Int64, job: String? = nil, step: String? = nil, message: String? = nil) {
            self.epoch = epoch
            self.job = job
            self.step = step
            self.message = message
        }

        enum CodingKeys: String, CodingKey { case epoch, job, step, message }
    }

    public var lastBackup: Event?
    public var lastVerifiedRestore: Event?
    public var lastBackupFailure: Failure?
    public var lastVerifyFailure: Failure?
    /// The last successful `borg check` and `borg check --verify-data` (`lynx-backup-verify
    /// --check-repository`, `--verify-data`): each clears a failure of its own job.
    public var lastRepositoryCheck: Event?
    public var lastDataVerification: Event?
    /// The newest good snapshot (nightly or frequent) and the last failed frequent run.
    public var lastSnapshot: Event?
    public var lastSnapshotFailure: Failure?

    public init(
        lastBackup: Event? = nil, lastVerifiedRestore: Event? = nil, lastBackupFailure: Failure? = nil,
        lastVerifyFailure: Failure? = nil, lastRepositoryCheck: Event? = nil, lastDataVerification: Event? = nil,
        lastSnapshot: Event? = nil, lastSnapshotFailure: Failure? = nil
    ) {
        self.lastSnapshot = lastSnapshot
        self.lastSnapshotFailure = lastSnapshotFailure
        self.lastRepositoryCheck = lastRepositoryCheck
        self.lastDataVerification = lastDataVerification
        self.lastBackup = lastBackup
        self.lastVerifiedRestore = lastVerifiedRestore
        self.lastBackupFailure = lastBackupFailure
        self.lastVerifyFailure = lastVerifyFailure
    }

    /// The backup job's failure when it is not older than its last success. The files hold whole
    /// seconds, and a failure in the same second as a success came after it: runs are serialised
    /// by the backup lock and each takes longer than a second (the success was a previous run).
    public var unresolvedBackupFailure: Failure? {
        lastBackupFailure.flatMap { $0.epoch >= (lastBackup?.epoch ?? .min) ? $0 : nil }
    }

    /// The frequent job's failure when it is not older than the newest good snapshot (same
    /// second: see above).
    public var unresolvedSnapshotFailure: Failure? {
        lastSnapshotFailure.flatMap { $0.epoch >= (lastSnapshot?.epoch ?? .min) ? $0 : nil }
    }

    /// The verify job's failure when it is not older than that job's last success (same second:
    /// see above): a verified
    /// restore for `verify`, a repository check for `check`, a data verification for `verify-data`.
    public var unresolvedVerifyFailure: Failure? {
        guard let failure = lastVerifyFailure else { return nil }
        let success =
            switch failure.job {
            case "check": lastRepositoryCheck
            case "verify-data": lastDataVerification
            default: lastVerifiedRestore
            }
        return failure.epoch >= (success?.epoch ?? .min) ? failure : nil
    }

    /// Reads the eight files; a missing or unreadable file counts as "never".
    public static func read(dataDirectory: String) -> BackupStatus {
        func decode<Value: Decodable>(_ name: String, as type: Value.Type) -> Value? {
            guard let data = FileManager.default.contents(atPath: dataDirectory + "/" + name) else { return nil }
            return try? JSONDecoder().decode(type, from: data)
        }
        return BackupStatus(
            lastBackup: decode(lastBackupFile, as: Event.self),
            lastVerifiedRestore: decode(lastVerifiedRestoreFile, as: Event.self),
            lastBackupFailure: decode(lastBackupFailureFile, as: Failure.self),
            lastVerifyFailure: decode(lastVerifyFailureFile, as: Failure.self),
            lastRepositoryCheck: decode("backup-last-check.json", as: Event.self),
            lastDataVerification: decode("backup-last-verify-data.json", as: Event.self),
            lastSnapshot: decode(lastSnapshotFile, as: Event.self),
            lastSnapshotFailure: decode(lastSnapshotFailureFile, as: Failure.self))
    }

    /// Seconds since the last good backup, nil when none was ever recorded.
    public func lastBackupAge(now: Int64) -> Int64? { lastBackup.map { max(0, now - $0.epoch) } }

    /// Seconds since the newest good snapshot, nil when none was ever recorded.
    public func lastSnapshotAge(now: Int64) -> Int64? { lastSnapshot.map { max(0, now - $0.epoch) } }

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

    public static func hours(_ seconds: Int64) -> String {
        String(format: "%.1f h", Double(seconds) / 3600)
    }
}
