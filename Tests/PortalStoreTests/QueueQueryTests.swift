import Foundation
import GRDB
import PortalDomain
import Testing

@testable import PortalStore

/// The review pages count and pick from today's queue without reading it whole; those queries
/// must agree with `queue`, the definition, for cards in every state.
@Suite struct QueueQueryTests {
    @Test func countFirstAndMembershipAgreeWithTheQueue() throws {
        for perThreadReaders in [false, true] {
            let temporary = try TemporaryDatabase(perThreadReaders: perThreadReaders)
            defer { temporary.remove() }
            let database = temporary.database
            let now: Int64 = 1_800_000_000
            let day = StudyDay(year: 2027, month: 1, day: 15)
            let learner = try temporary.addLearner("ana", now: now)
            let document = twoOptionQuiz("Queue", keys: (1...9).map { "q\($0)" })
            _ = try temporary.quizzes.importQuiz(document, slug: "queue", sourceName: "queue.gift", now: now)
            let quiz = try #require(try temporary.quizzes.quiz(slug: "queue"))
            let study = temporary.study
            let answers = quiz.questions.map { SubmittedAnswer(questionID: $0.id, chosenText: "wrong", correct: false) }
            _ = try study.recordAttempt(learnerID: learner.id, quizID: quiz.id, answers: answers, on: day, now: now)
            let today = day.adding(days: 3)
            let cards = try database.pool.read { db in
                try Int64.fetchAll(
                    db, sql: "SELECT id FROM review_card WHERE learner_id = ? ORDER BY id", arguments: [learner.id])
            }
            #expect(cards.count == 9)
            // One card per state: due long ago, due today, due later, reviewed today, a same-day
            // repeat, a repeat that is also due, retired, and two due on the same day (id order).
            let states: [(due: StudyDay, reviewed: StudyDay?, repeatDay: StudyDay?, retired: Bool)] = [
                (day, nil, nil, false), (today, day, nil, false), (today.adding(days: 2), day, nil, false),
                (today.adding(days: 1), today, nil, false), (today.adding(days: 1), today, today, false),
                (today, day, today, false), (day, nil, nil, true), (day.adding(days: 1), day, nil, false),
                (day.adding(days: 1), day, nil, false),
            ]
            try database.pool.write { db in
                for (card, state) in zip(cards, states) {
                    try db.execute(
                        sql: """
                            UPDATE review_card SET due_day = ?, last_reviewed_day = ?, repeat_day = ?, retired = ?,
                                updated_at = ? WHERE id = ?
                            """,
                        arguments: [
                            state.due.description, state.reviewed?.description, state.repeatDay?.description, state.retired,
                            now + card, card,
                        ])
                }
            }
            for when in [day.adding(days: -1), day, today, today.adding(days: 1), today.adding(days: 5)] {
                let queue = try study.queue(learnerID: learner.id, on: when)
                #expect(try study.dueCount(learnerID: learner.id, on: when) == queue.count, "\(when)")
                let state = try study.reviewState(learnerID: learner.id, on: when)
                #expect(state.card?.id == queue.first, "\(when)")
                #expect(state.remaining == (queue.isEmpty ? 0 : queue.count), "\(when)")
                #expect(try study.nextCard(learnerID: learner.id, on: when)?.id == queue.first, "\(when)")
                let home = try HomeStore(database: database).summary(learnerID: learner.id, on: when)
                #expect(home.dueToday == queue.count, "\(when)")
                let next = try study.nextDueDay(learnerID: learner.id, after: when)
                #expect(home.nextDue == (queue.isEmpty ? next : nil), "\(when)")
                for card in cards {
                    #expect(try study.isQueued(cardID: card, learnerID: learner.id, on: when) == queue.contains(card))
                }
            }
            #expect(try study.queue(learnerID: learner.id, on: today).count == 6)
        }
    }

    @Test func theQuizQuestionCountFollowsImportsAndRetirements() throws {
        let temporary = try TemporaryDatabase()
        defer { temporary.remove() }
        let database = temporary.database
        let quizzes = QuizStore(database: database)
        func document(_ keys: [String]) -> QuizDocument { twoOptionQuiz("Count", keys: keys) }
        _ = try quizzes.importQuiz(document(["a", "b", "c"]), slug: "count", sourceName: "c.gift", now: 1)
        #expect(try quizzes.summaries(learnerID: 1).first?.questionCount == 3)
        _ = try quizzes.importQuiz(document(["a", "c"]), slug: "count", sourceName: "c.gift", now: 2)
        #expect(try quizzes.summaries(learnerID: 1).first?.questionCount == 2)
        _ = try quizzes.importQuiz(document(["a", "b", "c", "d"]), slug: "count", sourceName: "c.gift", now: 3)
        let live = try database.pool.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM question WHERE retired_at IS NULL")
        }
        #expect(try quizzes.summaries(learnerID: 1).first?.questionCount == live)
        #expect(live == 4)
    }
}
