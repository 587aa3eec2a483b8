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
