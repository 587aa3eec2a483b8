import Foundation
import GRDB
import PortalDomain
import Synchronization
import Testing

@testable import PortalStore

/// Every query behind the learner pages (home, quiz, review, journal) and the session lookup
/// must use an index: a full scan of a learner-scoped table grows with the whole class.
@Suite struct QueryPlanTests {
    /// Tables whose full scans are fine: the list of quizzes is read whole by design, and
    /// "SCAN CONSTANT ROW" is the one row of a SELECT without FROM around scalar subqueries.
    static let scannable: Set<String> = ["quiz", "CONSTANT"]

    /// The number of values a statement takes: each plain "?" is one, each "?N" names the Nth.
    static func parameterCount(_ sql: String) -> Int {
        var plain = 0
        var highest = 0
        var characters = sql.makeIterator()
        var pending = characters.next()
        while let character = pending {
            pending = characters.next()
            guard character == "?" else { continue }
            var digits = ""
            while let digit = pending, digit.isASCII, digit.isNumber {
                digits.append(digit)
                pending = characters.next()
            }
            if let number = Int(digits) { highest = max(highest, number) } else { plain += 1 }
        }
        return max(plain, highest)
    }

    @Test func parametersAreCountedPlainAndNumbered() {
        #expect(Self.parameterCount("SELECT 1 WHERE a = ? AND b = ?") == 2)
        #expect(Self.parameterCount("SELECT 1 WHERE a = ?1 AND b = ?2 AND c < ?2") == 2)
        #expect(Self.parameterCount("SELECT 1 WHERE a = ?12") == 12)
    }

    @Test func everyPageQueryUsesAnIndex() throws {
        let statements = Mutex<[String]>([])
        let temporary = try TemporaryDatabase { sql in statements.withLock { $0.append(sql) } }
        defer { temporary.remove() }
        let database = temporary.database

        let (accounts, quizzes, study, journal) = (temporary.accounts, temporary.quizzes, temporary.study, temporary.journal)
        let now: Int64 = 1_800_000_000
        let day = StudyDay(year: 2027, month: 1, day: 15)
        let learner = try temporary.addLearner("ana", now: now)
        let document = twoOptionQuiz("Plans", keys: (1...5).map { "q\($0)" })
        _ = try quizzes.importQuiz(document, slug: "plans", sourceName: "plans.gift", now: now)
        let quiz = try #require(try quizzes.quiz(slug: "plans"))
        let answers = quiz.questions.map { SubmittedAnswer(questionID: $0.id, chosenText: "wrong", correct: false) }
        let attempt = try study.recordAttempt(learnerID: learner.id, quizID: quiz.id, answers: answers, on: day, now: now)
        let entry = try journal.create(learnerID: learner.id, title: "t", body: "b", now: now)
        try accounts.openSession(
            AccountStore.NewSession(tokenHash: "s", csrfToken: "c", expiresAt: now + 100), learnerID: learner.id, now: now)

        statements.withLock { $0.removeAll() }
        let tomorrow = day.adding(days: 1)
        _ = try accounts.session(tokenHash: "s", now: now)
        _ = try study.dueCount(learnerID: learner.id, on: tomorrow)
        _ = try study.nextDueDay(learnerID: learner.id, after: day)
        let card = try #require(try study.nextCard(learnerID: learner.id, on: tomorrow))
        _ = try study.card(id: card.id, learnerID: learner.id, on: tomorrow)
        #expect(try study.reviewState(learnerID: learner.id, on: tomorrow).card?.id == card.id)
        #expect(try study.isQueued(cardID: card.id, learnerID: learner.id, on: tomorrow))
        _ = try study.review(cardID: card.id, learnerID: learner.id, quality: .good, on: tomorrow, now: now + 86_400)
        _ = try study.attempt(id: attempt, learnerID: learner.id)
        _ = try quizzes.summaries(learnerID: learner.id)
        _ = try quizzes.quiz(slug: "plans")
        _ = try journal.entries(learnerID: learner.id, page: 1, perPage: 20)
        _ = try journal.entry(id: entry, learnerID: learner.id)
        _ = try HomeStore(database: database).summary(learnerID: learner.id, on: day)

        let captured = statements.withLock { $0 }.filter {
            let verb = $0.trimmingCharacters(in: .whitespacesAndNewlines).uppercased()
            return verb.hasPrefix("SELECT") || verb.hasPrefix("UPDATE") || verb.hasPrefix("DELETE")
        }
        #expect(captured.count >= 12)
        var problems: [String] = []
        var sorting: [String] = []
        try database.pool.read { db in
            for sql in Set(captured) {
                // Parameters only shape values, not plans: bind NULLs (numbered ones, "?1", count
                // once per number).
                let placeholders = Self.parameterCount(sql)
                let nulls = StatementArguments(Array(repeating: DatabaseValue.null, count: placeholders))
                for row in try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: nulls) {
                    let detail: String = row["detail"]
                    if detail.hasPrefix("USE TEMP B-TREE") { sorting.append(sql) }
                    guard detail.hasPrefix("SCAN ") else { continue }
                    let table = detail.dropFirst("SCAN ".count).split(separator: " ").first.map(String.init) ?? ""
                    if !Self.scannable.contains(table) { problems.append("\(detail)  ←  \(sql)") }
                }
            }
        }
        #expect(problems.isEmpty, "full scans:\n\(problems.joined(separator: "\n"))")
        // Nor does any sort: the one result page read once per quiz attempt may order its
        // answers; every other query comes in index order (the queue's order is card_due's).
        let sorts = sorting.filter { !$0.contains("FROM attempt_answer") }
        #expect(sorts.isEmpty, "sorts per page view:\n\(sorts.joined(separator: "\n"))")
    }
}
