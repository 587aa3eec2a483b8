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
    /// Guesses an untrusted client may make against one account: 5 per 15 minutes, and at
    /// most 100 a day, however they are spread.
    static let loginAccountRules = [Throttle.Rule(limit: 5, window: 15 * 60), Throttle.Rule(limit: 100, window: 86400)]
    /// A browser holding a device cookie for the account tries on its own budget of this size.
    static let loginDeviceRules = loginAccountRules
    static let setupAccountRule = Throttle.Rule(limit: 5, window: 15 * 60)
    static let deviceCookie = "lynx_device"
    static let deviceCookieLifetime: Int64 = 180 * 86400

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
        let username = Username(typed)
        let learner = try username.flatMap { try accounts.learner(username: $0.value) }
        // A browser that logged in to this account before tries on its own budget, so someone
        // who knows the username cannot lock the learner out of their own browser.
        let accountKey = Self.throttleKey("login:", typed: typed, username)
        let checks =
            if let device = trustedDevice(for: username, exchange) {
                [Throttle.Check("login-device:" + device, budget: .accounts, rules: Self.loginDeviceRules)]
            } else {
                [Throttle.Check(accountKey, budget: learner == nil ? .visitors : .accounts, rules: Self.loginAccountRules)]
                    + addressChecks("login-addr:", exchange)
            }
        // Counted as a failure before the hash runs (refunded on success): concurrent workers
        // cannot all pass the check and get extra guesses.
        let reservation: Throttle.Reservation
        switch throttle.reserve(checks, now: exchange.now.timeIntervalSince1970) {
        case .wait(let wait, let key):
            record("login", username: typed, exchange, outcome: "throttled", throttled: (key, wait))
            throw HTTPError(
                429, "Too many failed attempts. Wait \(wait) seconds and try again.",
                headers: [("Retry-After", "\(wait)")])
        case .reserved(let reserved): reservation = reserved
        }
        var verification = PasswordVerification.mismatch
        // One Argon2 run, or up to 1 + the previous peppers for a hash stored before pepper ids
        // were derived (PasswordHasher.verify); either way one attempt against the throttle.
        if let learner, !learner.disabled, let stored = learner.passwordHash {
            verification = hasher.verify(password, against: stored, pepperID: learner.pepperID)
        } else {
            hasher.verifyAgainstDummy(password)
        }
        guard case .match(let needsRehash, let pepperID) = verification, let learner else {
            record("login", username: typed, exchange, outcome: "failed", throttleKey: accountKey)
            return page(
                "login", title: "Log in",
                [
                    "username": .text(typed), "error": .text(Self.genericLoginError),
                    "sessionLifetime": .text(SessionLifetime.explanation),
                ], exchange: &exchange)
        }
        throttle.refund(reservation)
        if needsRehash, let verified = learner.passwordHash, let rehashed = try? hasher.hash(password) {
            try accounts.rehashPassword(
                learnerID: learner.id, verifiedHash: verified, passwordHash: rehashed, pepperID: hasher.pepper.id)
        } else if learner.pepperID == nil, let verified = learner.passwordHash {
            try accounts.recordPepperID(learnerID: learner.id, verifiedHash: verified, pepperID: pepperID)
        }
        try openSession(for: learner, in: &exchange)
        setDeviceCookie(for: learner.username, in: &exchange)
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
        let username = Username(typed)
        let learner = try username.flatMap { try accounts.learner(username: $0.value) }
        let accountKey = Self.throttleKey("setup:", typed: typed, username)
        let accountBudget: Throttle.Budget = learner == nil ? .visitors : .accounts
        // Reserved before the code is checked, refunded when it was not tried or was right.
        let reservation: Throttle.Reservation
        switch throttle.reserve(
            [Throttle.Check(accountKey, budget: accountBudget, rules: [Self.setupAccountRule])]
                + addressChecks("setup-addr:", exchange),
            now: exchange.now.timeIntervalSince1970)
        {
        case .wait(let wait, let key):
            record("password_set", username: typed, exchange, outcome: "throttled", throttled: (key, wait))
            throw HTTPError(
                429, "Too many wrong setup codes. Wait \(wait) seconds and try again.",
                headers: [("Retry-After", "\(wait)")])
        case .reserved(let reserved): reservation = reserved
        }
        if let problem = PasswordPolicy.check(password, confirmation: confirmation, username: typed.lowercased()) {
            throttle.refund(reservation)
            return again(problem.description)
        }
        func failed() -> Response {
            record("password_set", username: typed, exchange, outcome: "failed", throttleKey: accountKey)
            return again(Self.genericSetupError)
        }
        guard let code = SetupCode(typed: codeText),
            let learner,
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
        throttle.refund(reservation)
        throttle.reset(accountKey, budget: accountBudget)
        setSessionCookie(token, in: &exchange)
        setDeviceCookie(for: learner.username, in: &exchange)
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
    /// `username` may be what was typed: the log writes only valid usernames verbatim. A
    /// throttled attempt names its throttle key and wait, so repeats collapse into one line.
    func record(
        _ event: String, username: String?, _ exchange: Exchange, outcome: String, details: [String: String] = [:],
        throttled: (key: String, seconds: Int)? = nil, throttleKey: String? = nil
    ) {
        var entry = AuditEvent(
            event, username: username, remoteAddress: exchange.request.remoteAddress,
            requestID: exchange.request.id, outcome: outcome, details: details)
        entry.throttled = throttled
        entry.throttleKey = throttleKey ?? throttled?.key
        audit.record(entry, at: exchange.now)
    }

    // MARK: Throttle keys and device cookies

    /// The account's throttle key: the normalised username, or a short hash of what was typed
    /// when it is not a valid username (its size never depends on the client).
    static func throttleKey(_ prefix: String, typed: String, _ username: Username?) -> String {
        prefix + (username?.value ?? "#" + String(Tokens.storedHash(typed).prefix(16)))
    }

    /// The per-address check (IPv6 grouped by /64), unless LYNX_LOGIN_ADDRESS_LIMIT is 0.
    func addressChecks(_ prefix: String, _ exchange: Exchange) -> [Throttle.Check] {
        guard configuration.loginAddressLimit > 0 else { return [] }
        return [
            Throttle.Check(
                prefix + ClientAddress.throttleKey(exchange.request.remoteAddress), budget: .visitors,
                rules: [Throttle.Rule(limit: configuration.loginAddressLimit, window: 15 * 60)])
        ]
    }

    /// Marks this browser as one that logged in to `username` (OWASP's device cookie):
    /// `username.nonce.mac`, the MAC under LYNX_SESSION_SECRET.
    func setDeviceCookie(for username: String, in exchange: inout Exchange) {
        let nonce = Tokens.random(bytes: 16)
        let value =
            username + "." + nonce + "." + Tokens.mac("device:" + username + "." + nonce, key: configuration.sessionSecret)
        exchange.setCookies.append(cookieHeader(cookieName(Self.deviceCookie), value, maxAge: Self.deviceCookieLifetime))
    }

    /// The nonce of this browser's device cookie when it is genuine and names `username`.
    func trustedDevice(for username: Username?, _ exchange: Exchange) -> String? {
        guard let username, let value = Cookies.value(cookieName(Self.deviceCookie), in: exchange.request.cookieHeader ?? ""),
            value.utf8.count <= 128
        else { return nil }
        let parts = value.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 3 else { return nil }
        let nonce = String(parts[parts.count - 2])
        let name = parts.dropLast(2).joined(separator: ".")
        let expected = Tokens.mac("device:" + name + "." + nonce, key: configuration.sessionSecret)
        guard name == username.value, nonce.utf8.count == 22,
            ConstantTime.equal(Array(parts[parts.count - 1].utf8), Array(expected.utf8))
        else { return nil }
        return nonce
    }
}
