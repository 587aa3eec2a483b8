/// Why a chosen password is refused, in words a learner can act on.
public enum PasswordProblem: Error, Equatable, Sendable, CustomStringConvertible {
    case tooShort(minimum: Int)
    case tooLong(maximum: Int)
    case containsUsername
    case common
    case confirmationDiffers

    public var description: String {
        switch self {
        case .tooShort(let minimum): "Use at least \(minimum) characters. A few ordinary words in a row make a good password."
        case .tooLong(let maximum): "Use at most \(maximum) characters."
        case .containsUsername: "Your password must not be or contain your username."
        case .common: "That password is too common or too easy to guess. Choose another."
        case .confirmationDiffers: "The two passwords do not match."
        }
    }
}

/// Password rules after NIST SP 800-63B-4: length 15–256 (counted in characters), no
/// composition rules, never truncated, the username and common or trivial passwords refused
/// (`CommonPasswords` says exactly which).
public enum PasswordPolicy {
    public static let minimumLength = 15
    public static let maximumLength = 256

    public static func check(_ password: String, confirmation: String? = nil, username: String) -> PasswordProblem? {
        if let confirmation, confirmation != password { return .confirmationDiffers }
        let length = password.count
        if length < minimumLength { return .tooShort(minimum: minimumLength) }
        if length > maximumLength { return .tooLong(maximum: maximumLength) }
        let lowered = password.lowercased()
        if !username.isEmpty, lowered.contains(username.lowercased()) { return .containsUsername }
        if isTrivial(lowered) || CommonPasswords.contains(lowered) { return .common }
        return nil
    }

    /// A single repeated character or a short block repeated ("abcabcabc…"), or a run of
    /// consecutive keys/digits.
    static func isTrivial(_ password: String) -> Bool {
        let characters = Array(password)
        for blockLength in 1...4 where characters.indices.allSatisfy({ characters[$0] == characters[$0 % blockLength] }) {
            return true
        }
        let scalars = password.unicodeScalars.map(\.value)
        let ascending = zip(scalars, scalars.dropFirst()).allSatisfy { $1 == $0 + 1 }
        let descending = zip(scalars, scalars.dropFirst()).allSatisfy { $0 == $1 + 1 }
        return ascending || descending
    }
}
