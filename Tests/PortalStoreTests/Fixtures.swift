import Foundation
import PortalDomain

@testable import PortalStore

/// A migrated database in a fresh temporary directory; `remove()` deletes it.
struct TemporaryDatabase {
    let directory: String
    let database: PortalDatabase

    init(perThreadReaders: Bool = false, statementObserver: (@Sendable (String) -> Void)? = nil) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        database = try PortalDatabase(
            path: directory + "/portal.db", perThreadReaders: perThreadReaders, statementObserver: statementObserver)
        try database.migrate()
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }

    var accounts: AccountStore { AccountStore(database: database) }
    var quizzes: QuizStore { QuizStore(database: database) }
    var study: StudyStore { StudyStore(database: database) }
    var journal: JournalStore { JournalStore(database: database) }

    /// A learner in UTC with a setup code, as `user add` makes one.
    func addLearner(_ name: String, now: Int64) throws -> Learner {
        try accounts.addLearner(username: name, timeZone: "UTC", codeHash: name, now: now, codeExpiresAt: now + 100)
    }
}

/// A quiz with one question per key, each with a right and a wrong option.
func twoOptionQuiz(_ title: String, keys: [String]) -> QuizDocument {
    QuizDocument(
        title: title,
        questions: keys.enumerated().map { index, key in
            QuizQuestion(
                key: key, prompt: "Question \(key)?",
                options: [QuizOption(text: "right", isCorrect: true), QuizOption(text: "wrong", isCorrect: false)],
                line: index + 1)
        })
}
