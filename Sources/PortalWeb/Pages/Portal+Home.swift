import FastCGI
import Foundation
import PortalStore

extension Portal {
    /// Home: cards due today, quizzes with best score and last attempt, recent journal entries.
    func home(_ exchange: inout Exchange) throws -> Response {
        let session = try exchange.requireLearner()
        let learner = session.learner
        let zone = timeZone(of: learner)
        let day = today(in: zone, at: exchange.now)
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
        return page("home", title: "Home", values, exchange: &exchange)
    }
}
