import ArgumentParser
import Foundation
import PortalWeb

@main
struct LynxPortal: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lynx-portal",
        abstract: "A self-hosted learner portal: FastCGI responder and operator tools.",
        discussion: """
            Configuration comes from the environment (see deploy/portal.env.example): LYNX_PEPPER and
            LYNX_SESSION_SECRET (required for serve), LYNX_DATA_DIR, LYNX_TEMPLATES_DIR, LYNX_DEFAULT_TZ,
            LYNX_DAY_START_HOUR, LYNX_COOKIE_SECURE, LYNX_ARGON2, LYNX_LOGIN_ADDRESS_LIMIT,
            LYNX_AUDIT_RETENTION_DAYS, LYNX_AUDIT_MAX_BYTES, LYNX_MAX_JOURNAL_ENTRIES, LYNX_MAX_QUIZ_ATTEMPTS.
            """,
        version: BuildInfo.stamped.description,
        subcommands: [
            Serve.self, Migrate.self, User.self, Quiz.self, CheckTemplates.self, Doctor.self, SnapshotCommand.self,
            Routes.self,
        ]
    )
}

/// Prints an operator-facing error and exits non-zero.
func fail(_ message: String, code: Int32 = 1) -> Never {
    FileHandle.standardError.write(Data("lynx-portal: \(message)\n".utf8))
    exit(code)
}

extension ProcessInfo {
    var dataDirectory: String {
        environment["LYNX_DATA_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/var/lib/lynx-portal"
    }
}
