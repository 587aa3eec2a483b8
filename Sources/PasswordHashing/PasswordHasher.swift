/// A server-side pepper with the id stored beside each hash, so peppers can rotate. The portal
/// derives the id from the secret (PortalConfiguration.pepperID), so a changed pepper always has
/// a new id.
public struct Pepper: Sendable {
    public let id: String
    public let secret: [UInt8]

    public init(id: String, secret: [UInt8]) {
        self.id = id
        self.secret = secret
    }
}

/// The outcome of checking a password against a stored hash.
public enum PasswordVerification: Sendable, Equatable {
    case mismatch
    /// The password is right under the pepper `pepperID`; `needsRehash` when the stored
    /// parameters are below the configured ones or that pepper is not the current one.
    case match(needsRehash: Bool, pepperID: String)
}

/// Hashes and verifies passwords: Argon2id, 16-byte random salt, pepper as libargon2's secret.
public struct PasswordHasher: Sendable {
    public let parameters: Argon2Parameters
    public let pepper: Pepper
    /// Earlier peppers (LYNX_PEPPER_PREVIOUS), in the order given, still accepted on verify.
    public let previousPeppers: [Pepper]

    public init(parameters: Argon2Parameters = .recommended, pepper: Pepper, previousPeppers: [Pepper] = []) {
        self.parameters = parameters
        self.pepper = pepper
        self.previousPeppers = previousPeppers.filter { $0.id != pepper.id }
    }

    /// The most Argon2 computations one `verify` runs: one per configured pepper, spent only on a
    /// hash whose pepper is not recorded (stored before pepper ids were derived, v8).
    public var maximumHashesPerVerification: Int { 1 + previousPeppers.count }

    /// A new PHC string for `password` under the current pepper (whose id the caller stores).
    public func hash(_ password: String) throws(Argon2Error) -> String {
        var generator = SystemRandomNumberGenerator()
        let salt = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let tag = try Argon2id.hash(
            password: Array(password.utf8), salt: salt, secret: pepper.secret, parameters: parameters)
        return PHCString(parameters: parameters, salt: salt, hash: tag).encoded
    }

    /// Checks `password` against `stored`, using the parameters read back from the string.
    /// A recorded pepper id picks its pepper (one Argon2 run); an id no configured pepper has
    /// cannot match, and costs one run like a wrong password. No id (`nil`): the current
    /// pepper, then each previous one, so at most `maximumHashesPerVerification` runs.
    public func verify(_ password: String, against stored: String, pepperID: String?) -> PasswordVerification {
        guard let phc = PHCString(parsing: stored) else {
            verifyAgainstDummy(password)
            return .mismatch
        }
        let candidates: [Pepper]
        if let pepperID {
            candidates = ([pepper] + previousPeppers).filter { $0.id == pepperID }
            if candidates.isEmpty {
                verifyAgainstDummy(password)
                return .mismatch
            }
        } else {
            candidates = [pepper] + previousPeppers
        }
        for candidate in candidates {
            guard
                let tag = try? Argon2id.hash(
                    password: Array(password.utf8), salt: phc.salt, secret: candidate.secret,
                    parameters: phc.parameters, length: phc.hash.count),
                ConstantTime.equal(tag, phc.hash)
            else { continue }
            return .match(
                needsRehash: !phc.parameters.isAtLeast(parameters) || candidate.id != pepper.id, pepperID: candidate.id)
        }
        return .mismatch
    }

    /// Spends the same work as a real verification, for unknown usernames, so response times
    /// do not reveal which usernames exist.
    public func verifyAgainstDummy(_ password: String) {
        let salt = [UInt8](repeating: 0x5A, count: 16)
        _ = try? Argon2id.hash(password: Array(password.utf8), salt: salt, secret: pepper.secret, parameters: parameters)
    }
}

/// Comparisons whose time does not depend on where the inputs differ.
public enum ConstantTime {
    public static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    public static func equal(_ a: String, _ b: String) -> Bool {
        equal(Array(a.utf8), Array(b.utf8))
    }
}
