import Foundation
import Testing

@testable import PortalWeb

@Suite("Audit log bounds")
struct AuditBoundsTests {
    private let noon = Date(timeIntervalSince1970: 1_778_414_400)  // 2026-05-10T12:00:00Z

    private final class Directory {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lynx-audit-\(UUID().uuidString)").path
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    private func lines(_ path: String) throws -> [[String: String]] {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return try text.split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String], "\(line)")
        }
    }

    private func size(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
    }

    @Test func aUsernameThatIsNotValidIsRecordedAsItsLengthAndAKeyedHash() throws {
        let directory = Directory()
        let audit = AuditLog(directory: directory.path, nameKey: Array("a key for the tests".utf8))
        let typed = String(repeating: "é", count: 30_000)
        audit.record(AuditEvent("login", username: typed, outcome: "failed"), at: noon)
        audit.record(AuditEvent("login", username: "Ada", outcome: "failed"), at: noon)
        audit.record(AuditEvent("login", username: "correct horse battery", outcome: "failed"), at: noon)
        let path = directory.path + "/2026-05-10.log"
        let events = try lines(path)
        #expect(events[0]["username"] == nil)
        #expect(events[0]["username_bytes"] == "60000")
        #expect(events[0]["username_invalid"]?.count == 16)
        #expect(events[1]["username"] == "ada")
        #expect(events[2]["username"] == nil && events[2]["username_bytes"] == "21")
        #expect(!(try String(contentsOfFile: path, encoding: .utf8)).contains("horse"))
        #expect(size(path) < 600)
    }

    @Test func everyFieldThatCanCarryClientTextIsBounded() throws {
        let directory = Directory()
        let audit = AuditLog(directory: directory.path)
        let long = String(repeating: "x", count: 50_000)
        var details: [String: String] = [:]
        for index in 0..<100 { details["key\(index)" + long] = long }
        audit.record(
            AuditEvent("login", username: "ada", remoteAddress: long, requestID: long, outcome: long, details: details), at: noon)
        let path = directory.path + "/2026-05-10.log"
        let event = try #require(try lines(path).first)
        #expect(event["remote_addr"]?.hasPrefix("invalid:") == true)
        #expect(event.values.allSatisfy { $0.utf8.count <= AuditLog.maximumFieldBytes })
        #expect(size(path) < 8000)
    }

    @Test func repeatedThrottledAttemptsCollapseIntoOneLinePerKeyAndWindow() throws {
        let directory = Directory()
        let audit = AuditLog(directory: directory.path)
        func throttled(_ key: String, at seconds: Double) {
            var event = AuditEvent("login", username: "ada", remoteAddress: "192.0.2.7", outcome: "throttled")
            event.throttled = (key, 60)
            audit.record(event, at: noon.addingTimeInterval(seconds))
        }
        for second in 0..<50 { throttled("login:ada", at: Double(second)) }
        throttled("login-addr:192.0.2.7", at: 10)
        let path = directory.path + "/2026-05-10.log"
        #expect(try lines(path).count == 2)
        throttled("login:ada", at: 70)
        let events = try lines(path)
        #expect(events.count == 3)
        #expect(events[2]["throttled_repeats"] == "49")
        #expect(events[2]["throttled_since"] == "2026-05-10T12:00:00.000Z")
    }

    @Test func aCountStillPendingIsWrittenOnTheNextLineForItsKey() throws {
        let directory = Directory()
        let audit = AuditLog(directory: directory.path)
        for second in 0..<5 {
            var event = AuditEvent("login", username: "ada", outcome: "throttled")
            event.throttled = ("login:ada", 900)
            audit.record(event, at: noon.addingTimeInterval(Double(second)))
        }
        var failed = AuditEvent("login", username: "ada", outcome: "failed")
        failed.throttleKey = "login:ada"
        audit.record(failed, at: noon.addingTimeInterval(1000))
        let events = try lines(directory.path + "/2026-05-10.log")
        #expect(events.map { $0["outcome"] } == ["throttled", "failed"])
        #expect(events[1]["throttled_repeats"] == "4")
    }

    @Test func countsOfEndedWindowsAreWrittenEvenWhenTheKeyGoesQuiet() throws {
        let directory = Directory()
        let audit = AuditLog(directory: directory.path)
        for second in 0..<10 {
            var event = AuditEvent("login", username: "ada", outcome: "throttled")
            event.throttled = ("login:ada", 60)
            audit.record(event, at: noon.addingTimeInterval(Double(second)))
        }
        for index in 0..<64 {
            audit.record(
                AuditEvent("logout", username: "grace", outcome: "succeeded"), at: noon.addingTimeInterval(100 + Double(index)))
        }
        let events = try lines(directory.path + "/2026-05-10.log")
        #expect(events.filter { $0["username"] == "ada" }.map { $0["throttled_repeats"] } == [nil, "9"])
    }

    @Test func filesPastTheRetentionAreDeletedOnTheFirstEventOfADay() throws {
        let directory = Directory()
        try FileManager.default.createDirectory(atPath: directory.path, withIntermediateDirectories: true)
        for day in ["2026-05-01", "2026-05-03", "2026-05-04", "2026-05-09"] {
            FileManager.default.createFile(atPath: "\(directory.path)/\(day).log", contents: Data("{}\n".utf8))
        }
        for other in ["notes.txt", "0000000000.log"] {
            FileManager.default.createFile(atPath: "\(directory.path)/\(other)", contents: Data())
        }
        let audit = AuditLog(directory: directory.path, policy: AuditLog.Policy(retentionDays: 7, maximumBytes: 0))
        audit.record(AuditEvent("logout", username: "ada", outcome: "succeeded"), at: noon)
        let left = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(left == ["0000000000.log", "2026-05-04.log", "2026-05-09.log", "2026-05-10.log", "notes.txt"])
    }

    @Test func overTheByteCapRefusalsAreCountedNotWritten() throws {
        let directory = Directory()
        let audit = AuditLog(directory: directory.path, policy: AuditLog.Policy(retentionDays: 0, maximumBytes: 4000))
        for index in 0..<1000 {
            audit.record(AuditEvent("login", username: "u\(index)", remoteAddress: "192.0.2.7", outcome: "failed"), at: noon)
        }
        audit.record(AuditEvent("login", username: "ada", outcome: "succeeded"), at: noon)
        let today = directory.path + "/2026-05-10.log"
        #expect(size(today) < 4000 + 200)
        #expect(try lines(today).last?["outcome"] == "succeeded", "other events are still written")
        audit.record(AuditEvent("logout", username: "ada", outcome: "succeeded"), at: noon.addingTimeInterval(86400))
        let dropped = try #require(try lines(directory.path + "/2026-05-11.log").first)
        #expect(dropped["event"] == "audit_refusals_dropped")
        #expect(Int(dropped["count"] ?? "") ?? 0 > 900)
    }

    @Test func anEventThatCannotBeWrittenIsReportedUntilWritesSucceedAgain() throws {
        let directory = Directory()
        // A regular file where the directory should be: fails for root too, unlike chmod.
        FileManager.default.createFile(atPath: directory.path, contents: Data())
        let audit = AuditLog(directory: directory.path)
        #expect(audit.writeFailure(at: noon) == nil)
        audit.record(AuditEvent("logout", username: "ada", outcome: "succeeded"), at: noon)
        audit.record(AuditEvent("logout", username: "grace", outcome: "succeeded"), at: noon)
        let problem = try #require(audit.writeFailure(at: noon))
        #expect(problem.contains("Not a directory"))
        try FileManager.default.removeItem(atPath: directory.path)
        #expect(audit.writeFailure(at: noon.addingTimeInterval(5)) == nil)
        let gap = try #require(try lines(directory.path + "/2026-05-10.log").first)
        #expect(gap["event"] == "audit_gap" && gap["lost"] == "2" && gap["since"] == "2026-05-10T12:00:00.000Z")
    }
}

@Suite("Abuse settings")
struct AbuseSettingsTests {
    private let secrets = [
        "LYNX_PEPPER": "pepper-0123456789abcdefghijklmnopqrstuv",
        "LYNX_SESSION_SECRET": "session-0123456789abcdefghijklmnopqrstuv",
    ]

    @Test func defaultsKeepHalfAYearCapAtTwoHundredFiftySixMebibytesAndLimitAddresses() throws {
        let configuration = try PortalConfiguration(environment: secrets)
        #expect(configuration.auditPolicy == AuditLog.Policy(retentionDays: 180, maximumBytes: 256 << 20))
        #expect(configuration.loginAddressLimit == 30)
    }

    @Test func settingsAreReadWithSizeSuffixes() throws {
        let configuration = try PortalConfiguration(
            environment: secrets.merging(
                ["LYNX_AUDIT_RETENTION_DAYS": "30", "LYNX_AUDIT_MAX_BYTES": "64M", "LYNX_LOGIN_ADDRESS_LIMIT": "0"]
            ) { $1 })
        #expect(configuration.auditPolicy == AuditLog.Policy(retentionDays: 30, maximumBytes: 64 << 20))
        #expect(configuration.loginAddressLimit == 0)
    }

    @Test(arguments: [
        ("LYNX_AUDIT_MAX_BYTES", "lots"), ("LYNX_AUDIT_MAX_BYTES", "99999999999G"), ("LYNX_AUDIT_RETENTION_DAYS", "-1"),
        ("LYNX_LOGIN_ADDRESS_LIMIT", "many"),
    ])
    func badSettingsAreRefusedByName(variable: String, value: String) {
        #expect(throws: ConfigurationError.self) {
            try PortalConfiguration(environment: secrets.merging([variable: value]) { $1 })
        }
        do {
            _ = try PortalConfiguration(environment: secrets.merging([variable: value]) { $1 })
        } catch {
            #expect(error.variable == variable)
        }
    }
}
