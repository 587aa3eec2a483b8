import FastCGI
import Foundation
import GRDB
import Logging
import PasswordHashing
import PortalDomain
import PortalStore

/// The portal as a FastCGI request handler: decoding and limits, routing, sessions, CSRF,
/// security headers, error pages.
public final class Portal: RequestHandler {
    public let configuration: PortalConfiguration
    public let database: PortalDatabase
    public let templates: TemplateSet
    public let audit: AuditLog
    let accounts: AccountStore
    let quizzes: QuizStore
    let study: StudyStore
    let journal: JournalStore
    let hasher: PasswordHasher
    let throttle = Throttle()
    let logger: Logger

    /// The session cookie's name (`cookieName("lynx_session")`).
    let sessionCookie: String
    /// The anonymous form cookie's name, for CSRF before signing in (`cookieName("lynx_form")`).
    let formCookie: String
    static let contentSecurityPolicy =
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        + "frame-ancestors 'none'; base-uri 'none'"

    /// On every response, encoded once.
    static let securityHeaders = HeaderBlock([
        ("Content-Security-Policy", contentSecurityPolicy), ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"), ("X-Frame-Options", "DENY"),
    ])
    static let responseHeaderNames = securityHeaders.names + ["X-Request-Id"]

    public init(configuration: PortalConfiguration, database: PortalDatabase, templates: TemplateSet, logger: Logger) {
        self.configuration = configuration
        self.database = database
        self.templates = templates
        self.logger = logger
        audit = AuditLog(
            directory: configuration.auditDirectory, policy: configuration.auditPolicy,
            nameKey: Array(Tokens.mac("audit-names", key: configuration.sessionSecret).utf8), logger: logger)
        accounts = AccountStore(database: database)
        quizzes = QuizStore(database: database)
        study = StudyStore(database: database, limits: configuration.learnerLimits)
        journal = JournalStore(database: database, limits: configuration.learnerLimits)
        hasher = PasswordHasher(
            parameters: configuration.argon2, pepper: configuration.pepper,
            previousPeppers: configuration.previousPeppers)
        sessionCookie = Self.cookieName("lynx_session", secure: configuration.cookieSecure)
        formCookie = Self.cookieName("lynx_form", secure: configuration.cookieSecure)
    }

    public func handle(_ request: Request) -> Response {
        var response: Response
        var exchange: Exchange?
        do {
            // A page view reads its session and its page from one snapshot, in one transaction
            // (GET handlers do not write).
            response = try request.method == "GET" ? database.readScope(serve) : serve()
            func serve() throws -> Response {
                var current = try prepare(request)
                exchange = current
                let response = try dispatch(&current)
                exchange = current
                return response
            }
        } catch let error as HTTPError {
            response = errorPage(error, request: request, exchange: exchange)
        } catch let error as DatabaseError where Self.isUnavailable(error) {
            logger.error("database unavailable", metadata: ["request_id": "\(request.id)", "error": "\(error)"])
            response = errorPage(HTTPError(503), request: request, exchange: exchange)
        } catch {
            logger.error(
                "request failed",
                metadata: ["request_id": "\(request.id)", "path": "\(request.rawPath)", "error": "\(error)"])
            response = errorPage(HTTPError(500), request: request, exchange: exchange)
        }
        if let exchange { recordActivity(exchange) }
        // The portal's values win over any a handler set.
        response.removeHeaders(named: Self.responseHeaderNames)
        response.headers.reserveCapacity(response.headers.count + 2 + (exchange?.setCookies.count ?? 0))
        for cookie in exchange?.setCookies ?? [] { response.addHeader("Set-Cookie", cookie) }
        response.fixedHeaders = Self.securityHeaders
        response.addHeader("X-Request-Id", request.id)
        if response.header("Cache-Control") == nil { response.addHeader("Cache-Control", "no-store") }
        return response
    }

    /// Disk full, read-only or locked beyond the busy timeout: the client may retry later.
    static func isUnavailable(_ error: DatabaseError) -> Bool {
        [.SQLITE_FULL, .SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_READONLY, .SQLITE_IOERR, .SQLITE_CANTOPEN]
            .contains(error.resultCode)
    }

    /// Decodes and checks the request before any handler sees it.
    private func prepare(_ request: Request) throws -> Exchange {
        if request.hasInvalidParameterEncoding { throw HTTPError(400, "The request was not valid UTF-8.") }
        if request.bodyTooLarge { throw HTTPError(413) }
        let path: String
        do {
            path = try request.path()
        } catch {
            throw HTTPError(400, "The address is not correctly encoded.")
        }
        var exchange = Exchange(request: request, path: path, now: Date())
        do {
            exchange.query = try request.query()
        } catch {
            throw HTTPError(400, "The address's query is not correctly encoded.")
        }
        // Tokens are 43 base64url characters (bytes: `count` would walk grapheme clusters).
        let cookies = request.cookieHeader ?? ""
        exchange.formCookie = Cookies.value(formCookie, in: cookies).flatMap { $0.utf8.count == 43 ? $0 : nil }
        if let token = Cookies.value(sessionCookie, in: cookies), token.utf8.count == 43 {
            exchange.session = try accounts.session(tokenHash: Tokens.storedHash(token), now: exchange.nowSeconds)
        }
        return exchange
    }

    private func dispatch(_ exchange: inout Exchange) throws -> Response {
        switch Self.router.resolve(method: exchange.request.method, path: exchange.path) {
        case .notFound:
            throw HTTPError(404)
        case .methodNotAllowed(let allowed):
            throw HTTPError(405, headers: [("Allow", allowed.joined(separator: ", "))])
        case .found(let route, let handler, let captures):
            exchange.captures = captures
            exchange.numbers = route.numbers
            if exchange.request.method == "POST" {
                do {
                    exchange.form = try exchange.request.form()
                } catch {
                    throw HTTPError(400, "The form was not correctly encoded.")
                }
                try checkCSRF(exchange)
            }
            for number in route.numbers { try number.check(exchange) }
            return try handler(self, &exchange)
        }
    }

    // MARK: CSRF

    /// The token forms on this page must carry: the session's, or for visitors without a
    /// session, an HMAC of their form cookie (set here when missing).
    func csrfToken(_ exchange: inout Exchange) -> String {
        if let session = exchange.session { return session.csrfToken }
        let cookie: String
        if let existing = exchange.formCookie {
            cookie = existing
        } else {
            cookie = Tokens.random()
            exchange.formCookie = cookie
            exchange.setCookies.append(cookieHeader(formCookie, cookie, maxAge: 86400))
        }
        return Tokens.mac("form:" + cookie, key: configuration.sessionSecret)
    }

    private func checkCSRF(_ exchange: Exchange) throws {
        let sent = exchange.form["csrf"] ?? ""
        var valid = false
        if let session = exchange.session, ConstantTime.equal(sent, session.csrfToken) { valid = true }
        if !valid, let cookie = exchange.formCookie,
            ConstantTime.equal(sent, Tokens.mac("form:" + cookie, key: configuration.sessionSecret)),
            exchange.session == nil || exchange.path == "/login" || exchange.path == "/set-password"
        {
            valid = true
        }
        guard valid else {
            throw HTTPError(403, "This form has expired or did not come from this site. Go back, reload the page and try again.")
        }
    }

    // MARK: Cookies and sessions

    /// The name a cookie goes by: with `Secure` cookies, the `__Host-` prefix, which makes the
    /// browser refuse it unless it is Secure, set by this host (no Domain) with `Path=/`, so
    /// no other site or subdomain can plant or overwrite it. Plain HTTP (development only)
    /// cannot carry that prefix.
    static func cookieName(_ base: String, secure: Bool) -> String {
        secure ? "__Host-" + base : base
    }

    /// `cookieName(_:secure:)` with this portal's `LYNX_COOKIE_SECURE`.
    func cookieName(_ base: String) -> String {
        Self.cookieName(base, secure: configuration.cookieSecure)
    }

    /// A `Set-Cookie` value: host-only (no Domain), `Path=/`, HttpOnly, SameSite=Lax, and
    /// Secure unless `LYNX_COOKIE_SECURE` is off.
    func cookieHeader(_ name: String, _ value: String, maxAge: Int64) -> String {
        var header = "\(name)=\(value); Path=/; Max-Age=\(maxAge); HttpOnly; SameSite=Lax"
        if configuration.cookieSecure { header += "; Secure" }
        return header
    }

    /// Opens a fresh session (a new token every time: a pre-set cookie is never adopted), if
    /// the account is still as it was when its password was verified.
    func openSession(for learner: Learner, in exchange: inout Exchange) throws {
        let (session, token) = newSession(now: exchange.nowSeconds)
        guard
            try accounts.openSession(
                session, learnerID: learner.id, now: exchange.nowSeconds, replacing: exchange.session?.tokenHash,
                ifPasswordSetAt: learner.passwordSetAt)
        else {
            throw HTTPError(
                403, "Your account was reset or changed while you were logging in. Log in again, or ask your teacher.")
        }
        setSessionCookie(token, in: &exchange)
    }

    /// A fresh session: the browser's token and what the database stores of it.
    func newSession(now: Int64) -> (AccountStore.NewSession, token: String) {
        let token = Tokens.random()
        let session = AccountStore.NewSession(
            tokenHash: Tokens.storedHash(token), csrfToken: Tokens.random(), expiresAt: SessionLifetime.expiry(openedAt: now))
        return (session, token)
    }

    /// The cookie lives as long as the session can (`SessionLifetime.absoluteSeconds`); the
    /// server decides when it ends before that.
    func setSessionCookie(_ token: String, in exchange: inout Exchange) {
        exchange.setCookies.append(cookieHeader(sessionCookie, token, maxAge: SessionLifetime.absoluteSeconds))
    }

    func clearSessionCookie(_ exchange: inout Exchange) {
        exchange.setCookies.append(cookieHeader(sessionCookie, "", maxAge: 0))
    }

    /// Keeps a session alive past the idle timeout while it is used. After the request, outside
    /// any read scope (a GET's reads run in one read-only transaction), and at most once a
    /// minute per session, so most page views write nothing. A failure here costs the learner
    /// at most an earlier sign-out, never the page.
    private func recordActivity(_ exchange: Exchange) {
        guard let session = exchange.session,
            SessionLifetime.shouldRecordActivity(lastSeenAt: session.lastSeenAt, now: exchange.nowSeconds)
        else { return }
        do {
            try accounts.recordActivity(tokenHash: session.tokenHash, now: exchange.nowSeconds)
        } catch {
            logger.warning(
                "session activity not recorded", metadata: ["request_id": "\(exchange.request.id)", "error": "\(error)"])
        }
    }

    // MARK: Rendering

    /// Renders a page inside the layout.
    func page(
        _ name: String, title: String, _ values: TemplateValues = [:], status: Int = 200, exchange: inout Exchange
    ) -> Response {
        let csrf = csrfToken(&exchange)
        var pageValues = values
        pageValues["csrf"] = .text(csrf)
        let html = templates.render(page: name, values: pageValues, layout: layoutValues(title: title, csrf: csrf, exchange))
        return Response(status: status, headers: [("Content-Type", "text/html; charset=utf-8")], body: html)
    }

    /// Renders a page whose values depend only on `version` (apart from the CSRF token) inside
    /// the layout: the page itself renders once per version of its slot and set of templates
    /// (TemplateSet.render(page:slot:version:...)).
    func keptPage(
        _ name: String, slot: String, version: String, title: String, exchange: inout Exchange,
        _ values: () throws -> TemplateValues
    ) rethrows -> Response {
        let csrf = csrfToken(&exchange)
        let html = try templates.render(
            page: name, slot: slot, version: version, values: values, tokenName: "csrf", token: csrf,
            layout: layoutValues(title: title, csrf: csrf, exchange))
        return Response(status: 200, headers: [("Content-Type", "text/html; charset=utf-8")], body: html)
    }

    private func layoutValues(title: String, csrf: String, _ exchange: Exchange) -> TemplateValues {
        guard let learner = exchange.learner else {
            return ["title": .text(title), "csrf": .text(csrf), "requestId": .text(exchange.request.id)]
        }
        return [
            "title": .text(title), "csrf": .text(csrf), "requestId": .text(exchange.request.id), "signedIn": true,
            "username": .text(learner.username),
        ]
    }

    func redirect(_ location: String) -> Response {
        Response(status: 303, headers: [("Location", location)], body: [])
    }

    static let errorTitles: [Int: String] = [
        400: "Bad request", 403: "Not allowed", 404: "Page not found", 405: "Method not allowed",
        413: "Too much data", 429: "Too many attempts", 500: "Something went wrong", 503: "Temporarily unavailable",
    ]

    private func errorPage(_ error: HTTPError, request: Request, exchange: Exchange?) -> Response {
        if error.status == 303 || error.status == 302 {
            var response = Response(status: error.status, headers: error.headers, body: [])
            response.setHeader("Cache-Control", "no-store")
            return response
        }
        var exchange = exchange ?? Exchange(request: request, path: "/", now: Date())
        let template = Self.errorTitles[error.status] != nil ? "errors/\(error.status)" : "errors/500"
        var values: TemplateValues = ["status": .number(error.status), "requestId": .text(request.id)]
        if let message = error.message { values["message"] = .text(message) }
        for (name, value) in error.headers where name == "Retry-After" { values["retryAfter"] = .text(value) }
        var response = page(
            template, title: Self.errorTitles[error.status] ?? "Error", values, status: error.status, exchange: &exchange)
        for (name, value) in error.headers { response.setHeader(name, value) }
        return response
    }

    /// The numbers routes read from requests, each with its type: declared here, listed with
    /// the route that reads it, and read by handlers through `Exchange.number(_:)`.
    enum Numbers {
        static let journalPage = NumberParameter<PageNumber>(query: "page")
        static let entryID = NumberParameter<RecordID>(path: "id")
        static let attemptID = NumberParameter<RecordID>(path: "id")
        static let answer = NumberParameter<RecordID>(form: "q", suffix: "question id")
        static let gradedCard = NumberParameter<RecordID>(query: "graded")
        static let gradedAs = NumberParameter<ChosenGrade>(query: "q")
        static let missedCard = NumberParameter<RecordID>(query: "missed")
        static let missedChoice = NumberParameter<RecordID>(query: "chosen")
        static let card = NumberParameter<RecordID>(form: "card")
        static let option = NumberParameter<RecordID>(form: "option")
        static let grade = NumberParameter<ChosenGrade>(form: "quality")
    }

    /// The routing table, as `lynx-portal routes` prints it.
    public static var routeTable: [RouteDescription] { router.descriptions }

    private static let router: Router = {
        var router = Router()
        router.add("/healthz", ["GET": { try $0.health(&$1) }])
        router.add("/login", ["GET": { $0.loginForm(&$1) }, "POST": { try $0.login(&$1) }])
        router.add("/set-password", ["GET": { $0.setPasswordForm(&$1) }, "POST": { try $0.setPassword(&$1) }])
        router.add("/logout", ["POST": { try $0.logout(&$1) }])
        router.add("/", ["GET": { try $0.home(&$1) }])
        router.add(
            "/quiz/:slug", reads: [Numbers.answer], ["GET": { try $0.quizForm(&$1) }, "POST": { try $0.submitQuiz(&$1) }])
        router.add("/quiz/:slug/attempts/:id", reads: [Numbers.attemptID], ["GET": { try $0.attemptResult(&$1) }])
        router.add(
            "/review", reads: [Numbers.gradedCard, Numbers.gradedAs, Numbers.missedCard, Numbers.missedChoice],
            ["GET": { try $0.reviewPage(&$1) }])
        router.add("/review/answer", reads: [Numbers.card, Numbers.option], ["POST": { try $0.answerCard(&$1) }])
        router.add("/review/grade", reads: [Numbers.card, Numbers.grade], ["POST": { try $0.gradeCard(&$1) }])
        router.add("/journal", reads: [Numbers.journalPage], ["GET": { try $0.journalList(&$1) }])
        router.add("/journal/new", ["GET": { try $0.journalNewForm(&$1) }, "POST": { try $0.journalCreate(&$1) }])
        router.add("/journal/:id", reads: [Numbers.entryID], ["GET": { try $0.journalView(&$1) }])
        router.add(
            "/journal/:id/edit", reads: [Numbers.entryID],
            ["GET": { try $0.journalEditForm(&$1) }, "POST": { try $0.journalUpdate(&$1) }])
        router.add(
            "/journal/:id/delete", reads: [Numbers.entryID],
            ["GET": { try $0.journalDeleteForm(&$1) }, "POST": { try $0.journalDelete(&$1) }])
        router.add("/settings", ["GET": { try $0.settingsPage(&$1) }])
        router.add("/settings/time-zone", ["POST": { try $0.changeTimeZone(&$1) }])
        router.add("/settings/password", ["POST": { try $0.changePassword(&$1) }])
        return router
    }()
}
