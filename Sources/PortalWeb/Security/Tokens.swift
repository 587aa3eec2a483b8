import Crypto
import Foundation

/// Random tokens and their stored forms.
public enum Tokens {
    /// 32 random bytes, base64url without padding: for session tokens and CSRF tokens.
    public static func random(bytes count: Int = 32) -> String {
        // Eight bytes per draw: each draw from the system generator is a getrandom(2) call.
        var generator = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count + 7)
        while bytes.count < count {
            withUnsafeBytes(of: generator.next() as UInt64) { bytes.append(contentsOf: $0) }
        }
        return base64URL(Array(bytes.prefix(count)))
    }

    /// Whether `byte` is in the alphabet of `random()`'s tokens (base64url).
    public static func isBase64URL(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "_"):
            true
        default: false
        }
    }

    /// What the database keeps of a session token or setup code: its SHA-256, hex.
    public static func storedHash(_ token: String) -> String {
        var token = token
        let digest = token.withUTF8 { SHA256.hash(data: UnsafeRawBufferPointer($0)) }
        return digest.withUnsafeBytes { hex($0.assumingMemoryBound(to: UInt8.self)) }
    }

    /// HMAC-SHA-256 of `message` under `key`, base64url.
    public static func mac(_ message: String, key: [UInt8]) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Array(message.utf8), using: SymmetricKey(data: key))
        return base64URL(Array(code))
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBufferPointer { hex($0) }
    }

    static func hex(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        // Every request hashes its session cookie: written in place, without a digit table array.
        String(unsafeUninitializedCapacity: bytes.count * 2) { out in
            func digit(_ value: UInt8) -> UInt8 { value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10 }
            for (index, byte) in bytes.enumerated() {
                out[2 * index] = digit(byte >> 4)
                out[2 * index + 1] = digit(byte & 0x0F)
            }
            return bytes.count * 2
        }
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
