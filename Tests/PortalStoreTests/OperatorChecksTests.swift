import Foundation
import PortalStore
import Testing

@Suite("Certificate expiry rule")
struct CertificateRuleTests {
    private let now: Int64 = 1_800_000_000
    private let day: Int64 = 86400
    private let hour: Int64 = 3600

    private func certificate(lifetime: Int64, remaining: Int64, checkedAgo: Int64 = 3600, error: String? = nil)
        -> CertificateStatus
    {
        CertificateStatus(
            domain: "portal.example.org", notBefore: now + remaining - lifetime, notAfter: now + remaining,
            checkedAt: now - checkedAgo, error: error)
    }

    @Test func aNinetyDayCertificateAlertsAtFourteenDays() {
        #expect(CertificateStatus.alertWindow(lifetime: 90 * day) == 14 * day)
        #expect(certificate(lifetime: 90 * day, remaining: 14 * day + 60).problem(now: now) == nil)
        let problem = certificate(lifetime: 90 * day, remaining: 14 * day - 60).problem(now: now)
        #expect(problem?.contains("portal.example.org's certificate expires in 14.0 days") == true, "\(problem ?? "nil")")
    }

    @Test func aTwelveHourCertificateAlertsAtThreeHours() {
        #expect(CertificateStatus.alertWindow(lifetime: 12 * hour) == 3 * hour)
        #expect(certificate(lifetime: 12 * hour, remaining: 3 * hour + 60).problem(now: now) == nil)
        let problem = certificate(lifetime: 12 * hour, remaining: 3 * hour - 60).problem(now: now)
        #expect(problem?.contains("alert under 3.0 h") == true, "\(problem ?? "nil")")
    }

    @Test func anExpiredCertificateAlerts() {
        let problem = certificate(lifetime: 90 * day, remaining: -2 * hour).problem(now: now)
        #expect(problem?.contains("expired 2.0 h ago") == true, "\(problem ?? "nil")")
    }

    @Test func aReportedErrorAlertsEvenWithTimeLeft() {
        let problem = certificate(lifetime: 90 * day, remaining: 60 * day, error: "connection refused").problem(now: now)
        #expect(problem?.contains("connection refused") == true, "\(problem ?? "nil")")
    }

    @Test func aCheckOlderThan26HoursAlerts() {
        #expect(certificate(lifetime: 90 * day, remaining: 60 * day, checkedAgo: 25 * hour).problem(now: now) == nil)
        let problem = certificate(lifetime: 90 * day, remaining: 60 * day, checkedAgo: 27 * hour).problem(now: now)
        #expect(problem?.contains("last checked 27.0 h ago") == true, "\(problem ?? "nil")")
    }

    @Test func theMinimumDaysSettingCapsTheWindow() {
        #expect(CertificateStatus.alertWindow(lifetime: 90 * day, minimumDays: 7) == 7 * day)
        #expect(certificate(lifetime: 90 * day, remaining: 10 * day).problem(now: now, minimumDays: 7) == nil)
    }

    @Test func aMissingFileIsNotCheckedNotAnAlert() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cert-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let missing = OperatorChecks.certificate(dataDirectory: directory, thresholds: .standard, now: now)
        #expect(missing.level == .ok && missing.message.hasPrefix("not checked"))
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: directory + "/certificate.json"))
        #expect(OperatorChecks.certificate(dataDirectory: directory, thresholds: .standard, now: now).level == .alert)
    }
}

@Suite("Disk space and backup alerts")
struct OperatorAlertRuleTests {
    private let now: Int64 = 1_800_000_000
    private let mebibyte: UInt64 = 1 << 20

    @Test func freeSpaceUnderEitherMinimumAlerts() {
        let thresholds = AlertThresholds.standard
        let plenty = OperatorChecks.diskSpace(
            "/data", freeBytes: 50_000 * mebibyte, totalBytes: 100_000 * mebibyte, thresholds: thresholds)
        #expect(plenty.level == .ok)
        let underPercent = OperatorChecks.diskSpace(
            "/data", freeBytes: 9_000 * mebibyte, totalBytes: 100_000 * mebibyte, thresholds: thresholds)
        #expect(underPercent.level == .alert && underPercent.message.contains("9000 MiB free of 100000 MiB (9.0%)"))
        let underMiB = OperatorChecks.diskSpace(
            "/data", freeBytes: 1000 * mebibyte, totalBytes: 2000 * mebibyte, thresholds: thresholds)
        #expect(underMiB.level == .alert)
        var off = thresholds
        off.diskMinimumFreeMiB = 0
        off.diskMinimumFreePercent = 0
        #expect(OperatorChecks.diskSpace("/data", freeBytes: 0, totalBytes: 2000 * mebibyte, thresholds: off).level == .ok)
    }

    @Test func noBackupYetIsAWarningAStaleOneAnAlert() {
        let none = OperatorChecks.backup(BackupStatus(), thresholds: .standard, now: now)
        #expect(none.level == .warning)
        let recent = BackupStatus(lastBackup: .init(epoch: now - 3600, archive: "a"))
        #expect(OperatorChecks.backup(recent, thresholds: .standard, now: now).level == .ok)
        let stale = BackupStatus(lastBackup: .init(epoch: now - 27 * 3600, archive: "a"))
        let check = OperatorChecks.backup(stale, thresholds: .standard, now: now)
        #expect(check.level == .alert && check.message.contains("27.0 h old (over 26 h)"), "\(check.message)")
    }

    @Test func aFailureNewerThanTheLastSuccessAlertsUntilTheNextSuccess() {
        var status = BackupStatus(
            lastBackup: .init(epoch: now - 7200, archive: "a"),
            lastBackupFailure: .init(epoch: now - 3600, step: "borg create", message: "passphrase wrong"))
        let failed = OperatorChecks.backup(status, thresholds: .standard, now: now)
        #expect(failed.level == .alert && failed.message.contains("at step 'borg create': passphrase wrong"), "\(failed)")
        status.lastBackup = .init(epoch: now - 60, archive: "b")
        #expect(OperatorChecks.backup(status, thresholds: .standard, now: now).level == .ok)
        let verify = BackupStatus(lastVerifyFailure: .init(epoch: now - 60, step: "extracting a", message: "gone"))
        #expect(OperatorChecks.backupVerify(verify, thresholds: .standard, now: now).level == .alert)
    }

    @Test func aFailureInTheSameSecondAsTheLastSuccessCameAfterItAndAlerts() {
        // Runs are serialised and take longer than a second: the success was the run before.
        let backup = BackupStatus(
            lastBackup: .init(epoch: now - 5, archive: "a"),
            lastBackupFailure: .init(epoch: now - 5, step: "borg create", message: "gone"))
        #expect(OperatorChecks.backup(backup, thresholds: .standard, now: now).level == .alert)
        let verify = BackupStatus(
            lastVerifiedRestore: .init(epoch: now - 5), lastVerifyFailure: .init(epoch: now - 5, step: "extracting b"))
        #expect(OperatorChecks.backupVerify(verify, thresholds: .standard, now: now).level == .alert)
    }

    @Test func aFailedRepositoryCheckIsClearedOnlyByACheckThatSucceeds() {
        var status = BackupStatus(
            lastVerifiedRestore: .init(epoch: now - 60), lastVerifyFailure: .init(epoch: now - 3600, job: "check"),
            lastRepositoryCheck: .init(epoch: now - 7 * 86400))
        #expect(OperatorChecks.backupVerify(status, thresholds: .standard, now: now).level == .alert)
        status.lastRepositoryCheck = .init(epoch: now - 10)
        #expect(OperatorChecks.backupVerify(status, thresholds: .standard, now: now).level == .ok)
    }

    @Test func aSnapshotOlderThanTwiceItsIntervalOrAFailedOneAlerts() {
        let none = OperatorChecks.backupSnapshot(BackupStatus(), now: now)
        #expect(none.level == .warning)
        var status = BackupStatus(lastSnapshot: .init(epoch: now - 29 * 60, archive: "a", intervalSeconds: 900))
        let fresh = OperatorChecks.backupSnapshot(status, now: now)
        #expect(fresh.level == .ok && fresh.message == "newest good snapshot 29 min ago (a), one every 15 min", "\(fresh)")
        status.lastSnapshot = .init(epoch: now - 31 * 60, archive: "a", intervalSeconds: 900)
        let stale = OperatorChecks.backupSnapshot(status, now: now)
        #expect(stale.level == .alert && stale.message.contains("31 min old (over twice the interval of 15 min)"), "\(stale)")
        status.lastSnapshot = .init(epoch: now - 5 * 3600, archive: "a", intervalSeconds: 0)
        let off = OperatorChecks.backupSnapshot(status, now: now)
        #expect(off.level == .ok && off.message.contains("frequent snapshots are off"), "\(off)")
        status.lastSnapshot = .init(epoch: now - 600, archive: "a", intervalSeconds: 900)
        status.lastSnapshotFailure = .init(epoch: now - 60, job: "frequent", step: "borg create", message: "gone")
        let failed = OperatorChecks.backupSnapshot(status, now: now)
        #expect(failed.level == .alert && failed.message.contains("at step 'borg create': gone"), "\(failed)")
        status.lastSnapshot = .init(epoch: now - 10, archive: "b", intervalSeconds: 900)
        #expect(OperatorChecks.backupSnapshot(status, now: now).level == .ok)
    }
}
