import FastCGI
import Foundation
import PasswordHashing
import PortalDomain
import PortalStore

/// First login, login, logout.
extension Portal {
    static let genericLoginError =
        "That username and password do not match. First time here? Leave the password empty and continue to enter your setup code."
    static let genericSetupError =
        "That username and setup code do not match, or the code has expired or was already used. Ask your teacher for a new code."
    static let setupAccountRule = Throttle.Rule(limit: 5, window: 15 * 60)
    static let setupAddressRule = Throttle.Rule(limit: 30, window: 15 * 60)

    func loginForm(_ exchange: inout Exchange) -> Response {
        if exchange.session != nil { return redirect("/") }
        return page(
            "login", title: "Log in",
            ["username": .text(exchange.query["username"] ?? ""), "sessionLifetime": .text(SessionLifetime.explanation)],
            exchange: &exchange)
    }

    func login(_ exchange: inout Exchange) throws -> Response {
        let typed = (exchange.form["username"] ?? "").trimmingCharacters(in: .whitespaces)
        let password = exchange.form["password"] ?? ""
        guard !typed.isEmpty else {
            return page(
                "login", title: "Log in",
                ["error": "Enter your username.", "sessionLifetime": .text(SessionLifetime.explanation)], status: 200,
                exchange: &exchange)
        }
        // Without a password the next step is the setup code, whatever the account's state:
        // the response is the same for unknown names, new accounts and existing ones.
        if password.isEmpty {
            return redirect("/set-password?username=" + URLEncoding.encode(typed))
        }
        let accountKey = "login:" + typed.lowercased()
        let addressKey = "login-addr:" + exchange.request.remoteAddress
        let now = exchange.now.timeIntervalSince1970
        if let wait = throttle.retryAfter(accountKey, rule: Self.loginAccountRule, now: now)
            ?? throttle.retryAfter(addressKey, rule: Self.loginAddressRule, now: now)
        {
            record("login", username: typed, exchange, outcome: "throttled")
            throw HTTPError(
                429, "Too many failed attempts. Wait \(wait) seconds and try again.",
                headers: [("Retry-After", "\(wait)")])
        }
        let learner = try Username(typed).flatMap { try accounts.learner(username: $0.value) }
        var verification = PasswordVerification.mismatch
        if let learner, !learner.disabled, let stored = learner.passwordHash, let pepperID = learner.pepperID {
            verification = hasher.verify(password, against: stored, pepperID: pepperID)
        } else {
            hasher.verifyAgainstDummy(password)
        }
        guard case .match(let needsRehash) = verification, let learner else {
            throttle.recordFailure(accountKey, now: now)
            throttle.recordFailure(addressKey, now: now)
            record("login", username: typed, exchange, outcome: "failed")
            return page(
                "login", title: "Log in",
                [
                    "username": .text(typed), "error": .text(Self.genericLoginError),
                    "sessionLifetime": .text(SessionLifetime.explanation),
                ], exchange: &exchange)
        }
        throttle.reset(accountKey)
        if needsRehash, let verified = learner.passwordHash, let rehashed = try? hasher.hash(password) {
            try accounts.rehashPassword(
                learnerID: learner.id, verifiedHash: verified, passwordHash: rehashed, pepperID: hasher.pepper.id)
        }
        try openSession(for: learner, in: &exchange)
        record("login", username: learner.username, exchange, outcome: "succeeded")
        return redirect("/")
    }

    func setPasswordForm(_ exchange: inout Exchange) -> Response {
        page(
            "set-password", title: "Set your password",
            ["username": .text(exchange.query["username"] ?? ""), "minimumLength": .number(PasswordPolicy.minimumLength)],
            exchange: &exchange)
    }

    func setPassword(_ exchange: inout Exchange) throws -> Response {
        let typed = (exchange.form["username"] ?? "").trimmingCharacters(in: .whitespaces)
        let codeText = exchange.form["code"] ?? ""
        let password = exchange.form["password"] ?? ""
        let confirmation = exchange.form["confirm"] ?? ""
        func again(_ message: String) -> Response {
            page(
                "set-password", title: "Set your password",
                [
                    "username": .text(typed), "code": .text(codeText), "error": .text(message),
                    "minimumLength": .number(PasswordPolicy.minimumLength),
                ],
                exchange: &exchange)
        }
        let accountKey = "setup:" + typed.lowercased()
        let addressKey = "setup-addr:" + exchange.request.remoteAddress
        let now = exchange.now.timeIntervalSince1970
        if let wait = throttle.retryAfter(accountKey, rule: Self.setupAccountRule, now: now)
            ?? throttle.retryAfter(addressKey, rule: Self.setupAddressRule, now: now)
        {
            record("password_set", username: typed, exchange, outcome: "throttled")
            throw HTTPError(
                429, "Too many wrong setup codes. Wait \(wait) seconds and try again.",
                headers: [("Retry-After", "\(wait)")])
        }
        if let problem = PasswordPolicy.check(password, confirmation: confirmation, username: typed.lowercased()) {
            return again(problem.description)
        }
        func failed() -> Response {
            throttle.recordFailure(accountKey, now: now)
            throttle.recordFailure(addressKey, now: now)
            record("password_set", username: typed, exchange, outcome: "failed")
            return again(Self.genericSetupError)
        }
        guard let code = SetupCode(typed: codeText),
            let learner = try Username(typed).flatMap({ try accounts.learner(username: $0.value) }),
            !learner.disabled,
            let stored = try accounts.setupCode(learnerID: learner.id),
            stored.expiresAt > exchange.nowSeconds,
            ConstantTime.equal(Tokens.storedHash(code.normalized), stored.hash)
        else { return failed() }
        let passwordHash = try hasher.hash(password)
        let (session, token) = newSession(now: exchange.nowSeconds)
        guard
            try accounts.setFirstPassword(
                learnerID: learner.id, codeHash: stored.hash, passwordHash: passwordHash, pepperID: hasher.pepper.id,
                now: exchange.nowSeconds, session: session)
        else { return failed() }
        throttle.reset(accountKey)
        setSessionCookie(token, in: &exchange)
        record("password_set", username: learner.username, exchange, outcome: "succeeded")
        return redirect("/")
    }

    func logout(_ exchange: inout Exchange) throws -> Response {
        if let session = exchange.session {
            try accounts.closeSession(tokenHash: session.tokenHash)
            record("logout", username: session.learner.username, exchange, outcome: "succeeded")
        }
        clearSessionCookie(&exchange)
        return redirect("/login")
    }

    /// Appends an audit line for this request. Never pass a password, code or token here.
    func record(_ event: String, username: String?, _ exchange: Exchange, outcome: String, details: [String: String] = [:]) {
        audit.record(
            AuditEvent(
                event, username: username, remoteAddress: exchange.request.remoteAddress,
                requestID: exchange.request.id, outcome: outcome, details: details),
            at: exchange.now)
    }
}
