import Foundation
import GRDB
import PortalDomain
import Testing

@testable import PortalStore

/// The quiz page keeps the quiz it read until the quiz's revision changes: every kind of change
/// must show on the next read, whichever connection or process made it.
@Suite struct QuizViewCacheTests {
    static let now: Int64 = 1_800_000_000

    static func prompts(_ quiz: QuizView?) -> [String] { quiz?.questions.map(\.prompt) ?? [] }

    @Test func reimportingShowsOnTheNextRead() throws {
        let temporary = try TemporaryDatabase(perThreadReaders: true)
        defer { temporary.remove() }
        let quizzes = QuizStore(database: temporary.database)
        _ = try quizzes.importQuiz(
            twoOptionQuiz("First", keys: ["a", "b", "c"]), slug: "q", sourceName: "q.gift", now: Self.now)
        let first = try #require(try quizzes.quiz(slug: "q"))
        #expect(Self.prompts(first) == ["Question a?", "Question b?", "Question c?"])
        #expect(try quizzes.quiz(slug: "q")?.title == "First")

        // A new title, one question retired, one added, one option's text edited.
        var document = twoOptionQuiz("Second", keys: ["a", "c", "d"])
        document.questions[0].options[1].text = "edited wrong"
        _ = try quizzes.importQuiz(document, slug: "q", sourceName: "q.gift", now: Self.now + 60)
        let second = try #require(try quizzes.quiz(slug: "q"))
        #expect(second.title == "Second")
        #expect(Self.prompts(second) == ["Question a?", "Question c?", "Question d?"])
        #expect(second.questions[0].options.map(\.text) == ["right", "edited wrong"])
        // The question kept its identity, so the cached view must not be a stale copy either.
        #expect(second.questions[0].id == first.questions[0].id)
    }

    @Test func changesFromAnotherConnectionShow() throws {
        let temporary = try TemporaryDatabase(perThreadReaders: true)
        defer { temporary.remove() }
        let quizzes = QuizStore(database: temporary.database)
        _ = try quizzes.importQuiz(twoOptionQuiz("Quiz", keys: ["a", "b"]), slug: "q", sourceName: "q.gift", now: Self.now)
        #expect(try quizzes.quiz(slug: "q")?.questions[0].options[0].text == "right")

        // Another process (here another pool on the same file) edits rows directly.
        let other = try PortalDatabase(path: temporary.directory + "/portal.db")
        let before = try other.pool.read { db in try Int64.fetchOne(db, sql: "SELECT revision FROM quiz") }
        try other.pool.write { db in
            try db.execute(
                sql: "UPDATE option SET text = 'changed' WHERE id = (SELECT min(id) FROM option)")
        }
        #expect(try quizzes.quiz(slug: "q")?.questions[0].options[0].text == "changed")
        try other.pool.write { db in try db.execute(sql: "UPDATE question SET prompt = 'New prompt?' WHERE key = 'b'") }
        #expect(Self.prompts(try quizzes.quiz(slug: "q")) == ["Question a?", "New prompt?"])
        try other.pool.write { db in try db.execute(sql: "DELETE FROM option WHERE text = 'changed'") }
        #expect(try quizzes.quiz(slug: "q")?.questions[0].options.map(\.text) == ["wrong"])
        let after = try other.pool.read { db in try Int64.fetchOne(db, sql: "SELECT revision FROM quiz") }
        #expect(try #require(after) > (try #require(before)))

        // A renamed quiz is gone under its old slug and found under the new one.
        try other.pool.write { db in try db.execute(sql: "UPDATE quiz SET slug = 'renamed'") }
        #expect(try quizzes.quiz(slug: "q") == nil)
        #expect(Self.prompts(try quizzes.quiz(slug: "renamed")) == ["Question a?", "New prompt?"])
        // Deleted and imported again: a new quiz id, even if the revision number repeats.
        try other.pool.write { db in try db.execute(sql: "DELETE FROM quiz") }
        #expect(try quizzes.quiz(slug: "renamed") == nil)
        _ = try QuizStore(database: other).importQuiz(
            twoOptionQuiz("Again", keys: ["z"]), slug: "renamed", sourceName: "q.gift", now: Self.now)
        #expect(Self.prompts(try quizzes.quiz(slug: "renamed")) == ["Question z?"])
    }
}

@Suite struct PageQueryTests {
    @Test func emptyTextBindsAsEmptyTextNotNull() throws {
        let temporary = try TemporaryDatabase()
        defer { temporary.remove() }
        let results = try temporary.database.pool.read { db in
            try ["", "x", "é"].map { text in
                try db.firstRow("SELECT ? IS NULL, length(?)", [.text(text), .text(text)]) { ($0.bool(0), $0.int(1)) }
            }
        }
        #expect(results.map { $0?.0 } == [false, false, false])
        #expect(results.map { $0?.1 } == [0, 1, 1])
    }

    /// Page queries on a thread's reader are prepared once per connection and found by the
    /// literal's address; a read of another database inside a read uses that database's own
    /// connection, so does a write to it (its pool's writer, while the outer reader is still the
    /// thread's current one), and the outer read's statements still answer from the outer file.
    @Test func readersKeepTheirStatementsApartAcrossNestedDatabases() throws {
        let first = try TemporaryDatabase(perThreadReaders: true)
        let second = try TemporaryDatabase(perThreadReaders: true)
        defer {
            first.remove()
            second.remove()
        }
        try first.database.pool.write { db in try db.execute(sql: "CREATE TABLE marker (name TEXT)") }
        try first.database.pool.write { db in try db.execute(sql: "INSERT INTO marker VALUES ('first')") }
        try second.database.pool.write { db in try db.execute(sql: "CREATE TABLE marker (name TEXT)") }
        try second.database.pool.write { db in try db.execute(sql: "INSERT INTO marker VALUES ('second')") }
        func marker(_ db: Database) throws -> String? {
            try db.firstRow("SELECT name FROM marker", []) { $0.text(0) }
        }
        for _ in 0..<3 {
            let names = try first.database.read { db -> [String?] in
                let outer = try marker(db)
                let inner = try second.database.read { try marker($0) }
                let written = try second.database.pool.write { try marker($0) }
                return [outer, inner, written, try marker(db)]
            }
            #expect(names == ["first", "second", "second", "first"])
        }
        // Writes use the pool's writer, not a reader: GRDB's statement cache serves them.
        #expect(try first.database.pool.write { try marker($0) } == "first")
    }
}
