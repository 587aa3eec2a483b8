import PortalStore

extension PortalConfiguration {
    /// Per-learner ceilings; the defaults are documented in README.md.
    static func learnerLimits(in environment: [String: String]) throws(ConfigurationError) -> LearnerLimits {
        var limits = LearnerLimits.standard
        limits.journalEntries = try count(
            "LYNX_MAX_JOURNAL_ENTRIES", in: environment, default: limits.journalEntries, allowed: 1...1_000_000)
        limits.quizAttempts = try count(
            "LYNX_MAX_QUIZ_ATTEMPTS", in: environment, default: limits.quizAttempts, allowed: 1...1_000_000)
        return limits
    }
}

extension PortalConfiguration {
    /// When `doctor` and `/healthz` raise an alert; the defaults are documented in README.md.
    static func alertThresholds(in environment: [String: String]) throws(ConfigurationError) -> AlertThresholds {
        var thresholds = AlertThresholds.standard
        thresholds.diskMinimumFreePercent = try count(
            "LYNX_DISK_MIN_FREE_PERCENT", in: environment, default: thresholds.diskMinimumFreePercent, allowed: 0...99)
        thresholds.diskMinimumFreeMiB = try count(
            "LYNX_DISK_MIN_FREE_MB", in: environment, default: thresholds.diskMinimumFreeMiB, allowed: 0...10_000_000)
        thresholds.backupMaximumAgeHours = try count(
            "LYNX_BACKUP_MAX_AGE_HOURS", in: environment, default: thresholds.backupMaximumAgeHours, allowed: 1...10_000)
        thresholds.certificateMinimumDays = try count(
            "LYNX_CERT_MIN_DAYS", in: environment, default: thresholds.certificateMinimumDays, allowed: 1...365)
        return thresholds
    }
}
