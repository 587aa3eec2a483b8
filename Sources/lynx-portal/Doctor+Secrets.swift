import Foundation
import PortalWeb

extension Doctor {
    /// Secrets must be strong, not merely long: docs/ARCHITECTURE.md asks for at least 32 random bytes
    /// (256 bits) each, varied, and never the same value twice (the pepper and the session secret
    /// protect different things).
    static let minimumSecretBits = 256

    static func secretsStrength(_ environment: [String: String]) throws -> String {
        let names = ["LYNX_PEPPER", "LYNX_SESSION_SECRET"]
        var estimates: [String] = []
        for name in names {
            let value = environment[name] ?? ""
            let bits = estimatedBits(value)
            guard bits >= minimumSecretBits else {
                // A new pepper makes every stored hash unverifiable unless the old one is kept.
                let rotation =
                    name == "LYNX_PEPPER"
                    ? " (keep the old value in LYNX_PEPPER_PREVIOUS, see deploy/README.md, Rotating secrets)"
                    : ""
                throw DoctorFailure(
                    "\(name) is not strong: about \(bits) bits (too short, too few different characters or a "
                        + "repeating pattern), \(minimumSecretBits) needed; put `openssl rand -base64 48` in "
                        + "/etc/lynx-portal/portal.env\(rotation) and restart the portal")
            }
            estimates.append("\(name) ~\(bits) bits")
        }
        guard environment[names[0]] != environment[names[1]] else {
            throw DoctorFailure("LYNX_PEPPER and LYNX_SESSION_SECRET are the same value: give each its own random value")
        }
        return estimates.joined(separator: ", ") + ", distinct"
    }

    /// An estimate of a secret's entropy: its length times the bits per character of the smallest
    /// usual alphabet holding all its characters (hex 4, base64 6, printable ASCII 6.6), and zero
    /// for strings that do not look random: a repeating pattern, or far fewer different
    /// characters than a random string of that length from that alphabet would have.
    static func estimatedBits(_ value: String) -> Int {
        let characters = Array(value.unicodeScalars.filter { $0 != "=" })
        guard characters.count >= 8 else { return 0 }
        let hex = Set("0123456789abcdefABCDEF".unicodeScalars)
        let base64 = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_".unicodeScalars)
        let alphabet: Double =
            if characters.allSatisfy({ hex.contains($0) }) {
                16
            } else if characters.allSatisfy({ base64.contains($0) }) {
                64
            } else {
                95
            }
        let length = Double(characters.count)
        let expectedDistinct = alphabet * (1 - pow(1 - 1 / alphabet, length))
        guard Double(Set(characters).count) >= expectedDistinct / 2, !isPeriodic(characters) else { return 0 }
        return Int(length * log2(alphabet))
    }

    /// True when the string is a shorter string repeated, fully or partly ("abcabcab").
    static func isPeriodic(_ characters: [Unicode.Scalar]) -> Bool {
        let count = characters.count
        return (1...max(1, count / 2)).contains { period in
            (period..<count).allSatisfy { characters[$0] == characters[$0 - period] }
        }
    }
}
