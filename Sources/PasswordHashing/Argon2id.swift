internal import CArgon2
import Foundation

/// Argon2id cost parameters, as stored in a PHC string.
public struct Argon2Parameters: Sendable, Equatable, CustomStringConvertible {
    /// Memory in KiB (`m`).
    public var memoryKiB: UInt32
    /// Passes over memory (`t`).
    public var iterations: UInt32
    /// Lanes (`p`).
    public var parallelism: UInt32

    public init(memoryKiB: UInt32, iterations: UInt32, parallelism: UInt32) {
        self.memoryKiB = memoryKiB
        self.iterations = iterations
        self.parallelism = parallelism
    }

    /// OWASP's first Argon2id choice: m=19456 KiB, t=2, p=1.
    public static let recommended = Argon2Parameters(memoryKiB: 19456, iterations: 2, parallelism: 1)

    /// OWASP's minimum for Argon2id (Password Storage Cheat Sheet): five equal-strength choices
    /// trading memory for passes, each with one lane.
    public static let owaspMinimums = [
        Argon2Parameters(memoryKiB: 47104, iterations: 1, parallelism: 1),
        Argon2Parameters(memoryKiB: 19456, iterations: 2, parallelism: 1),
        Argon2Parameters(memoryKiB: 12288, iterations: 3, parallelism: 1),
        Argon2Parameters(memoryKiB: 9216, iterations: 4, parallelism: 1),
        Argon2Parameters(memoryKiB: 7168, iterations: 5, parallelism: 1),
    ]

    /// True when these costs reach at least one of `owaspMinimums`.
    public var meetsOWASPMinimum: Bool { Self.owaspMinimums.contains { isAtLeast($0) } }

    /// True when every cost here is at least the matching cost in `other`.
    public func isAtLeast(_ other: Argon2Parameters) -> Bool {
        memoryKiB >= other.memoryKiB && iterations >= other.iterations && parallelism >= other.parallelism
    }

    public var description: String { "m=\(memoryKiB),t=\(iterations),p=\(parallelism)" }
}

public struct Argon2Error: Error, CustomStringConvertible {
    public let code: Int32
    public var description: String { "argon2: " + String(cString: argon2_error_message(code)) }
}

/// Raw Argon2id through libargon2's context API, the only entry point that takes a secret.
public enum Argon2id {
    /// Computes an Argon2id tag (version 0x13).
    public static func hash(
        password: [UInt8], salt: [UInt8], secret: [UInt8] = [], associatedData: [UInt8] = [],
        parameters: Argon2Parameters, length: Int = 32
    ) throws(Argon2Error) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: length)
        var password = password
        var salt = salt
        var secret = secret
        var associatedData = associatedData
        let code: Int32 = Argon2Memory.withSlot {
            output.withUnsafeMutableBufferPointer { out in
                password.withUnsafeMutableBufferPointer { pwd in
                    salt.withUnsafeMutableBufferPointer { saltBuffer in
                        secret.withUnsafeMutableBufferPointer { secretBuffer in
                            associatedData.withUnsafeMutableBufferPointer { ad in
                                var context = argon2_context()
                                context.out = out.baseAddress
                                context.outlen = UInt32(out.count)
                                context.pwd = pwd.baseAddress
                                context.pwdlen = UInt32(pwd.count)
                                context.salt = saltBuffer.baseAddress
                                context.saltlen = UInt32(saltBuffer.count)
                                context.secret = secretBuffer.count > 0 ? secretBuffer.baseAddress : nil
                                context.secretlen = UInt32(secretBuffer.count)
                                context.ad = ad.count > 0 ? ad.baseAddress : nil
                                context.adlen = UInt32(ad.count)
                                context.t_cost = parameters.iterations
                                context.m_cost = parameters.memoryKiB
                                context.lanes = parameters.parallelism
                                context.threads = parameters.parallelism
                                context.version = UInt32(ARGON2_VERSION_13.rawValue)
                                context.flags = 0  // ARGON2_DEFAULT_FLAGS: keep password and secret buffers intact
                                context.allocate_cbk = Argon2Memory.allocate
                                context.free_cbk = Argon2Memory.deallocate
                                return argon2_ctx(&context, Argon2_id)
                            }
                        }
                    }
                }
            }
        }
        guard code == ARGON2_OK.rawValue else { throw Argon2Error(code: code) }
        return output
    }
}
