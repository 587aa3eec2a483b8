import FastCGI
import Foundation
import Logging
import PortalDomain
import PortalStore
import PortalWeb
import Synchronization

/// The portal the fuzzer drives: a temporary data directory, migrated, with the phase-0 quiz,
/// and a learner who has set a password, answered the quiz (one wrong answer: a review card)
/// and written a journal entry, so that handlers reach their deep paths. Argon2 runs at its
/// lowest cost so that fuzzed logins do not dominate the run.
///
/// Run from the repository's root (scripts/fuzz.sh does): templates and the quiz are read from
/// `templates/` and `quizzes/phase-0.gift` there.
final class FuzzPortal: Sendable {
    struct Session: Sendable {
        let token: String
        let csrf: String
    }

    static let shared = FuzzPortal()
    static let username = "fuzz-learner"
    static let password = "quiet lantern moss over the harbour 42"

    let portal: Portal
    let directory: String
    private let accounts: AccountStore
    private let learnerID: Int64
    private let session: Mutex<Session>

    private init() {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("lynx-fuzz-\(UUID().uuidString)").path
        let secret = Tokens.random(bytes: 48)
        let configuration: PortalConfiguration
        do {
            configuration = try PortalConfiguration(environment: [
                "LYNX_PEPPER": Tokens.random(bytes: 48), "LYNX_SESSION_SECRET": secret, "LYNX_DATA_DIR": directory,
                "LYNX_TEMPLATES_DIR": "templates", "LYNX_COOKIE_SECURE": "false", "LYNX_ARGON2": "m=8,t=1,p=1",
                "LYNX_ARGON2_ALLOW_WEAK": "test",
            ])
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            fatalError("fuzz setup: configuration: \(error)")
        }
        atexit { try? FileManager.default.removeItem(atPath: FuzzPortal.shared.directory) }
        var logger = Logger(label: "fuzz")
        logger.logLevel = .error
        do {
            let database = try PortalDatabase(dataDirectory: directory)
            try database.migrate()
            let text = try String(contentsOfFile: "quizzes/phase-0.gift", encoding: .utf8)
            let document = try QuizFormat.detect(fileName: "phase-0.gift", text: text).parse(text)
            let now = Int64(Date().timeIntervalSince1970)
            _ = try QuizStore(database: database).importQuiz(document, slug: "phase-0", sourceName: "phase-0.gift", now: now)
            let code = SetupCode.generate()
            accounts = AccountStore(database: database)
            learnerID = try accounts.addLearner(
                username: Self.username, timeZone: "UTC", codeHash: Tokens.storedHash(code.normalized), now: now,
                codeExpiresAt: now + 3600
            ).id
            portal = Portal(
                configuration: configuration, database: database,
                templates: try TemplateSet(directory: configuration.templatesDirectory, logger: logger), logger: logger)
            let first = try Self.firstLogin(portal, code: code.normalized, secret: Array(secret.utf8))
            session = Mutex(first)
            try Self.study(portal, database: database, session: first)
        } catch {
            fatalError("fuzz setup in \(directory): \(error)")
        }
    }

    /// The learner's session, opened afresh when a fuzzed request closed it (logout, password change).
    func currentSession() -> Session {
        session.withLock { current in
            let now = Int64(Date().timeIntervalSince1970)
            if (try? accounts.session(tokenHash: Tokens.storedHash(current.token), now: now)) != nil { return current }
            let fresh = Session(token: Tokens.random(), csrf: Tokens.random())
            do {
                try accounts.openSession(
                    .init(tokenHash: Tokens.storedHash(fresh.token), csrfToken: fresh.csrf, expiresAt: now + 86_400),
                    learnerID: learnerID, now: now)
            } catch {
                fatalError("fuzz: reopening the learner's session failed: \(error)")
            }
            current = fresh
            return fresh
        }
    }

    /// `/login` then `/set-password` with the setup code, as a new learner does.
    private static func firstLogin(_ portal: Portal, code: String, secret: [UInt8]) throws -> Session {
        let formCookie = Tokens.random()
        let csrf = Tokens.mac("form:" + formCookie, key: secret)
        let fields = [
            "csrf": csrf, "username": username, "code": code, "password": password, "confirm": password,
        ]
        let response = portal.handle(post("/set-password", fields, cookie: "lynx_form=\(formCookie)"))
        guard response.status == 303 || response.status == 200,
            let cookie = response.headers.first(where: { $0.name == "Set-Cookie" && $0.value.hasPrefix("lynx_session=") })
        else { throw SetupFailure("/set-password answered \(response.status) without a session") }
        let token = String(cookie.value.dropFirst("lynx_session=".count).prefix { $0 != ";" })
        let home = portal.handle(
            Request(
                params: ["REQUEST_METHOD": "GET", "REQUEST_URI": "/", "HTTP_COOKIE": "lynx_session=\(token)"], body: [],
                id: "setup"))
        let page = String(decoding: home.body, as: UTF8.self)
        guard let range = page.range(of: #"name="csrf" value=""#) else { throw SetupFailure("no CSRF token on /") }
        return Session(token: token, csrf: String(page[range.upperBound...].prefix { $0 != "\"" }))
    }

    /// One quiz attempt with the first question wrong, and one journal entry.
    private static func study(_ portal: Portal, database: PortalDatabase, session: Session) throws {
        guard let quiz = try QuizStore(database: database).quiz(slug: "phase-0") else { throw SetupFailure("no quiz") }
        var fields = ["csrf": session.csrf]
        for (index, question) in quiz.questions.enumerated() {
            guard let option = question.options.first(where: { $0.isCorrect == (index > 0) }) else { continue }
            fields["q\(question.id)"] = String(option.id)
        }
        let cookie = "lynx_session=\(session.token)"
        let attempt = portal.handle(post("/quiz/phase-0", fields, cookie: cookie))
        guard attempt.status == 303 else { throw SetupFailure("the quiz answered \(attempt.status)") }
        let entry = portal.handle(
            post("/journal/new", ["csrf": session.csrf, "title": "Day one", "body": "Notes."], cookie: cookie))
        guard entry.status == 303 else { throw SetupFailure("a new journal entry answered \(entry.status)") }
    }

    private static func post(_ path: String, _ fields: [String: String], cookie: String) -> Request {
        let body = fields.map { "\(URLEncoding.encode($0.key))=\(URLEncoding.encode($0.value))" }.joined(separator: "&")
        return Request(
            params: [
                "REQUEST_METHOD": "POST", "REQUEST_URI": path, "CONTENT_TYPE": "application/x-www-form-urlencoded",
                "HTTP_COOKIE": cookie, "REMOTE_ADDR": "127.0.0.1",
            ], body: Array(body.utf8), id: "setup")
    }
}

struct SetupFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
