import PasswordHashing
import PortalStore
import PortalWeb

extension Doctor {
    /// Which pepper each stored password is under, so the operator knows when a previous pepper
    /// can go: `passwords: N on the current pepper, M on a previous pepper (...), K not yet seen
    /// since v8`. A previous pepper nobody uses any more is a warning ("can be removed"), a
    /// password under a pepper no longer configured is a warning too (that learner needs a reset).
    static func reportPeppers(
        into report: inout DoctorReport, dataDirectory: String, configuration: PortalConfiguration?,
        environment: [String: String]
    ) {
        let legacy = PortalConfiguration.legacyPepperSettings(in: environment)
        if !legacy.isEmpty {
            report.warn(
                "pepper settings",
                "\(legacy.joined(separator: ", ")) in portal.env: no longer needed, pepper ids are derived from the "
                    + "pepper now; move any LYNX_PEPPER_OLD_<id> value into LYNX_PEPPER_PREVIOUS (space-separated) "
                    + "and remove these lines")
        }
        // Without a configuration the secrets check has already failed and said why.
        guard let configuration else { return }
        let counts: [String?: Int]
        do {
            counts = try AccountStore(database: PortalDatabase(dataDirectory: dataDirectory)).passwordsByPepperID()
        } catch {
            report.fail("peppers", "cannot count the stored passwords: \(error)")
            return
        }
        report.pass("peppers", pepperSummary(counts, current: configuration.pepper, previous: configuration.previousPeppers))
        let onPrevious = configuration.previousPeppers.reduce(0) { $0 + (counts[$1.id] ?? 0) }
        let unseen = counts[nil] ?? 0
        if !configuration.previousPeppers.isEmpty, onPrevious == 0, unseen == 0 {
            report.warn(
                "peppers",
                "no password is under a previous pepper any more: LYNX_PEPPER_PREVIOUS can be removed "
                    + "(keep it off the server while retained backup archives hold older hashes)")
        }
        let known = Set([configuration.pepper.id] + configuration.previousPeppers.map(\.id))
        let orphaned = counts.filter { key, _ in key.map { !known.contains($0) } ?? false }.values.reduce(0, +)
        if orphaned > 0 {
            report.warn(
                "peppers",
                "\(orphaned) password(s) under a pepper that is not configured: those learners cannot log in; put that "
                    + "pepper back in LYNX_PEPPER_PREVIOUS, or `lynx-portal user reset` them")
        }
    }

    /// The counts line; previous peppers are listed by their place in LYNX_PEPPER_PREVIOUS and id.
    static func pepperSummary(_ counts: [String?: Int], current: Pepper, previous: [Pepper]) -> String {
        let onPrevious = previous.reduce(0) { $0 + (counts[$1.id] ?? 0) }
        var text =
            "passwords: \(counts[current.id] ?? 0) on the current pepper (\(current.id)), \(onPrevious) on a previous pepper"
        if !previous.isEmpty {
            let listed = previous.enumerated().map { index, pepper in
                "#\(index + 1) \(pepper.id): \(counts[pepper.id] ?? 0)"
            }
            text += " (\(listed.joined(separator: ", ")))"
        }
        return text + ", \(counts[nil] ?? 0) not yet seen since v8"
    }
}
