import PortalStore

extension PortalConfiguration {
    /// Per-learner ceilings; the defaults are documented in README.md.
    static func learnerLimits(in environment: [String: String]) throws(ConfigurationError) -> LearnerLimits {
        var limits = LearnerLimits.standard
        limits.journalEntries = try count("LYNX_MAX_JOURNAL_ENTRIES", in: environment, default: limits.journalEntries)
        limits.quizAttempts = try count("LYNX_MAX_QUIZ_ATTEMPTS", in: environment, default: limits.quizAttempts)
        return limits
    }

    private static func count(_ name: String, in environment: [String: String], default value: Int) throws(ConfigurationError)
        -> Int
    {
        guard let text = environment[name], !text.isEmpty else { return value }
        guard text.utf8.count <= 9, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            let number = Int(text), number >= 1
        else {
            throw ConfigurationError(variable: name, problem: "expected a whole number from 1 to 999999999, got '\(text)'")
        }
        return number
    }
}
