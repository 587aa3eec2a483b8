import PortalWeb

extension Doctor {
    /// The password-hashing cost in force: at least OWASP's minimum, and never the tests-only
    /// escape on a real system.
    static func argon2Strength(_ environment: [String: String]) throws -> String {
        let escape = PortalConfiguration.weakArgon2Escape
        if let value = environment[escape], !value.isEmpty {
            throw DoctorFailure(
                "\(escape) is set: it lets LYNX_ARGON2 go below OWASP's minimum and is for test runs only; "
                    + "remove it from /etc/lynx-portal/portal.env and restart the portal")
        }
        let parameters = try PortalConfiguration.argon2(in: environment)
        return "Argon2id \(parameters) (at least OWASP's minimum)"
    }
}
