import Foundation
import GRDB
import PortalDomain

/// What an import changed, for the operator.
public struct QuizImportSummary: Sendable, Equatable, CustomStringConvertible {
    public var slug: String
    public var total: Int
    public var added: Int
    public var updated: Int
    public var unchanged: Int
    public var retired: Int

    public var description: String {
        "\(slug): \(total) questions (\(added) new, \(updated) updated, \(unchanged) unchanged, \(retired) retired)"
    }
}

/// A quiz as learners see it.
public struct QuizView: Sendable {
    public var id: Int64
    /// Raised by every change to the quiz (migration v5-quiz-revision): the same id and
    /// revision mean the same questions and options.
    public var revision: Int64
    public var slug: String
    public var title: String
    public var questions: [QuestionView]
}

public struct QuestionView: Sendable {
    public var id: Int64
    public var prompt: String
    public var generalFeedback: String?
    public var options: [OptionView]

    public var correctOption: OptionView? { options.first(where: \.isCorrect) }
}

public struct OptionView: Sendable {
    public var id: Int64
    public var text: String
    public var isCorrect: Bool
    public var feedback: String?
}

/// A quiz on the home page: best score and last attempt of one learner.
public struct QuizSummary: Sendable {
    public var slug: String
    public var title: String
    public var questionCount: Int
    public var attempts: Int
    public var bestScore: Int?
    public var bestTotal: Int?
    public var lastSubmittedAt: Int64?
}

/// Quizzes: idempotent import, reading for the quiz page, summaries.
public struct QuizStore: Sendable {
    public let database: PortalDatabase
    private let views = QuizViewCache()

    public init(database: PortalDatabase) {
        self.database = database
    }

    /// Imports or re-imports a parsed quiz in one transaction. Questions keep their identity by
    /// key; a question missing from the file is retired (with its cards), never deleted, so
    /// attempts and review history stay.
    public func importQuiz(_ document: QuizDocument, slug: String, sourceName: String, now: Int64) throws
        -> QuizImportSummary
    {
        try database.pool.write { db in
            let title = document.title ?? slug
            var summary = QuizImportSummary(
                slug: slug, total: document.questions.count, added: 0, updated: 0, unchanged: 0, retired: 0)
            let quizID: Int64
            if let existing = try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM quiz WHERE slug = ?"), arguments: [slug])
            {
                quizID = existing
                try db.execute(
                    sql: "UPDATE quiz SET title = ?, source_name = ?, imported_at = ? WHERE id = ?",
                    arguments: [title, sourceName, now, quizID])
            } else {
                try db.execute(
                    sql: "INSERT INTO quiz (slug, title, source_name, imported_at) VALUES (?, ?, ?, ?)",
                    arguments: [slug, title, sourceName, now])
                quizID = db.lastInsertedRowID
            }
            var seen = Set<Int64>()
            for (position, question) in document.questions.enumerated() {
                let row = try Row.fetchOne(
                    db.cachedStatement(
                        sql:
                            "SELECT id, prompt, general_feedback, position, retired_at FROM question WHERE quiz_id = ? AND key = ?"
                    ),
                    arguments: [quizID, question.key])
                let questionID: Int64
                if let row {
                    questionID = row["id"]
                    let options = try Self.storedOptions(db, questionID: questionID)
                    let sameOptions =
                        options.map { QuizOption(text: $0.text, isCorrect: $0.isCorrect, feedback: $0.feedback) }
                        == question.options
                    let same =
                        sameOptions && row["prompt"] == question.prompt
                        && row["general_feedback"] == question.generalFeedback && (row["retired_at"] as Int64?) == nil
                    if same {
                        summary.unchanged += 1
                        if row["position"] != position {
                            try db.execute(
                                sql: "UPDATE question SET position = ? WHERE id = ?", arguments: [position, questionID])
                        }
                    } else {
                        summary.updated += 1
                        try db.execute(
                            sql:
                                "UPDATE question SET prompt = ?, general_feedback = ?, position = ?, retired_at = NULL WHERE id = ?",
                            arguments: [question.prompt, question.generalFeedback, position, questionID])
                        try db.execute(sql: "UPDATE review_card SET retired = 0 WHERE question_id = ?", arguments: [questionID])
                        if !sameOptions {
                            try db.execute(sql: "DELETE FROM option WHERE question_id = ?", arguments: [questionID])
                            try Self.insertOptions(db, question.options, questionID: questionID)
                        }
                    }
                } else {
                    summary.added += 1
                    try db.execute(
                        sql: "INSERT INTO question (quiz_id, key, prompt, general_feedback, position) VALUES (?, ?, ?, ?, ?)",
                        arguments: [quizID, question.key, question.prompt, question.generalFeedback, position])
                    questionID = db.lastInsertedRowID
                    try Self.insertOptions(db, question.options, questionID: questionID)
                }
                seen.insert(questionID)
            }
            let live = try Int64.fetchAll(
                db.cachedStatement(sql: "SELECT id FROM question WHERE quiz_id = ? AND retired_at IS NULL"), arguments: [quizID])
            for questionID in live where !seen.contains(questionID) {
                summary.retired += 1
                try db.execute(sql: "UPDATE question SET retired_at = ? WHERE id = ?", arguments: [now, questionID])
                try db.execute(sql: "UPDATE review_card SET retired = 1 WHERE question_id = ?", arguments: [questionID])
            }
            return summary
        }
    }

    /// The quiz with its live questions in file order, or nil.
    ///
    /// The last view read of each quiz is kept with the quiz's revision (migration
    /// v5-quiz-revision), so a page view reads one row unless the quiz changed since, in this
    /// process or another (`quiz import`).
    public func quiz(slug: String) throws -> QuizView? {
        try database.read { db in
            guard
                let (version, title) = try db.firstRow(
                    "SELECT id, revision, title FROM quiz WHERE slug = ?", [.text(slug)],
                    { (QuizViewCache.Version(quizID: $0.int64(0), revision: $0.int64(1)), $0.text(2)) })
            else {
                views.remove(slug)
                return nil
            }
            if let view = views.view(slug, version) { return view }
            let view = try Self.loadQuiz(db, id: version.quizID, revision: version.revision, slug: slug, title: title)
            views.keep(view, slug, version)
            return view
        }
    }

    static func loadQuiz(_ db: Database, id quizID: Int64, revision: Int64, slug: String, title: String) throws
        -> QuizView
    {
        // Cursors, not fetchAll: rows are decoded in place instead of copied first.
        var byQuestion: [Int64: [OptionView]] = [:]
        let options = try Row.fetchCursor(
            db.cachedStatement(
                sql: """
                    SELECT o.id, o.question_id, o.text, o.is_correct, o.feedback FROM option o
                    JOIN question q ON q.id = o.question_id
                    WHERE q.quiz_id = ? AND q.retired_at IS NULL ORDER BY o.question_id, o.position
                    """),
            arguments: [quizID])
        while let option = try options.next() {
            byQuestion[option[1] as Int64, default: []].append(
                OptionView(id: option[0], text: option[2], isCorrect: option[3], feedback: option[4]))
        }
        var questions: [QuestionView] = []
        let rows = try Row.fetchCursor(
            db.cachedStatement(
                sql:
                    "SELECT id, prompt, general_feedback FROM question WHERE quiz_id = ? AND retired_at IS NULL ORDER BY position"
            ),
            arguments: [quizID])
        while let question = try rows.next() {
            let id: Int64 = question[0]
            questions.append(
                QuestionView(id: id, prompt: question[1], generalFeedback: question[2], options: byQuestion[id] ?? []))
        }
        return QuizView(id: quizID, revision: revision, slug: slug, title: title, questions: questions)
    }

    /// Every quiz with the learner's attempt count, best score and last attempt.
    public func summaries(learnerID: Int64) throws -> [QuizSummary] {
        try database.read { db in try Self.summaries(db, learnerID: learnerID) }
    }

    static func summaries(_ db: Database, learnerID: Int64) throws -> [QuizSummary] {
        // Two plain reads, combined here: the learner's attempts (a handful) and the quizzes with
        // their trigger-kept question counts. Correlated subqueries per quiz cost far more.
        struct Seen {
            var count: Int
            var best: Int
            var bestTotal: Int
            var last: Int64
        }
        var attempts: [Int64: Seen] = [:]
        try db.forEachRow("SELECT quiz_id, score, total, submitted_at FROM attempt WHERE learner_id = ?", [.int(learnerID)]) {
            row in
            let (quizID, score, total, submitted) = (row.int64(0), row.int(1), row.int(2), row.int64(3))
            if var seen = attempts[quizID] {
                seen.count += 1
                if score > seen.best { (seen.best, seen.bestTotal) = (score, total) }
                seen.last = max(seen.last, submitted)
                attempts[quizID] = seen
            } else {
                attempts[quizID] = Seen(count: 1, best: score, bestTotal: total, last: submitted)
            }
        }
        var summaries: [QuizSummary] = []
        try db.forEachRow("SELECT id, slug, title, live_questions FROM quiz ORDER BY title", []) { row in
            let seen = attempts[row.int64(0)]
            summaries.append(
                QuizSummary(
                    slug: row.text(1), title: row.text(2), questionCount: row.int(3), attempts: seen?.count ?? 0,
                    bestScore: seen?.best, bestTotal: seen?.bestTotal, lastSubmittedAt: seen?.last))
        }
        return summaries
    }

    static func storedOptions(_ db: Database, questionID: Int64) throws -> [OptionView] {
        var options: [OptionView] = []
        try db.forEachRow(
            "SELECT id, text, is_correct, feedback FROM option WHERE question_id = ? ORDER BY position", [.int(questionID)]
        ) { row in
            options.append(OptionView(id: row.int64(0), text: row.text(1), isCorrect: row.bool(2), feedback: row.optionalText(3)))
        }
        return options
    }

    static func insertOptions(_ db: Database, _ options: [QuizOption], questionID: Int64) throws {
        for (position, option) in options.enumerated() {
            try db.execute(
                sql: "INSERT INTO option (question_id, position, text, is_correct, feedback) VALUES (?, ?, ?, ?, ?)",
                arguments: [questionID, position, option.text, option.isCorrect, option.feedback])
        }
    }
}

/// The quiz views read last, one per slug, each with the quiz row's id and revision it was read
/// at. Bounded by the number of quizzes: a slug that stops existing is dropped.
final class QuizViewCache: @unchecked Sendable {
    struct Version: Equatable {
        var quizID: Int64
        var revision: Int64
    }

    // NSLock rather than Synchronization.Mutex: ThreadSanitizer understands it.
    private let lock = NSLock()
    private var views: [String: (version: Version, view: QuizView)] = [:]

    func view(_ slug: String, _ version: Version) -> QuizView? {
        lock.withLock {
            guard let kept = views[slug], kept.version == version else { return nil }
            return kept.view
        }
    }

    func keep(_ view: QuizView, _ slug: String, _ version: Version) {
        lock.withLock { views[slug] = (version, view) }
    }

    func remove(_ slug: String) {
        _ = lock.withLock { views.removeValue(forKey: slug) }
    }
}
