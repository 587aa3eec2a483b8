import FastCGI
import Foundation
import Logging
import PasswordHashing
import PortalStore
import Testing

@testable import PortalWeb

/// A fresh directory under the system temp dir, removed by `remove()`.
private struct TemporaryDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("lynx-web-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// The repository's `templates/` directory, three levels up from this file.
let repositoryTemplates = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("templates").path

private func hex(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

private func bytes(fromBase64URL text: String) -> [UInt8]? {
    var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    while standard.count % 4 != 0 { standard += "=" }
    return Data(base64Encoded: standard).map { Array($0) }
}

@Suite("Tokens")
struct TokenTests {
    @Test func randomTokensAreFortyThreeBase64URLCharacters() {
        let token = Tokens.random()
        #expect(token.count == 43)
        #expect(token.wholeMatch(of: /[A-Za-z0-9_-]{43}/) != nil, "\(token)")
        #expect(bytes(fromBase64URL: token)?.count == 32)
        #expect(Tokens.random(bytes: 16).count == 22)
    }

    @Test func randomTokensAreDistinct() {
        let tokens = Set((0..<500).map { _ in Tokens.random() })
        #expect(tokens.count == 500)
    }

    @Test func storedHashIsTheHexSHA256() {
        #expect(Tokens.storedHash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Tokens.storedHash("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let hash = Tokens.storedHash(Tokens.random())
        #expect(hash.wholeMatch(of: /[0-9a-f]{64}/) != nil)
    }

    /// RFC 4231 test case 2.
    @Test func macMatchesTheRFC4231TestVector() throws {
        let mac = Tokens.mac("what do ya want for nothing?", key: Array("Jefe".utf8))
        #expect(!mac.contains("=") && !mac.contains("+") && !mac.contains("/"))
        let decoded = try #require(bytes(fromBase64URL: mac))
        #expect(hex(decoded) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func macDependsOnKeyAndMessage() {
        let key = Array("a session secret of 32 bytes!!!!".utf8)
        #expect(Tokens.mac("form:abc", key: key) == Tokens.mac("form:abc", key: key))
        #expect(Tokens.mac("form:abc", key: key) != Tokens.mac("form:abd", key: key))
        #expect(Tokens.mac("form:abc", key: key) != Tokens.mac("form:abc", key: Array("another secret of 32 bytes!!!!!!".utf8)))
    }
}

@Suite("Configuration")
struct PortalConfigurationTests {
    private static let pepper = "Q2hhbmdlIG1lIHRvIGEgcmVhbCByYW5kb20gdmFsdWU"
    private static let sessionSecret = "zP4k9wLq2VbN7xRt5YhJ3mC8sDf6GaKe1UoQ0iWn"
    private static let minimal = ["LYNX_PEPPER": pepper, "LYNX_SESSION_SECRET": sessionSecret]

    private func configurationError(_ environment: [String: String]) -> ConfigurationError? {
        do {
            _ = try PortalConfiguration(environment: environment)
            return nil
        } catch {
            return error
        }
    }

    private func with(_ changes: [String: String]) -> [String: String] {
        Self.minimal.merging(changes) { _, new in new }
    }

    @Test func defaultsApplyWhenOnlyTheSecretsAreSet() throws {
        let configuration = try PortalConfiguration(environment: Self.minimal)
        #expect(configuration.pepper.secret == Array(Self.pepper.utf8))
        #expect(configuration.pepper.id == PortalConfiguration.pepperID(for: Array(Self.pepper.utf8)))
        #expect(configuration.alertThresholds == .standard)
        #expect(configuration.sessionSecret == Array(Self.sessionSecret.utf8))
        #expect(configuration.previousPeppers.isEmpty)
        #expect(configuration.dataDirectory == "/var/lib/lynx-portal")
        #expect(configuration.databasePath == "/var/lib/lynx-portal/portal.db")
        #expect(configuration.auditDirectory == "/var/lib/lynx-portal/audit")
        #expect(configuration.templatesDirectory == "/opt/lynx-portal/templates")
        #expect(configuration.defaultTimeZone == "UTC")
        #expect(configuration.dayStartHour == 4)
        #expect(configuration.cookieSecure)
        #expect(!configuration.reloadTemplatesOnChange)
        #expect(configuration.argon2 == .recommended)
    }

    @Test(arguments: ["LYNX_PEPPER", "LYNX_SESSION_SECRET"])
    func aMissingSecretIsRefusedByName(variable: String) throws {
        var environment = Self.minimal
        environment[variable] = nil
        let error = try #require(configurationError(environment))
        #expect(error.variable == variable)
        #expect(error.description.hasPrefix(variable + ":"))
        environment[variable] = ""
        #expect(try #require(configurationError(environment)).variable == variable)
    }

    @Test func aThirtyOneByteSecretIsRefused() throws {
        let error = try #require(configurationError(with(["LYNX_PEPPER": "abcdefghijklmnopqrstuvwxyz01234"])))
        #expect(error.variable == "LYNX_PEPPER")
        #expect(error.description.contains("31"))
        #expect(configurationError(with(["LYNX_PEPPER": "abcdefghijklmnopqrstuvwxyz012345"])) == nil)
    }

    @Test(arguments: [
        String(repeating: "ab12", count: 12), String(repeating: "abcdefg", count: 6), String(repeating: "x", count: 64),
    ])
    func aSecretWithLittleVarietyIsRefused(secret: String) throws {
        let error = try #require(configurationError(with(["LYNX_SESSION_SECRET": secret])))
        #expect(error.variable == "LYNX_SESSION_SECRET")
    }

    @Test func settingsAreReadFromTheEnvironment() throws {
        let configuration = try PortalConfiguration(
            environment: with([
                "LYNX_DATA_DIR": "/srv/lynx", "LYNX_TEMPLATES_DIR": "/srv/lynx/templates", "LYNX_DEFAULT_TZ": "Europe/Berlin",
                "LYNX_DAY_START_HOUR": "0", "LYNX_PEPPER_ID": "3", "LYNX_ARGON2": "m=65536,t=3,p=4",
                "LYNX_DISK_MIN_FREE_PERCENT": "5", "LYNX_DISK_MIN_FREE_MB": "0", "LYNX_BACKUP_MAX_AGE_HOURS": "50",
                "LYNX_CERT_MIN_DAYS": "7",
            ]))
        #expect(configuration.databasePath == "/srv/lynx/portal.db")
        #expect(configuration.templatesDirectory == "/srv/lynx/templates")
        #expect(configuration.defaultTimeZone == "Europe/Berlin")
        #expect(configuration.dayStartHour == 0)
        // A chosen id (LYNX_PEPPER_ID, before v8) is no longer read: the id is derived.
        #expect(configuration.pepper.id.count == 16)
        #expect(
            configuration.alertThresholds
                == AlertThresholds(
                    diskMinimumFreePercent: 5, diskMinimumFreeMiB: 0, backupMaximumAgeHours: 50, certificateMinimumDays: 7))
        #expect(configuration.argon2 == Argon2Parameters(memoryKiB: 65536, iterations: 3, parallelism: 4))
    }

    @Test(
        "Argon2 costs at OWASP's minimum or above are accepted",
        arguments: [
            "m=19456,t=2,p=1", "m=47104,t=1,p=1", "m=12288,t=3,p=1", "m=9216,t=4,p=1", "m=7168,t=5,p=1", "m=19456,t=3,p=2",
        ])
    func argon2AtTheMinimumIsAccepted(text: String) throws {
        let configuration = try PortalConfiguration(environment: with(["LYNX_ARGON2": text]))
        #expect(configuration.argon2.description == text)
    }

    @Test(
        "Argon2 costs below OWASP's minimum are refused, naming the variable",
        arguments: ["m=19455,t=2,p=1", "m=19456,t=1,p=1", "m=47103,t=1,p=1", "m=7168,t=4,p=1", "m=12287,t=3,p=1", "m=64,t=1,p=1"])
    func argon2BelowTheMinimumIsRefused(text: String) throws {
        let error = try #require(configurationError(with(["LYNX_ARGON2": text])))
        #expect(error.variable == "LYNX_ARGON2")
        #expect(error.description.contains("OWASP"))
    }

    @Test func weakArgon2NeedsTheTestsOnlyEscape() throws {
        let weak = ["LYNX_ARGON2": "m=64,t=1,p=1"]
        let configuration = try PortalConfiguration(environment: with(weak.merging(["LYNX_ARGON2_ALLOW_WEAK": "test"]) { $1 }))
        #expect(configuration.argon2 == Argon2Parameters(memoryKiB: 64, iterations: 1, parallelism: 1))
        let error = try #require(configurationError(with(weak.merging(["LYNX_ARGON2_ALLOW_WEAK": "yes"]) { $1 })))
        #expect(error.variable == "LYNX_ARGON2_ALLOW_WEAK")
    }

    @Test(
        "the cookie flag reads common spellings",
        arguments: [
            ("false", false), ("0", false), ("no", false), ("OFF", false), ("true", true), ("1", true), ("yes", true), ("", true),
        ])
    func cookieSecureFlagReadsCommonSpellings(text: String, secure: Bool) throws {
        #expect(try PortalConfiguration(environment: with(["LYNX_COOKIE_SECURE": text])).cookieSecure == secure)
    }

    @Test(
        "bad settings are refused by name",
        arguments: [
            ("LYNX_COOKIE_SECURE", "maybe"),
            ("LYNX_DEFAULT_TZ", "Mars/Olympus"),
            ("LYNX_DEFAULT_TZ", "EST5EDT"),
            ("LYNX_DAY_START_HOUR", "24"),
            ("LYNX_DAY_START_HOUR", "-1"),
            ("LYNX_DAY_START_HOUR", "four"),
            ("LYNX_ARGON2", "m=64"),
            ("LYNX_ARGON2", "m=7,t=1,p=1"),
            ("LYNX_DISK_MIN_FREE_PERCENT", "100"),
            ("LYNX_DISK_MIN_FREE_MB", "lots"),
            ("LYNX_BACKUP_MAX_AGE_HOURS", "0"),
            ("LYNX_CERT_MIN_DAYS", "-3"),
        ])
    func badSettingsAreRefusedByName(variable: String, value: String) throws {
        let error = try #require(configurationError(with([variable: value])))
        #expect(error.variable == variable)
        #expect(error.description.contains(variable))
    }

    @Test func aBadTimeZoneIsQuotedInTheMessage() throws {
        let error = try #require(configurationError(with(["LYNX_DEFAULT_TZ": "Mars/Olympus"])))
        #expect(error.description.contains("Mars/Olympus"))
    }

    @Test func pepperIDsAreDerivedFromThePepperAndDifferPerPepper() {
        let one = PortalConfiguration.pepperID(for: Array("the first pepper we ever used here".utf8))
        let again = PortalConfiguration.pepperID(for: Array("the first pepper we ever used here".utf8))
        let two = PortalConfiguration.pepperID(for: Array("the second pepper, retired in spring".utf8))
        #expect(one == again && one != two)
        #expect(one.wholeMatch(of: /[0-9a-f]{16}/) != nil, "\(one)")
    }

    @Test func previousPeppersAreReadInOrderWithTheirDerivedIDs() throws {
        let first = "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5"
        let second = "c2Vjb25kLXBlcHBlci1yZXRpcmVkLWluLXNwcmluZw"
        let configuration = try PortalConfiguration(
            environment: with(["LYNX_PEPPER_PREVIOUS": " \(second)  \(first)\t\(second) "]))
        #expect(configuration.previousPeppers.map(\.secret) == [Array(second.utf8), Array(first.utf8)])
        #expect(
            configuration.previousPeppers.map(\.id) == [
                PortalConfiguration.pepperID(for: Array(second.utf8)), PortalConfiguration.pepperID(for: Array(first.utf8)),
            ])
    }

    @Test(
        "a malformed or current previous pepper is refused by name",
        arguments: [
            "short", String(repeating: "ab", count: 20), pepper, "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5 \(pepper)",
        ])
    func aBadPreviousPepperIsRefused(value: String) throws {
        let error = try #require(configurationError(with(["LYNX_PEPPER_PREVIOUS": value])))
        #expect(error.variable == "LYNX_PEPPER_PREVIOUS")
        #expect(!error.description.contains(Self.pepper), "the message must not print the secret")
    }

    @Test func legacyOldPeppersStillCountAsPreviousOnes() throws {
        let configuration = try PortalConfiguration(
            environment: with([
                "LYNX_PEPPER_ID": "3", "LYNX_PEPPER_OLD_1": "the first pepper we ever used here",
                "LYNX_PEPPER_OLD_2": "the second pepper, retired in spring",
            ]))
        #expect(
            configuration.previousPeppers.map(\.secret) == [
                Array("the first pepper we ever used here".utf8), Array("the second pepper, retired in spring".utf8),
            ])
        #expect(
            PortalConfiguration.legacyPepperSettings(in: with(["LYNX_PEPPER_ID": "3", "LYNX_PEPPER_OLD_1": "x"]))
                == ["LYNX_PEPPER_ID", "LYNX_PEPPER_OLD_1"])
    }
}

@Suite("Audit log")
struct AuditLogTests {
    private func lines(_ path: String) throws -> [[String: String]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.hasSuffix("\n"))
        return try text.split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String], "\(line)")
        }
    }

    @Test func eachEventIsOneJSONLineInTheFileForItsUTCDate() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let audit = AuditLog(directory: directory.path + "/audit")
        let late = Date(timeIntervalSince1970: 1_772_407_800)  // 2026-03-01T23:30:00Z
        audit.record(
            AuditEvent("login", username: "ada", remoteAddress: "192.0.2.7", requestID: "r-1", outcome: "success"), at: late)
        audit.record(
            AuditEvent(
                "login", username: "grace", remoteAddress: "192.0.2.8", requestID: "r-2", outcome: "failure",
                details: ["event": "forged", "reason": "wrong password"]),
            at: late.addingTimeInterval(1800))

        let events = try lines(directory.path + "/audit/2026-03-01.log")
        #expect(events.count == 1)
        let first = try #require(events.first)
        #expect(first["timestamp"] == "2026-03-01T23:30:00.000Z")
        #expect(first["event"] == "login")
        #expect(first["username"] == "ada")
        #expect(first["remote_addr"] == "192.0.2.7")
        #expect(first["request_id"] == "r-1")
        #expect(first["outcome"] == "success")

        let nextDay = try lines(directory.path + "/audit/2026-03-02.log")
        #expect(nextDay.count == 1)
        #expect(nextDay.first?["timestamp"] == "2026-03-02T00:00:00.000Z")
        #expect(nextDay.first?["username"] == "grace")
        #expect(nextDay.first?["event"] == "login", "details must not overwrite the standard fields")
        #expect(nextDay.first?["reason"] == "wrong password")
    }

    @Test func twoEventsOnOneDayAreTwoLines() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let audit = AuditLog(directory: directory.path)
        let noon = Date(timeIntervalSince1970: 1_778_414_400)  // 2026-05-10T12:00:00Z
        audit.record(AuditEvent("set_password", username: "ada", outcome: "success"), at: noon)
        audit.record(AuditEvent("logout", username: "ada", outcome: "success"), at: noon.addingTimeInterval(1))
        let events = try lines(directory.path + "/2026-05-10.log")
        #expect(events.map { $0["event"] } == ["set_password", "logout"])
    }

    @Test func concurrentRecordsAllLandAsWholeLines() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let audit = AuditLog(directory: directory.path)
        let noon = Date(timeIntervalSince1970: 1_778_414_400)
        let padding = String(repeating: "x", count: AuditLog.maximumFieldBytes)
        DispatchQueue.concurrentPerform(iterations: 200) { index in
            audit.record(
                AuditEvent(
                    "login", username: "learner\(index)", requestID: "r-\(index)", outcome: "failure", details: ["pad": padding]),
                at: noon)
        }
        let events = try lines(directory.path + "/2026-05-10.log")
        #expect(events.count == 200)
        #expect(Set(events.compactMap { $0["request_id"] }) == Set((0..<200).map { "r-\($0)" }))
        #expect(events.allSatisfy { $0["pad"] == padding })
    }
}

@Suite("Templates")
struct TemplateSetTests {
    @Test func theRepositoryTemplatesCompile() throws {
        let templates = try TemplateSet.compile(directory: repositoryTemplates)
        for name in TemplateSet.required {
            #expect(templates[name] != nil, "\(name)")
        }
    }

    @Test func aBrokenTemplateIsNamedWithItsLine() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try "<p>fine</p>\n<div>\n{{#open}}\nnever closed\n</div>\n".write(
            toFile: directory.path + "/broken.mustache", atomically: true, encoding: .utf8)
        let error = try #require(throws: TemplateError.self) { try TemplateSet.compile(directory: directory.path) }
        #expect(error.file.hasSuffix("/broken.mustache"))
        #expect(error.description.contains("broken.mustache"))
        #expect(error.description.contains("line"))
    }

    @Test func aMissingRequiredPageIsNamed() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try FileManager.default.removeItem(atPath: directory.path)
        try FileManager.default.copyItem(atPath: repositoryTemplates, toPath: directory.path)
        try FileManager.default.removeItem(atPath: directory.path + "/errors/413.mustache")
        let error = try #require(throws: TemplateError.self) { try TemplateSet.compile(directory: directory.path) }
        #expect(error.description.contains("errors/413.mustache"))
        #expect(error.description.contains("missing"))
    }

    @Test func aMissingDirectoryPointsAtTheSetting() throws {
        let error = try #require(throws: TemplateError.self) {
            try TemplateSet.compile(directory: "/nonexistent/lynx-templates-\(UUID().uuidString)")
        }
        #expect(error.description.contains("LYNX_TEMPLATES_DIR"))
    }
}

@Suite("Routing")
struct RoutingTests {
    @Test(
        "patterns capture named segments",
        arguments: [
            ("/quiz/:slug", "/quiz/phase-0", ["slug": "phase-0"]),
            ("/quiz/:slug", "/quiz/phase-0/", ["slug": "phase-0"]),
            ("/journal/:id/edit", "/journal/42/edit", ["id": "42"]),
            ("/", "/", [:]),
            ("/review", "/review", [:]),
        ])
    func patternsCaptureNamedSegments(pattern: String, path: String, captures: [String: String]) {
        #expect(RoutePattern(pattern).match(path) == captures)
    }

    @Test(
        "paths of other shapes do not match",
        arguments: [
            ("/quiz/:slug", "/quiz"),
            ("/quiz/:slug", "/quiz/a/b"),
            ("/quiz/:slug", "/quizzes/a"),
            ("/quiz/:slug", "/"),
            ("/journal/:id/edit", "/journal/42/delete"),
            ("/", "/review"),
        ])
    func pathsOfOtherShapesDoNotMatch(pattern: String, path: String) {
        #expect(RoutePattern(pattern).match(path) == nil)
    }

    private static func answering(_ text: String) -> Router.Handler {
        { _, _ in Response(status: 200, contentType: "text/plain", body: text) }
    }

    private static let router: Router = {
        var router = Router()
        router.add("/login", ["GET": answering("login form"), "POST": answering("login attempt")])
        router.add("/logout", ["POST": answering("logout")])
        router.add("/quiz/:slug", ["GET": answering("quiz")])
        return router
    }()

    @Test func anUnknownPathIsNotFound() {
        guard case .notFound = Self.router.resolve(method: "GET", path: "/nowhere") else {
            Issue.record("expected notFound")
            return
        }
    }

    @Test func aKnownPathCapturesItsSegments() {
        guard case .found(_, _, let captures) = Self.router.resolve(method: "GET", path: "/quiz/phase-0") else {
            Issue.record("expected found")
            return
        }
        #expect(captures == ["slug": "phase-0"])
    }

    @Test(
        "a method the path does not have lists the allowed ones",
        arguments: [
            ("PUT", "/login", ["GET", "POST", "HEAD"]),
            ("DELETE", "/quiz/phase-0", ["GET", "HEAD"]),
            ("GET", "/logout", ["POST"]),
            ("HEAD", "/logout", ["POST"]),
        ])
    func otherMethodsListTheAllowedOnes(method: String, path: String, allowed: [String]) {
        guard case .methodNotAllowed(let listed) = Self.router.resolve(method: method, path: path) else {
            Issue.record("expected methodNotAllowed for \(method) \(path)")
            return
        }
        #expect(listed == allowed)
    }

    @Test func headIsAnsweredByThePortalsGetHandler() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let configuration = try PortalConfiguration(environment: [
            "LYNX_PEPPER": "Q2hhbmdlIG1lIHRvIGEgcmVhbCByYW5kb20gdmFsdWU",
            "LYNX_SESSION_SECRET": "zP4k9wLq2VbN7xRt5YhJ3mC8sDf6GaKe1UoQ0iWn",
            "LYNX_DATA_DIR": directory.path, "LYNX_TEMPLATES_DIR": repositoryTemplates,
        ])
        let logger = Logger(label: "routing-tests")
        let portal = Portal(
            configuration: configuration, database: try PortalDatabase(dataDirectory: directory.path),
            templates: try TemplateSet(directory: repositoryTemplates, logger: logger), logger: logger)
        func send(_ method: String, _ path: String) -> Response {
            portal.handle(Request(params: ["REQUEST_METHOD": method, "REQUEST_URI": path], body: [], id: "t"))
        }
        // The portal's own routes: HEAD reaches the GET handler (the web server drops the body).
        let get = send("GET", "/login")
        let head = send("HEAD", "/login")
        #expect(get.status == 200)
        #expect(head.status == get.status)
        #expect(head.header("Content-Type") == get.header("Content-Type"))
        #expect(String(decoding: head.body, as: UTF8.self).contains("<form"))
        // A route without GET has no HEAD either.
        let logout = send("HEAD", "/logout")
        #expect(logout.status == 405)
        #expect(logout.header("Allow") == "POST")
    }
}

@Suite struct AuditTimestampTests {
    @Test func timestampsMatchISO8601WithMilliseconds() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        let instants: [Double] = [0, 1_795_000_000.946, 1_795_046_399.999, 951_782_400.5, 4_102_444_799.001, 86_399.9]
        for seconds in instants {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(AuditLog.timestamp(date) == formatter.string(from: date), "\(seconds)")
        }
        #expect(AuditLog.day(Date(timeIntervalSince1970: 1_795_046_399.999)) == "2026-11-18")
    }
}
