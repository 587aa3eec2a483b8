/// A server-side pepper with the id stored beside each hash, so peppers can rotate.
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
    /// The password is right; `needsRehash` when the stored parameters are below the
    /// configured ones or the hash used an older pepper.
    case match(needsRehash: Bool)
}

/// Hashes and verifies passwords: Argon2id, 16-byte random salt, pepper as libargon2's secret.
public struct PasswordHasher: Sendable {
    public let parameters: Argon2Parameters
    public let pepper: Pepper
    /// Earlier peppers, by id, still accepted on verify.
    public let previousPeppers: [String: [UInt8]]

    public init(parameters: Argon2Parameters = .recommended, pepper: Pepper, previousPeppers: [String: [UInt8]] = [:]) {
        self.parameters = parameters
        self.pepper = pepper
        self.previousPeppers = previousPeppers
    }

    /// A new PHC string for `password` under the current pepper (whose id the caller stores).
    public func hash(_ password: String) throws(Argon2Error) -> String {
        var generator = SystemRandomNumberGenerator()
        let salt = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let tag = try Argon2id.hash(
            password: Array(password.utf8), salt: salt, secret: pepper.secret, parameters: parameters)
        return PHCString(parameters: parameters, salt: salt, hash: tag).encoded
    }

    /// Checks `password` against `stored`, using the parameters read back from the string.
    public func verify(_ password: String, against stored: String, pepperID: String) -> PasswordVerification {
        guard let phc = PHCString(parsing: stored) else { return .mismatch }
        let secret: [UInt8]
        if pepperID == pepper.id {
            secret = pepper.secret
        } else if let previous = previousPeppers[pepperID] {
            secret = previous
        } else {
            return .mismatch
        }
        guard
            let tag = try? Argon2id.hash(
                password: Array(password.utf8), salt: phc.salt, secret: secret,
                parameters: phc.parameters, length: phc.hash.count),
            ConstantTime.equal(tag, phc.hash)
        else { return .mismatch }
        return .match(needsRehash: !phc.parameters.isAtLeast(parameters) || pepperID != pepper.id)
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
