import Crypto
import PasswordHashing

extension PortalConfiguration {
    /// The id stored beside each hash: the first 16 hex digits of HMAC-SHA-256 keyed with the
    /// pepper over a fixed label. Derived, never chosen, so a new pepper always gets a new id and
    /// the id tells nothing about the pepper.
    public static func pepperID(for secret: [UInt8]) -> String {
        let code = HMAC<SHA256>.authenticationCode(
            for: Array("lynx-portal pepper id".utf8), using: SymmetricKey(data: secret))
        return String(Tokens.hex(Array(code)).prefix(16))
    }

    /// LYNX_PEPPER, and the earlier peppers still accepted at login: LYNX_PEPPER_PREVIOUS
    /// (space-separated, each as strong as a pepper must be, none equal to the current one),
    /// then values of the form LYNX_PEPPER_OLD_<id> that releases before derived ids read
    /// (accepted, reported by `doctor`). LYNX_PEPPER_ID, their chosen id, is no longer read.
    static func peppers(in environment: [String: String]) throws(ConfigurationError) -> (Pepper, [Pepper]) {
        let secret = try secret("LYNX_PEPPER", in: environment)
        let current = Pepper(id: pepperID(for: secret), secret: secret)
        var previous: [Pepper] = []
        let name = "LYNX_PEPPER_PREVIOUS"
        for (index, value) in (environment[name] ?? "").split(whereSeparator: { $0 == " " || $0 == "\t" }).enumerated() {
            let position = "value \(index + 1)"
            if let problem = weakness(of: String(value)) {
                throw ConfigurationError(variable: name, problem: "\(position) \(problem)")
            }
            let old = Array(value.utf8)
            guard old != secret else {
                throw ConfigurationError(
                    variable: name,
                    problem: "\(position) is the current LYNX_PEPPER: set a new LYNX_PEPPER, or remove it from \(name)")
            }
            let pepper = Pepper(id: pepperID(for: old), secret: old)
            if !previous.contains(where: { $0.id == pepper.id }) { previous.append(pepper) }
        }
        for (key, value) in environment.sorted(by: { $0.key < $1.key })
        where key.hasPrefix("LYNX_PEPPER_OLD_") && !value.isEmpty {
            let old = Array(value.utf8)
            let pepper = Pepper(id: pepperID(for: old), secret: old)
            if old != secret, !previous.contains(where: { $0.id == pepper.id }) { previous.append(pepper) }
        }
        return (current, previous)
    }

    /// Names of settings from before derived pepper ids that are still in the environment.
    public static func legacyPepperSettings(in environment: [String: String]) -> [String] {
        environment.keys.filter { $0 == "LYNX_PEPPER_ID" || $0.hasPrefix("LYNX_PEPPER_OLD_") }.sorted()
    }
}
