import FastCGI
import Foundation
import PortalStore

/// `/journal`: a learner's private entries. Another learner's entry is a 404, never a 403.
extension Portal {
    static let journalPageSize = 20
    static let titleLimit = 200
    static let bodyLimit = 20_000

    func journalList(_ exchange: inout Exchange) throws -> Response {
        let session = try exchange.requireLearner()
        let pageNumber = try exchange.number(Numbers.journalPage) ?? .first
        let (entries, hasMore) = try journal.entries(
            learnerID: session.learner.id, page: pageNumber.value, perPage: Self.journalPageSize)
        let zone = timeZone(of: session.learner)
        var values: TemplateValues = [
            "entries": .list(entries.map { .object(listingValues($0, in: zone)) }),
            "empty": .bool(entries.isEmpty && pageNumber == .first), "page": .number(pageNumber.value),
        ]
        if hasMore, let next = pageNumber.next { values["nextPage"] = .number(next.value) }
        if let previous = pageNumber.previous { values["previousPage"] = .number(previous.value) }
        if exchange.query["deleted"] != nil { values["notice"] = "The entry was deleted." }
        return page("journal", title: "Journal", values, exchange: &exchange)
    }

    func journalNewForm(_ exchange: inout Exchange) throws -> Response {
        _ = try exchange.requireLearner()
        return page("journal-form", title: "New journal entry", formValues(action: "/journal/new"), exchange: &exchange)
    }

    func journalCreate(_ exchange: inout Exchange) throws -> Response {
        let session = try exchange.requireLearner()
        let (title, body) = entryFields(exchange)
        if let problem = entryProblem(title: title, body: body) {
            var values = formValues(action: "/journal/new", title: title, body: body)
            values["error"] = .text(problem)
            return page("journal-form", title: "New journal entry", values, exchange: &exchange)
        }
        let id: Int64
        do {
            id = try journal.create(learnerID: session.learner.id, title: title, body: body, now: exchange.nowSeconds)
        } catch let limit as LearnerLimitReached {
            var values = formValues(action: "/journal/new", title: title, body: body)
            values["error"] = .text(
                "Not saved: \(limit). Delete entries you no longer need, then save again; your text is kept below.")
            return page("journal-form", title: "New journal entry", values, exchange: &exchange)
        }
        record("journal_created", username: session.learner.username, exchange, outcome: "succeeded", details: ["entry": "\(id)"])
        return redirect("/journal/\(id)")
    }

    func journalView(_ exchange: inout Exchange) throws -> Response {
        let session = try exchange.requireLearner()
        let entry = try ownEntry(exchange, session)
        var values = entryValues(entry, session.learner)
        if exchange.query["saved"] != nil { values["notice"] = "Saved." }
        return page("journal-entry", title: entry.title, values, exchange: &exchange)
    }

    func journalEditForm(_ exchange: inout Exchange) throws -> Response {
        let session = try exchange.requireLearner()
        let entry = try ownEntry(exchange, session)
        var values = formValues(action: "/journal/\(entry.id)/edit", title: entry.title, body: entry.body)
        values["editing"] = true
        values["id"] = .number(entry.id)
        return page("journal-form", title: "Edit journal entry", values, exchange: &exchange)
    }

    func journalUpdate(_ exchange: inout Exchange) throws -> Response {
        let session = try exchange.requireLearner()
        let entry = try ownEntry(exchange, session)
        let (title, body) = entryFields(exchange)
        if let problem = entryProblem(title: title, body: body) {
            var values = formValues(action: "/journal/\(entry.id)/edit", title: title, body: body)
            values["error"] = .text(problem)
            values["editing"] = true
            values["id"] = .number(entry.id)
            return page("journal-form", title: "Edit journal entry", values, exchange: &exchange)
        }
        guard try journal.update(id: entry.id, learnerID: session.learner.id, title: title, body: body, now: exchange.nowSeconds)
        else { throw HTTPError(404) }
        record(
            "journal_edited", username: session.learner.username, exchange, outcome: "succeeded",
            details: ["entry": "\(entry.id)"])
        return redirect("/journal/\(entry.id)?saved=1")
    }

    func journalDeleteForm(_ exchange: inout Exchange) throws -> Response {
        let session = try exchange.requireLearner()
        let entry = try ownEntry(exchange, session)
        return page("journal-delete", title: "Delete journal entry", entryValues(entry, session.learner), exchange: &exchange)
    }

    func journalDelete(_ exchange: inout Exchange) throws -> Response {
        let session = try exchange.requireLearner()
        let entry = try ownEntry(exchange, session)
        guard try journal.delete(id: entry.id, learnerID: session.learner.id) else { throw HTTPError(404) }
        record(
            "journal_deleted", username: session.learner.username, exchange, outcome: "succeeded",
            details: ["entry": "\(entry.id)"])
        return redirect("/journal?deleted=1")
    }

    private func ownEntry(_ exchange: Exchange, _ session: SessionRecord) throws -> JournalEntry {
        guard let entry = try journal.entry(id: try exchange.required(Numbers.entryID).value, learnerID: session.learner.id)
        else {
            throw HTTPError(404)
        }
        return entry
    }

    /// Title trimmed; body kept as typed except that CRLF line breaks become LF.
    private func entryFields(_ exchange: Exchange) -> (String, String) {
        let title = (exchange.form["title"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let body = (exchange.form["body"] ?? "").replacingOccurrences(of: "\r\n", with: "\n")
        return (title, body)
    }

    private func entryProblem(title: String, body: String) -> String? {
        if title.isEmpty { return "Give the entry a title." }
        if title.count > Self.titleLimit { return "The title is \(title.count) characters; keep it to \(Self.titleLimit)." }
        if body.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return "Write something in the entry." }
        if body.count > Self.bodyLimit { return "The entry is \(body.count) characters; keep it to \(Self.bodyLimit)." }
        return nil
    }

    private func formValues(action: String, title: String = "", body: String = "") -> TemplateValues {
        [
            "action": .text(action), "entryTitle": .text(title), "body": .text(body),
            "titleLimit": .number(Self.titleLimit), "bodyLimit": .number(Self.bodyLimit),
        ]
    }

    func entryValues(_ entry: JournalEntry, _ learner: Learner) -> TemplateValues {
        var values = listingValues(
            JournalListing(id: entry.id, title: entry.title, createdAt: entry.createdAt, updatedAt: entry.updatedAt),
            in: timeZone(of: learner))
        values["body"] = .text(entry.body)
        return values
    }

    /// An entry in a list: no body (lists show titles and times).
    func listingValues(_ entry: JournalListing, in zone: TimeZone) -> TemplateValues {
        var values: TemplateValues = [
            "id": .number(entry.id), "entryTitle": .text(entry.title), "created": .text(localTime(entry.createdAt, in: zone)),
            "edited": .bool(entry.updatedAt != entry.createdAt),
        ]
        // Only an edited entry shows its edit time.
        if entry.updatedAt != entry.createdAt { values["updated"] = .text(localTime(entry.updatedAt, in: zone)) }
        return values
    }
}
