/// A learner's login name: 2–32 characters, lowercase letters, digits, `.`, `_`, `-`,
/// starting with a letter. Stored and compared in lowercase.
public struct Username: Sendable, Hashable, CustomStringConvertible {
    public let value: String

    public init?(_ raw: String) {
        let lowered = raw.lowercased()
        guard (2...32).contains(lowered.count), let first = lowered.unicodeScalars.first,
            ("a"..."z").contains(first),
            lowered.unicodeScalars.allSatisfy({ scalar in
                ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) || scalar == "." || scalar == "_"
                    || scalar == "-"
            })
        else { return nil }
        value = lowered
    }

    public var description: String { value }

    public static let rule = "2–32 characters: lowercase letters, digits, '.', '_' or '-', starting with a letter"
}
