/// How much one learner may keep: a ceiling on rows an account can add, so that one account
/// cannot fill the disk the whole class shares. Far above what a course produces.
public struct LearnerLimits: Sendable, Equatable {
    public var journalEntries: Int
    public var quizAttempts: Int

    public init(journalEntries: Int = 5_000, quizAttempts: Int = 10_000) {
        self.journalEntries = journalEntries
        self.quizAttempts = quizAttempts
    }

    public static let standard = LearnerLimits()
}

/// A create refused because the learner already has `limit` rows of this kind; nothing was written.
public struct LearnerLimitReached: Error, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case journalEntries, quizAttempts
    }

    public let kind: Kind
    public let limit: Int

    public var description: String {
        switch kind {
        case .journalEntries: "the journal already holds \(limit) entries, the most one learner may keep"
        case .quizAttempts: "\(limit) quiz attempts are already stored, the most one learner may keep"
        }
    }
}
