import Foundation

/// An Argon2id hash in the PHC string format:
/// `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>` (unpadded standard base64).
public struct PHCString: Sendable, Equatable {
    public var parameters: Argon2Parameters
    public var salt: [UInt8]
    public var hash: [UInt8]

    public init(parameters: Argon2Parameters, salt: [UInt8], hash: [UInt8]) {
        self.parameters = parameters
        self.salt = salt
        self.hash = hash
    }

    /// Parses a stored string; nil for anything that is not a well-formed Argon2id v19 string.
    public init?(parsing text: String) {
        let parts = text.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0].isEmpty, parts[1] == "argon2id", parts[2] == "v=19" else { return nil }
        var values: [String: UInt32] = [:]
        for field in parts[3].split(separator: ",") {
            let pair = field.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, let value = UInt32(pair[1]) else { return nil }
            values[String(pair[0])] = value
        }
        guard let m = values["m"], let t = values["t"], let p = values["p"], values.count == 3,
            m >= 8 * p, t >= 1, p >= 1,
            let salt = Self.decode(parts[4]), salt.count >= 8,
            let hash = Self.decode(parts[5]), hash.count >= 16
        else { return nil }
        self.init(parameters: Argon2Parameters(memoryKiB: m, iterations: t, parallelism: p), salt: salt, hash: hash)
    }

    public var encoded: String {
        "$argon2id$v=19$\(parameters)$\(Self.encode(salt))$\(Self.encode(hash))"
    }

    static func encode(_ bytes: [UInt8]) -> String {
        var text = Data(bytes).base64EncodedString()
        while text.hasSuffix("=") { text.removeLast() }
        return text
    }

    static func decode(_ text: Substring) -> [UInt8]? {
        var padded = String(text)
        while padded.count % 4 != 0 { padded += "=" }
        return Data(base64Encoded: padded).map { Array($0) }
    }
}
