import FastCGI
import Foundation
import PortalStore

extension Portal {
    /// Home: cards due today, quizzes with best score and last attempt, recent journal entries.
    func home(_ exchange: inout Exchange) throws -> Response {
        let session = try exchange.requireLearner()
        let learner = session.learner
        let day = today(for: learner, at: exchange.now)
        let summary = try HomeStore(database: database).summary(learnerID: learner.id, on: day)
        let due = summary.dueToday
        var values: [String: Any] = [
            "username": learner.username, "today": longDate(day), "due": due, "hasDue": due > 0,
            "dueOne": due == 1,
        ]
        if let next = summary.nextDue {
            values["nextDue"] = longDate(next)
        }
        let summaries = summary.quizzes
        values["hasQuizzes"] = !summaries.isEmpty
        values["quizzes"] = summaries.map { quiz -> [String: Any] in
            var item: [String: Any] = [
                "slug": quiz.slug, "title": quiz.title, "questions": quiz.questionCount, "attempts": quiz.attempts,
            ]
            if let best = quiz.bestScore, let total = quiz.bestTotal { item["best"] = "\(best)/\(total)" }
            if let last = quiz.lastSubmittedAt { item["last"] = localTime(last, for: learner) }
            return item
        }
        let recent = summary.recentEntries
        values["hasEntries"] = !recent.isEmpty
        values["entries"] = recent.map { entryValues($0, learner) }
        return page("home", title: "Home", values, exchange: &exchange)
    }
}
