/// A one-time code the operator hands to a learner for the first login (or after a reset).
///
/// 16 characters from a 32-letter alphabet without look-alikes (80 bits), shown in groups of
/// four. Typing is forgiving: case, spaces and dashes are ignored.
public struct SetupCode: Sendable, Equatable, CustomStringConvertible {
    public static let alphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")
    public static let length = 16

    /// The code without separators, uppercase.
    public let normalized: String

    public static func generate() -> SetupCode {
        var generator = SystemRandomNumberGenerator()
        let characters = (0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] }
        return SetupCode(normalized: String(characters))
    }

    /// Normalizes what a learner typed; nil when it cannot be a code.
    public init?(typed: String) {
        let kept = typed.uppercased().filter { $0 != " " && $0 != "-" }
        guard kept.count == Self.length, kept.allSatisfy({ Self.alphabet.contains($0) }) else { return nil }
        normalized = kept
    }

    private init(normalized: String) {
        self.normalized = normalized
    }

    /// Grouped for reading aloud: `ABCD-EFGH-JKLM-NPQR`.
    public var description: String {
        stride(from: 0, to: normalized.count, by: 4).map { start in
            let from = normalized.index(normalized.startIndex, offsetBy: start)
            return String(normalized[from..<normalized.index(from, offsetBy: 4)])
        }.joined(separator: "-")
    }
}
