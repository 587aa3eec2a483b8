import Foundation
import GRDB
import PortalDomain
import Testing

@testable import PortalStore

/// The home page is kept while the session's home version stands: every change to what the
/// page shows must move it, and changes elsewhere must not.
@Suite struct HomeVersionTests {
    @Test func everyChangeBehindTheHomePageMovesItsVersion() throws {
        let temporary = try TemporaryDatabase()
        defer { temporary.remove() }
        let database = temporary.database
        let (accounts, quizzes, study, journal) = (temporary.accounts, temporary.quizzes, temporary.study, temporary.journal)
        let now: Int64 = 1_800_000_000
        let day = StudyDay(year: 2027, month: 1, day: 15)
        let ana = try temporary.addLearner("ana", now: now)
        let ben = try temporary.addLearner("ben", now: now)
        try accounts.openSession(
            AccountStore.NewSession(tokenHash: "s", csrfToken: "c", expiresAt: now + 10_000), learnerID: ana.id, now: now)
        func version() throws -> HomeVersion { try #require(try accounts.session(tokenHash: "s", now: now)).homeVersion }

        var last = try version()
        func expectMoved(_ change: String, _ body: () throws -> Void) throws {
            try body()
            let current = try version()
            #expect(current != last, "\(change) left the home version at \(current)")
            last = current
        }
        func expectStill(_ change: String, _ body: () throws -> Void) throws {
            try body()
            #expect(try version() == last, "\(change) moved the home version")
        }

        try expectMoved("a quiz import") {
            _ = try quizzes.importQuiz(
                twoOptionQuiz("Home", keys: ["a", "b"]), slug: "home", sourceName: "home.gift", now: now)
        }
        let quiz = try #require(try quizzes.quiz(slug: "home"))
        let wrong = quiz.questions.map { SubmittedAnswer(questionID: $0.id, chosenText: "wrong", correct: false) }
        try expectMoved("an attempt") {
            _ = try study.recordAttempt(learnerID: ana.id, quizID: quiz.id, answers: wrong, on: day, now: now)
        }
        let card = try #require(try study.queue(learnerID: ana.id, on: day.adding(days: 1)).first)
        try expectMoved("a review") {
            _ = try study.review(cardID: card, learnerID: ana.id, quality: .wrong, on: day.adding(days: 1), now: now + 1)
        }
        var entry: Int64 = 0
        try expectMoved("a new journal entry") { entry = try journal.create(learnerID: ana.id, title: "t", body: "b", now: now) }
        try expectMoved("an edited entry") {
            _ = try journal.update(id: entry, learnerID: ana.id, title: "t2", body: "b", now: now + 5)
        }
        try expectMoved("a deleted entry") { _ = try journal.delete(id: entry, learnerID: ana.id) }
        try expectMoved("a new time zone") { try accounts.updateTimeZone(learnerID: ana.id, timeZone: "Europe/Berlin") }
        try expectMoved("a renamed quiz") {
            try database.pool.write { db in try db.execute(sql: "UPDATE quiz SET title = 'Renamed'") }
        }
        try expectMoved("a quiz edited by import (a question retired)") {
            _ = try quizzes.importQuiz(twoOptionQuiz("Home", keys: ["a"]), slug: "home", sourceName: "home.gift", now: now)
        }
        try expectMoved("a removed quiz") {
            try database.pool.write { db in try db.execute(sql: "DELETE FROM quiz") }
        }

        // Another learner's work, sessions and passwords are not on this page.
        try expectStill("another learner's journal") {
            _ = try journal.create(learnerID: ben.id, title: "x", body: "y", now: now)
        }
        try expectStill("a new session") {
            try accounts.openSession(
                AccountStore.NewSession(tokenHash: "s2", csrfToken: "c2", expiresAt: now + 10_000), learnerID: ana.id,
                now: now)
        }
        try database.pool.write { db in
            try db.execute(
                sql: "UPDATE learner SET password_hash = 'h', password_set_at = ? WHERE id = ?", arguments: [now, ana.id])
        }
        try expectStill("a rehashed password") {
            let rehashed = try accounts.rehashPassword(learnerID: ana.id, verifiedHash: "h", passwordHash: "h2", pepperID: "p")
            #expect(rehashed)
        }
        try expectStill("a new password") {
            let changed = try accounts.changePassword(
                learnerID: ana.id, verifiedHash: "h2", passwordHash: "h3", pepperID: "p", now: now, keepingSession: "s")
            #expect(changed)
        }
    }
}
