import FastCGI
import Foundation
import PasswordHashing
import PortalDomain
import PortalStore

/// `/settings`: time zone and password.
extension Portal {
    static let timeZoneNames: [String] = TimeZone.knownTimeZoneIdentifiers.filter { $0.contains("/") }.sorted() + ["UTC"]

    func settingsPage(_ exchange: inout Exchange) throws -> Response {
        let session = try exchange.requireLearner()
        var values = settingsValues(session.learner, exchange: exchange)
        switch exchange.query["saved"] {
        case "time-zone": values["notice"] = "Time zone saved."
        case "password": values["notice"] = "Password changed. Your other sessions were logged out."
        default: break
        }
        return page("settings", title: "Settings", values, exchange: &exchange)
    }

    func changeTimeZone(_ exchange: inout Exchange) throws -> Response {
        let session = try exchange.requireLearner()
        let name = exchange.form["time_zone"] ?? ""
        guard TimeZoneName.zone(name) != nil else {
            var values = settingsValues(session.learner, exchange: exchange)
            values["timeZoneError"] = "Choose a time zone from the list."
            return page("settings", title: "Settings", values, exchange: &exchange)
        }
        try accounts.updateTimeZone(learnerID: session.learner.id, timeZone: name)
        record(
            "settings_changed", username: session.learner.username, exchange, outcome: "succeeded",
            details: ["setting": "time_zone", "time_zone": name])
        return redirect("/settings?saved=time-zone")
    }

    func changePassword(_ exchange: inout Exchange) throws -> Response {
        let session = try exchange.requireLearner()
        let learner = session.learner
        let current = exchange.form["current"] ?? ""
        let new = exchange.form["password"] ?? ""
        let confirmation = exchange.form["confirm"] ?? ""
        func again(_ message: String) -> Response {
            var values = settingsValues(learner, exchange: exchange)
            values["passwordError"] = .text(message)
            return page("settings", title: "Settings", values, exchange: &exchange)
        }
        let key = "login:" + learner.username
        let reservation: Throttle.Reservation
        switch throttle.reserve(
            [Throttle.Check(key, budget: .accounts, rules: Self.loginAccountRules)], now: exchange.now.timeIntervalSince1970)
        {
        case .wait(let wait, let key):
            record(
                "settings_changed", username: learner.username, exchange, outcome: "throttled", details: ["setting": "password"],
                throttled: (key, wait))
            throw HTTPError(
                429, "Too many wrong passwords. Wait \(wait) seconds and try again.", headers: [("Retry-After", "\(wait)")])
        case .reserved(let reserved): reservation = reserved
        }
        guard let stored = learner.passwordHash,
            case .match = hasher.verify(current, against: stored, pepperID: learner.pepperID)
        else {
            record("settings_changed", username: learner.username, exchange, outcome: "failed", details: ["setting": "password"])
            return again("Your current password is not right.")
        }
        throttle.refund(reservation)
        if let problem = PasswordPolicy.check(new, confirmation: confirmation, username: learner.username) {
            return again(problem.description)
        }
        // The new password and the end of every other session are one change; a reset or
        // another change since `stored` was verified wins, and this one changes nothing.
        guard
            try accounts.changePassword(
                learnerID: learner.id, verifiedHash: stored, passwordHash: try hasher.hash(new), pepperID: hasher.pepper.id,
                now: exchange.nowSeconds, keepingSession: session.tokenHash)
        else {
            record("settings_changed", username: learner.username, exchange, outcome: "failed", details: ["setting": "password"])
            return again("Your password was changed or reset meanwhile. Log in again with the new one.")
        }
        record("settings_changed", username: learner.username, exchange, outcome: "succeeded", details: ["setting": "password"])
        return redirect("/settings?saved=password")
    }

    private func settingsValues(_ learner: Learner, exchange: Exchange) -> TemplateValues {
        let day = today(for: learner, at: exchange.now)
        return [
            "timeZone": .text(learner.timeZone),
            "timeZones": .list(Self.timeZoneNames.map { ["name": .text($0), "selected": .bool($0 == learner.timeZone)] }),
            "dayStartHour": .number(configuration.dayStartHour),
            "today": .text(longDate(day)),
            "minimumLength": .number(PasswordPolicy.minimumLength),
            "sessionLifetime": .text(SessionLifetime.explanation),
        ]
    }
}
