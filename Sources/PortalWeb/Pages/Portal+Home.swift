import FastCGI
import Foundation
import PortalDomain
import PortalStore

extension Portal {
    /// Home: cards due today, quizzes with best score and last attempt, recent journal entries.
    ///
    /// The page is kept per learner while its version stands: the learner's and the quiz
    /// catalog's revisions (read with the session) and the study day it was rendered for. Any
    /// change behind the page, the learner's time zone included, raises a revision (migration
    /// v6-home-revision), so a view after a change reads and renders afresh; a view with nothing
    /// changed copies the page rendered before.
    func home(_ exchange: inout Exchange) throws -> Response {
        let session = try exchange.requireLearner()
        let learner = session.learner
        let zone = timeZone(of: learner)
        let day = today(in: zone, at: exchange.now)
        let version = "\(session.homeVersion) \(day)"
        return try keptPage("home", slot: String(learner.id), version: version, title: "Home", exchange: &exchange) {
            try homeValues(learner, zone: zone, day: day)
        }
    }

    private func homeValues(_ learner: Learner, zone: TimeZone, day: StudyDay) throws -> TemplateValues {
        let summary = try HomeStore(database: database).summary(learnerID: learner.id, on: day)
        let due = summary.dueToday
        var values: TemplateValues = [
            "username": .text(learner.username), "today": .text(longDate(day)), "due": .number(due),
            "hasDue": .bool(due > 0), "dueOne": .bool(due == 1),
        ]
        if let next = summary.nextDue {
            values["nextDue"] = .text(longDate(next))
        }
        let summaries = summary.quizzes
        values["hasQuizzes"] = .bool(!summaries.isEmpty)
        values["quizzes"] = .list(
            summaries.map { quiz in
                var item: TemplateValues = [
                    "slug": .text(quiz.slug), "title": .text(quiz.title), "questions": .number(quiz.questionCount),
                    "attempts": .number(quiz.attempts),
                ]
                if let best = quiz.bestScore, let total = quiz.bestTotal { item["best"] = "\(best)/\(total)" }
                if let last = quiz.lastSubmittedAt { item["last"] = .text(localTime(last, in: zone)) }
                return .object(item)
            })
        let recent = summary.recentEntries
        values["hasEntries"] = .bool(!recent.isEmpty)
        values["entries"] = .list(recent.map { .object(listingValues($0, in: zone)) })
        return values
    }
}
