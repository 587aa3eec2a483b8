import Foundation

/// When `doctor` and `/healthz` raise an alert (PortalConfiguration reads them from LYNX_ settings).
public struct AlertThresholds: Sendable, Equatable {
    /// Free space on the data directory's filesystem below this share of it (0: off).
    public var diskMinimumFreePercent: Int
    /// Free space on the data directory's filesystem below this many MiB (0: off).
    public var diskMinimumFreeMiB: Int
    /// The last good backup older than this: one missed nightly run plus two hours of slack.
    public var backupMaximumAgeHours: Int
    /// The certificate's remaining time below this many days (or a quarter of its lifetime, the
    /// smaller of the two).
    public var certificateMinimumDays: Int

    public init(diskMinimumFreePercent: Int, diskMinimumFreeMiB: Int, backupMaximumAgeHours: Int, certificateMinimumDays: Int) {
        self.diskMinimumFreePercent = diskMinimumFreePercent
        self.diskMinimumFreeMiB = diskMinimumFreeMiB
        self.backupMaximumAgeHours = backupMaximumAgeHours
        self.certificateMinimumDays = certificateMinimumDays
    }

    public static let standard = AlertThresholds(
        diskMinimumFreePercent: 10, diskMinimumFreeMiB: 1024, backupMaximumAgeHours: 26, certificateMinimumDays: 14)
}

/// One named check of the operator's conditions: `doctor` prints it (an alert fails the run),
/// the operator view of `/healthz` lists the alerts. None of them is an outage.
public struct OperatorCheck: Sendable, Equatable {
    public enum Level: Sendable, Equatable {
        case ok
        /// Worth a look, not a failure (e.g. no backup yet right after install).
        case warning
        /// Needs the operator: `doctor` fails, `/healthz` lists it under `alerts`.
        case alert
    }

    public var check: String
    public var level: Level
    public var message: String

    public init(_ check: String, _ level: Level, _ message: String) {
        self.check = check
        self.level = level
        self.message = message
    }
}

/// The conditions an operator is alerted to: backups (stale or failed), verified restores
/// (failed), snapshots (older than twice their interval, or failed), free disk space, the TLS certificate. Each reads only small files in the data
/// directory and one statvfs(2), so `/healthz` can run them on every operator request.
public enum OperatorChecks {
    public static func run(dataDirectory: String, thresholds: AlertThresholds, now: Int64) -> [OperatorCheck] {
        let backups = BackupStatus.read(dataDirectory: dataDirectory)
        return [
            backup(backups, thresholds: thresholds, now: now),
            backupVerify(backups, thresholds: thresholds, now: now),
            backupSnapshot(backups, now: now),
            diskSpace(dataDirectory, thresholds: thresholds),
            certificate(dataDirectory: dataDirectory, thresholds: thresholds, now: now),
        ]
    }

    static func describe(_ failure: BackupStatus.Failure, now: Int64) -> String {
        var text = "failed \(BackupStatus.hours(max(0, now - failure.epoch))) ago"
        if let step = failure.step, !step.isEmpty { text += " at step '\(step)'" }
        if let message = failure.message, !message.isEmpty { text += ": \(message)" }
        return text
    }

    public static func backup(_ status: BackupStatus, thresholds: AlertThresholds, now: Int64) -> OperatorCheck {
        let limit = Int64(thresholds.backupMaximumAgeHours) * 3600
        if let failure = status.unresolvedBackupFailure {
            return OperatorCheck(
                "backup", .alert,
                "the last backup \(describe(failure, now: now)) (\(BackupStatus.lastBackupFailureFile)); see backup.log")
        }
        guard let age = status.lastBackupAge(now: now) else {
            return OperatorCheck("backup", .warning, "no backup recorded yet (expected right after install)")
        }
        let text = "last good backup \(BackupStatus.hours(age)) ago (\(status.lastBackup?.archive ?? "?"))"
        guard age <= limit else {
            return OperatorCheck(
                "backup", .alert,
                "last good backup is \(BackupStatus.hours(age)) old (over \(thresholds.backupMaximumAgeHours) h): "
                    + "is the nightly lynx-backup running?")
        }
        return OperatorCheck("backup", .ok, text)
    }

    public static func backupVerify(_ status: BackupStatus, thresholds: AlertThresholds, now: Int64) -> OperatorCheck {
        if let failure = status.unresolvedVerifyFailure {
            return OperatorCheck(
                "backup verify", .alert,
                "the last verification \(describe(failure, now: now)) (\(BackupStatus.lastVerifyFailureFile)); see backup.log")
        }
        guard let age = status.lastVerifiedRestoreAge(now: now) else {
            return OperatorCheck("backup verify", .warning, "no verified restore recorded yet")
        }
        let text = "last verified restore \(BackupStatus.hours(age)) ago"
        guard age <= Int64(thresholds.backupMaximumAgeHours) * 3600 else {
            return OperatorCheck(
                "backup verify", .warning, "\(text) (over \(thresholds.backupMaximumAgeHours) h)")
        }
        return OperatorCheck("backup verify", .ok, text)
    }

    /// The recovery point: the newest good snapshot (nightly or frequent, `backup-last-snapshot.json`)
    /// older than twice the interval configured in `borg.env` (recorded in that file) is an
    /// alert, as is a frequent run that failed after it. The dead-man ping stays with the
    /// nightly verified restore (`backup verify`).
    public static func backupSnapshot(_ status: BackupStatus, now: Int64) -> OperatorCheck {
        let name = "backup snapshot"
        if let failure = status.unresolvedSnapshotFailure {
            return OperatorCheck(
                name, .alert,
                "the last frequent snapshot \(describe(failure, now: now)) (\(BackupStatus.lastSnapshotFailureFile)); "
                    + "see backup.log")
        }
        guard let snapshot = status.lastSnapshot, let age = status.lastSnapshotAge(now: now) else {
            return OperatorCheck(name, .warning, "no snapshot recorded yet (lynx-backup records one)")
        }
        let interval = snapshot.intervalSeconds ?? 0
        let text = "newest good snapshot \(minutes(age)) ago (\(snapshot.archive ?? "?"))"
        guard interval > 0 else {
            return OperatorCheck(name, .ok, "\(text); frequent snapshots are off (LYNX_SNAPSHOT_INTERVAL_MINUTES=0)")
        }
        guard age <= 2 * interval else {
            return OperatorCheck(
                name, .alert,
                "newest good snapshot is \(minutes(age)) old (over twice the interval of \(minutes(interval))): "
                    + "is the frequent lynx-backup --frequent running?")
        }
        return OperatorCheck(name, .ok, "\(text), one every \(minutes(interval))")
    }

    /// Minutes under two hours, then hours.
    static func minutes(_ seconds: Int64) -> String {
        seconds < 7200 ? "\(seconds / 60) min" : BackupStatus.hours(seconds)
    }

    /// Free space on the filesystem holding `path`, from statvfs(2).
    public static func diskSpace(_ path: String, thresholds: AlertThresholds) -> OperatorCheck {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else {
            return OperatorCheck("disk space", .alert, "\(path): cannot read its free space: \(String(cString: strerror(errno)))")
        }
        let block = UInt64(info.f_frsize)
        return diskSpace(
            path, freeBytes: UInt64(info.f_bavail) * block, totalBytes: UInt64(info.f_blocks) * block, thresholds: thresholds)
    }

    /// The rule: an alert below either minimum (each 0 turns itself off).
    public static func diskSpace(_ path: String, freeBytes: UInt64, totalBytes: UInt64, thresholds: AlertThresholds)
        -> OperatorCheck
    {
        let mebibyte: UInt64 = 1 << 20
        let percent = totalBytes > 0 ? Double(freeBytes) * 100 / Double(totalBytes) : 100
        let text =
            "\(freeBytes / mebibyte) MiB free of \(totalBytes / mebibyte) MiB (\(String(format: "%.1f", percent))%) "
            + "on the filesystem of \(path)"
        let low =
            percent < Double(thresholds.diskMinimumFreePercent)
            || freeBytes < UInt64(thresholds.diskMinimumFreeMiB) * mebibyte
        guard low else { return OperatorCheck("disk space", .ok, text) }
        return OperatorCheck(
            "disk space", .alert,
            "\(text): under the minimum of \(thresholds.diskMinimumFreePercent)% or \(thresholds.diskMinimumFreeMiB) MiB "
                + "(LYNX_DISK_MIN_FREE_PERCENT, LYNX_DISK_MIN_FREE_MB); SQLite fails writes when the disk fills")
    }

    public static func certificate(dataDirectory: String, thresholds: AlertThresholds, now: Int64) -> OperatorCheck {
        let path = dataDirectory + "/" + CertificateStatus.file
        guard let data = FileManager.default.contents(atPath: path) else {
            return OperatorCheck(
                "certificate", .ok, "not checked (no \(CertificateStatus.file): none is written on a plain-HTTP install)")
        }
        guard let status = try? JSONDecoder().decode(CertificateStatus.self, from: data) else {
            return OperatorCheck("certificate", .alert, "\(path) cannot be read as the certificate check's JSON")
        }
        if let problem = status.problem(now: now, minimumDays: thresholds.certificateMinimumDays) {
            return OperatorCheck("certificate", .alert, problem)
        }
        return OperatorCheck("certificate", .ok, status.summary(now: now))
    }
}

/// What the certificate check (a root job) last saw of the site's TLS certificate, from
/// `certificate.json` in the data directory: `{"domain", "not_before", "not_after",
/// "checked_at", "error"}`, times in Unix seconds.
public struct CertificateStatus: Sendable, Equatable, Decodable {
    public static let file = "certificate.json"
    /// A daily check that missed one run (plus two hours) is overdue.
    public static let maximumCheckAgeSeconds: Int64 = 26 * 3600

    public var domain: String?
    public var notBefore: Int64?
    public var notAfter: Int64?
    public var checkedAt: Int64?
    public var error: String?

    public init(domain: String?, notBefore: Int64?, notAfter: Int64?, checkedAt: Int64?, error: String? = nil) {
        self.domain = domain
        self.notBefore = notBefore
        self.notAfter = notAfter
        self.checkedAt = checkedAt
        self.error = error
    }

    enum CodingKeys: String, CodingKey {
        case domain, error
        case notBefore = "not_before"
        case notAfter = "not_after"
        case checkedAt = "checked_at"
    }

    /// Seconds before expiry under which to alert: the smaller of `minimumDays` and a quarter of
    /// the certificate's lifetime (a 90-day certificate alerts at 14 days, a 12-hour one at 3 hours).
    public static func alertWindow(lifetime: Int64, minimumDays: Int = 14) -> Int64 {
        min(Int64(minimumDays) * 86400, max(0, lifetime) / 4)
    }

    /// Why the operator must look, or nil: the check reported an error, has not run for 26 h, or
    /// the certificate has expired or has less than `alertWindow` left.
    public func problem(now: Int64, minimumDays: Int = 14) -> String? {
        let name = domain.flatMap { $0.isEmpty ? nil : $0 } ?? "the site"
        var problems: [String] = []
        if let error, !error.isEmpty { problems.append("the check of \(name)'s certificate failed: \(error)") }
        if let checkedAt {
            if now - checkedAt > Self.maximumCheckAgeSeconds {
                problems.append(
                    "last checked \(Self.duration(now - checkedAt)) ago (over 26 h): is the certificate check running?")
            }
        } else {
            problems.append("\(Self.file) has no checked_at")
        }
        if let notAfter {
            let remaining = notAfter - now
            let window = Self.alertWindow(lifetime: notAfter - (notBefore ?? notAfter), minimumDays: minimumDays)
            if remaining <= 0 {
                problems.append("\(name)'s certificate expired \(Self.duration(-remaining)) ago")
            } else if remaining < window {
                problems.append(
                    "\(name)'s certificate expires in \(Self.duration(remaining)) (alert under \(Self.duration(window))): "
                        + "is renewal working?")
            }
        } else if error == nil {
            problems.append("\(Self.file) has no not_after")
        }
        return problems.isEmpty ? nil : problems.joined(separator: "; ")
    }

    func summary(now: Int64) -> String {
        let name = domain.flatMap { $0.isEmpty ? nil : $0 } ?? "the site"
        let left = (notAfter ?? now) - now
        let checked = (checkedAt.map { now - $0 } ?? 0)
        return "\(name): \(Self.duration(left)) left (checked \(Self.duration(checked)) ago)"
    }

    /// Hours under two days, days above.
    static func duration(_ seconds: Int64) -> String {
        seconds < 2 * 86400
            ? String(format: "%.1f h", Double(seconds) / 3600) : String(format: "%.1f days", Double(seconds) / 86400)
    }
}
