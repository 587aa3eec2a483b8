import Foundation
import PasswordHashing
import PortalDomain
import PortalStore

/// A configuration problem, naming the variable to fix.
public struct ConfigurationError: Error, CustomStringConvertible {
    public let variable: String
    public let problem: String

    public var description: String { "\(variable): \(problem)" }
}

/// Settings read from the environment (systemd `EnvironmentFile=/etc/lynx-portal/portal.env`).
public struct PortalConfiguration: Sendable {
    public var pepper: Pepper
    /// LYNX_PEPPER_PREVIOUS (space-separated), then any legacy LYNX_PEPPER_OLD_<id> values.
    public var previousPeppers: [Pepper]
    public var sessionSecret: [UInt8]
    public var dataDirectory: String
    public var templatesDirectory: String
    public var defaultTimeZone: String
    public var dayStartHour: Int
    public var cookieSecure: Bool
    /// Recompile templates when a file changes (development only).
    public var reloadTemplatesOnChange: Bool
    public var argon2: Argon2Parameters
    /// Failed logins and setup codes one address may make per 15 minutes; 0 turns the
    /// per-address limit off (every learner behind one NAT or proxy shares an address).
    public var loginAddressLimit: Int
    public var auditPolicy: AuditLog.Policy
    /// LYNX_MAX_JOURNAL_ENTRIES, LYNX_MAX_QUIZ_ATTEMPTS (per learner).
    public var learnerLimits: LearnerLimits
    /// LYNX_DISK_MIN_FREE_PERCENT, LYNX_DISK_MIN_FREE_MB, LYNX_BACKUP_MAX_AGE_HOURS,
    /// LYNX_CERT_MIN_DAYS: when `doctor` and `/healthz` raise an alert.
    public var alertThresholds: AlertThresholds
    /// The binary's version and commit; the executable sets it (libraries have no stamp).
    public var build = BuildInfo.unstamped

    public static let minimumSecretBytes = 32

    /// Reads the environment; refuses missing or weak secrets with the variable's name.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigurationError) {
        (pepper, previousPeppers) = try Self.peppers(in: environment)
        sessionSecret = try Self.secret("LYNX_SESSION_SECRET", in: environment)
        dataDirectory = environment["LYNX_DATA_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/var/lib/lynx-portal"
        templatesDirectory =
            environment["LYNX_TEMPLATES_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/opt/lynx-portal/templates"
        defaultTimeZone = environment["LYNX_DEFAULT_TZ"].flatMap { $0.isEmpty ? nil : $0 } ?? "UTC"
        guard TimeZoneName.zone(defaultTimeZone) != nil else {
            throw ConfigurationError(
                variable: "LYNX_DEFAULT_TZ", problem: "'\(defaultTimeZone)' is not an IANA time zone (e.g. Europe/Berlin)")
        }
        dayStartHour = 4
        if let text = environment["LYNX_DAY_START_HOUR"], !text.isEmpty {
            guard let hour = Int(text), (0...23).contains(hour) else {
                throw ConfigurationError(variable: "LYNX_DAY_START_HOUR", problem: "must be an hour from 0 to 23")
            }
            dayStartHour = hour
        }
        cookieSecure = try Self.flag("LYNX_COOKIE_SECURE", in: environment, default: true)
        reloadTemplatesOnChange = try Self.flag("LYNX_TEMPLATES_RELOAD", in: environment, default: false)
        argon2 = try Self.argon2(in: environment)
        loginAddressLimit = try Self.count("LYNX_LOGIN_ADDRESS_LIMIT", in: environment, default: 30)
        auditPolicy = AuditLog.Policy(
            retentionDays: try Self.count(
                "LYNX_AUDIT_RETENTION_DAYS", in: environment, default: AuditLog.Policy.standard.retentionDays),
            maximumBytes: try Self.bytes(
                "LYNX_AUDIT_MAX_BYTES", in: environment, default: AuditLog.Policy.standard.maximumBytes))
        learnerLimits = try Self.learnerLimits(in: environment)
        alertThresholds = try Self.alertThresholds(in: environment)
    }

    static func count(
        _ name: String, in environment: [String: String], default value: Int, allowed: ClosedRange<Int> = 0...1_000_000
    ) throws(ConfigurationError) -> Int {
        guard let text = environment[name], !text.isEmpty else { return value }
        guard let number = Int(text), allowed.contains(number) else {
            throw ConfigurationError(
                variable: name,
                problem: "expected a whole number from \(allowed.lowerBound) to \(allowed.upperBound), got '\(text.prefix(40))'")
        }
        return number
    }

    /// A size in bytes, with an optional K, M or G suffix (powers of 1024); 0 means no cap.
    static func bytes(_ name: String, in environment: [String: String], default value: Int64) throws(ConfigurationError) -> Int64
    {
        guard let text = environment[name]?.uppercased(), !text.isEmpty else { return value }
        let shifts: [Character: Int64] = ["K": 10, "M": 20, "G": 30]
        let shift = text.last.flatMap { shifts[$0] } ?? 0
        guard let number = Int64(shift > 0 ? String(text.dropLast()) : text), (0...((1 << 40) >> shift)).contains(number)
        else {
            throw ConfigurationError(
                variable: name, problem: "expected bytes, optionally with K, M or G (e.g. 256M), got '\(text.prefix(40))'")
        }
        return number << shift
    }

    static func secret(_ name: String, in environment: [String: String]) throws(ConfigurationError) -> [UInt8] {
        guard let value = environment[name], !value.isEmpty else {
            throw ConfigurationError(
                variable: name,
                problem: "is not set; put a random value of at least 32 bytes in portal.env (e.g. `openssl rand -base64 48`)")
        }
        if let problem = weakness(of: value) { throw ConfigurationError(variable: name, problem: problem) }
        return Array(value.utf8)
    }

    /// Why `value` is too weak for a secret, or nil.
    static func weakness(of value: String) -> String? {
        guard value.utf8.count >= minimumSecretBytes else {
            return "is \(value.utf8.count) bytes; it must be at least \(minimumSecretBytes) random bytes"
        }
        guard Set(value).count >= 8 else { return "does not look random; generate it with `openssl rand -base64 48`" }
        return nil
    }

    static func flag(_ name: String, in environment: [String: String], default value: Bool) throws(ConfigurationError) -> Bool {
        guard let text = environment[name]?.lowercased(), !text.isEmpty else { return value }
        switch text {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw ConfigurationError(variable: name, problem: "expected true or false, got '\(text)'")
        }
    }

    /// The escape that lets `LYNX_ARGON2` go below OWASP's minimum, for tests and fuzzers that
    /// need fast hashing. Its only accepted value is `test`; `doctor` fails while it is set.
    public static let weakArgon2Escape = "LYNX_ARGON2_ALLOW_WEAK"

    /// `LYNX_ARGON2`, or the default (OWASP's first choice). Costs below every one of OWASP's
    /// minimums are refused unless `LYNX_ARGON2_ALLOW_WEAK=test`.
    public static func argon2(in environment: [String: String]) throws(ConfigurationError) -> Argon2Parameters {
        let escape = environment[weakArgon2Escape] ?? ""
        guard escape.isEmpty || escape == "test" else {
            throw ConfigurationError(
                variable: weakArgon2Escape, problem: "only `test` is accepted (for test runs only); remove it from portal.env")
        }
        guard let text = environment["LYNX_ARGON2"], !text.isEmpty else { return .recommended }
        guard let parameters = argon2Parameters(text) else {
            throw ConfigurationError(variable: "LYNX_ARGON2", problem: "expected m=KIB,t=N,p=N (e.g. m=19456,t=2,p=1)")
        }
        guard parameters.meetsOWASPMinimum || escape == "test" else {
            throw ConfigurationError(
                variable: "LYNX_ARGON2",
                problem:
                    "\(parameters) is below OWASP's minimum for Argon2id (m=19456,t=2,p=1, or m=47104,t=1 / "
                    + "m=12288,t=3 / m=9216,t=4 / m=7168,t=5, p=1); raise it, or remove it for the default")
        }
        return parameters
    }

    static func argon2Parameters(_ text: String) -> Argon2Parameters? {
        var values: [String: UInt32] = [:]
        for field in text.split(separator: ",") {
            let pair = field.split(separator: "=")
            guard pair.count == 2, let value = UInt32(pair[1]) else { return nil }
            values[String(pair[0])] = value
        }
        guard let m = values["m"], let t = values["t"], let p = values["p"], m >= 8 * p, t >= 1, p >= 1 else { return nil }
        return Argon2Parameters(memoryKiB: m, iterations: t, parallelism: p)
    }

    public var databasePath: String { dataDirectory + "/portal.db" }
    public var auditDirectory: String { dataDirectory + "/audit" }
}

/// The release and commit the running binary was built from (the executable's stamp, see
/// scripts/stamp-build.sh), reported by `/healthz` to the operator, `doctor`, `--version` and
/// snapshot manifests.
public struct BuildInfo: Sendable, Equatable, CustomStringConvertible {
    public var version: String
    public var commit: String

    public init(version: String, commit: String) {
        self.version = version
        self.commit = commit
    }

    /// What a build without the stamp reports.
    public static let unstamped = BuildInfo(version: "dev", commit: "unknown")

    /// `0.2.0 (commit 1a2b3c4d5e6f)`: the `--version` line.
    public var description: String { "\(version) (commit \(commit))" }
}
