import ArgumentParser
import Foundation
import PortalDomain
import PortalStore
import PortalWeb

struct User: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage learner accounts.",
        subcommands: [Add.self, Reset.self, List.self, Disable.self])

    /// Setup codes expire after seven days.
    static let codeLifetime: Int64 = 7 * 24 * 3600

    static func open() -> (AccountStore, AuditLog) {
        let directory = ProcessInfo.processInfo.dataDirectory
        let database = SchemaGate.openCurrent(dataDirectory: directory)
        return (AccountStore(database: database), AuditLog(directory: directory + "/audit"))
    }

    static func username(_ raw: String) -> Username {
        guard let name = Username(raw) else { fail("'\(raw)' is not a valid username: \(Username.rule)") }
        return name
    }

    static func printCode(_ code: SetupCode, expiresAt: Int64) {
        let formatter = ISO8601DateFormatter()
        print("setup code: \(code)")
        print("expires: \(formatter.string(from: Date(timeIntervalSince1970: TimeInterval(expiresAt))))")
        print("The learner opens /login, enters the username with an empty password, then this code and a new password.")
    }

    static var operatorName: String { ProcessInfo.processInfo.environment["SUDO_USER"] ?? "operator" }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a learner and print a one-time setup code.")

        @Argument(help: "Username: \(Username.rule).")
        var name: String

        @Option(help: "The learner's IANA time zone, e.g. Australia/Sydney (default $LYNX_DEFAULT_TZ or UTC).")
        var tz: String?

        func run() throws {
            let username = User.username(name)
            let zone = tz ?? ProcessInfo.processInfo.environment["LYNX_DEFAULT_TZ"].flatMap { $0.isEmpty ? nil : $0 } ?? "UTC"
            guard TimeZoneName.zone(zone) != nil else {
                fail("'\(zone)' is not an IANA time zone name (e.g. Europe/Berlin, America/Los_Angeles)")
            }
            let (accounts, audit) = User.open()
            let code = SetupCode.generate()
            let now = Int64(Date().timeIntervalSince1970)
            do {
                _ = try accounts.addLearner(
                    username: username.value, timeZone: zone, codeHash: Tokens.storedHash(code.normalized), now: now,
                    codeExpiresAt: now + User.codeLifetime)
            } catch let error as AccountError {
                audit.record(AuditEvent("user_created", username: username.value, remoteAddress: "cli", outcome: "failed"))
                fail("\(error)")
            }
            audit.record(
                AuditEvent(
                    "user_created", username: username.value, remoteAddress: "cli", outcome: "succeeded",
                    details: ["time_zone": zone, "by": User.operatorName]))
            print("created learner \(username.value) (time zone \(zone))")
            User.printCode(code, expiresAt: now + User.codeLifetime)
        }
    }

    struct Reset: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue a new setup code: clears the password and ends the learner's sessions.")

        @Argument var name: String

        func run() throws {
            let username = User.username(name)
            let (accounts, audit) = User.open()
            let code = SetupCode.generate()
            let now = Int64(Date().timeIntervalSince1970)
            do {
                try accounts.resetLearner(
                    username: username.value, codeHash: Tokens.storedHash(code.normalized), now: now,
                    codeExpiresAt: now + User.codeLifetime)
            } catch let error as AccountError {
                fail("\(error)")
            }
            audit.record(
                AuditEvent(
                    "user_reset", username: username.value, remoteAddress: "cli", outcome: "succeeded",
                    details: ["by": User.operatorName]))
            print("reset learner \(username.value): password cleared, sessions ended")
            User.printCode(code, expiresAt: now + User.codeLifetime)
        }
    }

    struct Disable: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Disable a learner: no more logins, sessions ended, data kept (`user reset` re-enables).")

        @Argument var name: String

        func run() throws {
            let username = User.username(name)
            let (accounts, audit) = User.open()
            do {
                try accounts.disableLearner(username: username.value)
            } catch let error as AccountError {
                fail("\(error)")
            }
            audit.record(
                AuditEvent(
                    "user_disabled", username: username.value, remoteAddress: "cli", outcome: "succeeded",
                    details: ["by": User.operatorName]))
            print("disabled learner \(username.value)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List learners and the state of their accounts.")

        func run() throws {
            let (accounts, _) = User.open()
            let learners = try accounts.learners()
            if learners.isEmpty {
                print("no learners yet (add one with `lynx-portal user add NAME --tz ZONE`)")
                return
            }
            let now = Int64(Date().timeIntervalSince1970)
            let width = max(8, learners.map(\.username.count).max() ?? 8)
            print("USERNAME".padding(toLength: width + 2, withPad: " ", startingAt: 0) + "TIME ZONE                       STATE")
            for learner in learners {
                let state: String
                if learner.disabled {
                    state = "disabled"
                } else if learner.hasPassword {
                    state = "active"
                } else if let code = try accounts.setupCode(learnerID: learner.id) {
                    state = code.expiresAt > now ? "waiting for first login (code valid)" : "setup code expired (use user reset)"
                } else {
                    state = "no password, no code (use user reset)"
                }
                print(
                    learner.username.padding(toLength: width + 2, withPad: " ", startingAt: 0)
                        + learner.timeZone.padding(toLength: 32, withPad: " ", startingAt: 0) + state)
            }
        }
    }
}
