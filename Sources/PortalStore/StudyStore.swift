import GRDB
import PortalDomain

/// One answer in a submitted attempt.
public struct SubmittedAnswer: Sendable {
    public var questionID: Int64
    public var chosenText: String
    public var correct: Bool

    public init(questionID: Int64, chosenText: String, correct: Bool) {
        self.questionID = questionID
        self.chosenText = chosenText
        self.correct = correct
    }
}

/// A stored attempt with what the result page shows.
public struct AttemptView: Sendable {
    public var id: Int64
    public var quizSlug: String
    public var quizTitle: String
    public var submittedAt: Int64
    public var score: Int
    public var total: Int
    public var answers: [AnswerView]
}

public struct AnswerView: Sendable {
    public var prompt: String
    public var chosenText: String
    public var correct: Bool
    public var rightText: String?
    public var feedback: String?
    public var generalFeedback: String?
}

/// A review card with its question, as `/review` shows it.
public struct CardView: Sendable {
    public var id: Int64
    public var question: QuestionView
    public var state: SM2State
    public var dueDay: StudyDay
    /// True when this is a same-day repeat (graded below 4 earlier today).
    public var isRepeat: Bool
}

/// `/review` without a graded or missed notice: the first card of today's queue and how many
/// are left, or the next due day when nothing is left.
public struct ReviewState: Sendable {
    public var card: CardView?
    public var remaining: Int
    public var nextDue: StudyDay?
}

/// What grading a card did.
public struct ReviewOutcome: Sendable, Equatable {
    public var state: SM2State
    public var dueDay: StudyDay
    public var scheduleChanged: Bool
    public var repeatsToday: Bool
}

public enum StudyError: Error, Equatable {
    case noSuchCard
}

/// Attempts, review cards and their SM-2 schedule.
public struct StudyStore: Sendable {
    public let database: PortalDatabase
    public let limits: LearnerLimits

    public init(database: PortalDatabase, limits: LearnerLimits = .standard) {
        self.database = database
        self.limits = limits
    }

    /// Stores an attempt and its answers, and grades each wrongly answered question's card with
    /// q = 1 (creating the card when new), all in one transaction. Returns the attempt id.
    /// Throws `LearnerLimitReached` (writing nothing) when the learner has `limits.quizAttempts`.
    public func recordAttempt(
        learnerID: Int64, quizID: Int64, answers: [SubmittedAnswer], on day: StudyDay, now: Int64
    ) throws -> Int64 {
        try database.pool.write { db in
            let stored =
                try Int.fetchOne(
                    db.cachedStatement(sql: "SELECT count(*) FROM attempt WHERE learner_id = ?"), arguments: [learnerID]) ?? 0
            guard stored < limits.quizAttempts else {
                throw LearnerLimitReached(kind: .quizAttempts, limit: limits.quizAttempts)
            }
            let score = answers.filter(\.correct).count
            try db.execute(
                sql: "INSERT INTO attempt (learner_id, quiz_id, submitted_at, study_day, score, total) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [learnerID, quizID, now, day.description, score, answers.count])
            let attemptID = db.lastInsertedRowID
            for answer in answers {
                try db.execute(
                    sql: "INSERT INTO attempt_answer (attempt_id, question_id, chosen_text, correct) VALUES (?, ?, ?, ?)",
                    arguments: [attemptID, answer.questionID, answer.chosenText, answer.correct])
                guard !answer.correct else { continue }
                let cardID: Int64
                if let existing = try Int64.fetchOne(
                    db.cachedStatement(sql: "SELECT id FROM review_card WHERE learner_id = ? AND question_id = ?"),
                    arguments: [learnerID, answer.questionID])
                {
                    cardID = existing
                } else {
                    let new = SM2State.new
                    try db.execute(
                        sql: """
                            INSERT INTO review_card (learner_id, question_id, easiness, repetitions, interval_days, due_day,
                                created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                            """,
                        arguments: [
                            learnerID, answer.questionID, new.easinessHundredths, new.repetitions, new.intervalDays,
                            day.description, now, now,
                        ])
                    cardID = db.lastInsertedRowID
                }
                _ = try Self.grade(db, cardID: cardID, learnerID: learnerID, quality: .wrong, on: day, now: now, source: .quiz)
            }
            return attemptID
        }
    }

    /// Grades a card from `/review` in one transaction.
    public func review(cardID: Int64, learnerID: Int64, quality: Quality, on day: StudyDay, now: Int64) throws
        -> ReviewOutcome
    {
        try database.pool.write { db in
            try Self.grade(db, cardID: cardID, learnerID: learnerID, quality: quality, on: day, now: now, source: .review)
        }
    }

    enum Source: String {
        case quiz, review
    }

    /// SM-2 with the same-day rule: the first grading on a study day changes the schedule;
    /// later ones that day (repeats) do not. In `/review`, a grade below 4 queues the card again
    /// for the same day until it is graded 4 or 5. A quiz miss never queues a same-day repeat.
    static func grade(
        _ db: Database, cardID: Int64, learnerID: Int64, quality: Quality, on day: StudyDay, now: Int64, source: Source
    ) throws -> ReviewOutcome {
        guard
            let row = try Row.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT easiness, repetitions, interval_days, due_day, last_reviewed_day, repeat_day
                        FROM review_card WHERE id = ? AND learner_id = ? AND retired = 0
                        """),
                arguments: [cardID, learnerID])
        else { throw StudyError.noSuchCard }
        var state = SM2State(
            easinessHundredths: row["easiness"], repetitions: row["repetitions"], intervalDays: row["interval_days"])
        var due = StudyDay(row["due_day"] as String) ?? day
        let reviewedToday = (row["last_reviewed_day"] as String?) == day.description
        let scheduleChanged = !reviewedToday
        if scheduleChanged {
            state = state.grading(quality)
            due = state.dueDay(reviewedOn: day)
        }
        let repeatsToday = source == .review && SM2State.repeatsToday(after: quality)
        let repeatDay: String? =
            repeatsToday ? day.description : (source == .quiz ? (row["repeat_day"] as String?) : nil)
        try db.execute(
            sql: """
                UPDATE review_card SET easiness = ?, repetitions = ?, interval_days = ?, due_day = ?,
                    last_reviewed_day = ?, repeat_day = ?, updated_at = ? WHERE id = ?
                """,
            arguments: [
                state.easinessHundredths, state.repetitions, state.intervalDays, due.description, day.description,
                repeatDay, now, cardID,
            ])
        try db.execute(
            sql: """
                INSERT INTO review_log (card_id, reviewed_at, study_day, quality, source, schedule_changed, easiness,
                    repetitions, interval_days, due_day) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                cardID, now, day.description, quality.value, source.rawValue, scheduleChanged, state.easinessHundredths,
                state.repetitions, state.intervalDays, due.description,
            ])
        return ReviewOutcome(state: state, dueDay: due, scheduleChanged: scheduleChanged, repeatsToday: repeatsToday)
    }

    /// Ids of today's queue: scheduled cards not yet reviewed today (oldest due first; on the
    /// same due day, the one reviewed longest ago, never-reviewed cards first), then same-day
    /// repeats (longest waiting first). The order is card_due's, so no query has to sort.
    public func queue(learnerID: Int64, on day: StudyDay) throws -> [Int64] {
        try database.read { db in try Self.queue(db, learnerID: learnerID, day: day) }
    }

    static func queue(_ db: Database, learnerID: Int64, day: StudyDay) throws -> [Int64] {
        let due = try Int64.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT id FROM review_card
                    WHERE learner_id = ? AND retired = 0 AND due_day <= ?
                        AND (last_reviewed_day IS NULL OR last_reviewed_day < ?)
                    ORDER BY due_day, last_reviewed_day, id
                    """),
            arguments: [learnerID, day.description, day.description])
        let repeats = try Int64.fetchAll(
            db.cachedStatement(
                sql: "SELECT id FROM review_card WHERE learner_id = ? AND retired = 0 AND repeat_day = ? ORDER BY updated_at, id"),
            arguments: [learnerID, day.description])
        return due + repeats.filter { !due.contains($0) }
    }

    /// The first card in today's queue, or nil when nothing is left today.
    public func nextCard(learnerID: Int64, on day: StudyDay) throws -> CardView? {
        try database.read { db in
            guard let id = try Self.firstInQueue(db, learnerID: learnerID, day: day) else { return nil }
            return try Self.card(db, id: id, learnerID: learnerID, day: day)
        }
    }

    /// What `/review` shows, in one read: the first card of today's queue and how many are
    /// left, or when nothing is left, the next due day.
    public func reviewState(learnerID: Int64, on day: StudyDay) throws -> ReviewState {
        try database.read { db in
            guard let id = try Self.firstInQueue(db, learnerID: learnerID, day: day),
                let card = try Self.card(db, id: id, learnerID: learnerID, day: day)
            else {
                return ReviewState(card: nil, remaining: 0, nextDue: try Self.nextDueDay(db, learnerID: learnerID, after: day))
            }
            return ReviewState(card: card, remaining: try Self.queueCount(db, learnerID: learnerID, day: day), nextDue: nil)
        }
    }

    /// Whether the card is in today's queue (a resubmitted form's card may not be any more).
    public func isQueued(cardID: Int64, learnerID: Int64, on day: StudyDay) throws -> Bool {
        try database.read { db in
            try Int.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT 1 FROM review_card WHERE id = ? AND learner_id = ? AND retired = 0
                            AND ((due_day <= ? AND (last_reviewed_day IS NULL OR last_reviewed_day < ?)) OR repeat_day = ?)
                        """),
                arguments: [cardID, learnerID, day.description, day.description, day.description]) != nil
        }
    }

    /// The queue's length without reading it (`queueOutlook`'s count).
    static func queueCount(_ db: Database, learnerID: Int64, day: StudyDay) throws -> Int {
        try queueOutlook(db, learnerID: learnerID, day: day).due
    }

    /// The queue's length without reading it, and when it is empty the next due day
    /// (`nextDueDay`), in one statement: scheduled cards not yet reviewed today plus same-day
    /// repeats that are not among them, both counted from the covering index (?1 is the learner,
    /// ?2 today).
    static func queueOutlook(_ db: Database, learnerID: Int64, day: StudyDay) throws -> (due: Int, nextDue: StudyDay?) {
        try db.firstRow(
            """
            SELECT
                (SELECT count(*) FROM review_card WHERE learner_id = ?1 AND retired = 0 AND due_day <= ?2
                    AND (last_reviewed_day IS NULL OR last_reviewed_day < ?2)),
                (SELECT count(*) FROM review_card WHERE learner_id = ?1 AND retired = 0 AND repeat_day = ?2
                    AND NOT (due_day <= ?2 AND (last_reviewed_day IS NULL OR last_reviewed_day < ?2))),
                (SELECT min(due_day) FROM review_card WHERE learner_id = ?1 AND retired = 0 AND due_day > ?2)
            """, [.int(learnerID), .text(day.description)]
        ) { row in
            let due = row.int(0) + row.int(1)
            return (due, due == 0 ? row.optionalText(2).flatMap(StudyDay.init) : nil)
        } ?? (0, nil)
    }

    /// The id `queue(...).first` would give, reading one row.
    static func firstInQueue(_ db: Database, learnerID: Int64, day: StudyDay) throws -> Int64? {
        let today = QueryArgument.text(day.description)
        if let scheduled = try db.firstRow(
            """
            SELECT id FROM review_card WHERE learner_id = ? AND retired = 0 AND due_day <= ?
                AND (last_reviewed_day IS NULL OR last_reviewed_day < ?)
            ORDER BY due_day, last_reviewed_day, id LIMIT 1
            """, [.int(learnerID), today, today], { $0.int64(0) })
        {
            return scheduled
        }
        // Nothing scheduled is left, so no repeat can be among the scheduled cards.
        return try db.firstRow(
            """
            SELECT id FROM review_card WHERE learner_id = ? AND retired = 0 AND repeat_day = ?
            ORDER BY updated_at, id LIMIT 1
            """, [.int(learnerID), today]
        ) { $0.int64(0) }
    }

    /// A card of this learner (nil for another learner's card or an unknown id).
    public func card(id: Int64, learnerID: Int64, on day: StudyDay) throws -> CardView? {
        try database.read { db in try Self.card(db, id: id, learnerID: learnerID, day: day) }
    }

    static func card(_ db: Database, id: Int64, learnerID: Int64, day: StudyDay) throws -> CardView? {
        let today = day.description
        guard
            var card = try db.firstRow(
                """
                SELECT c.id, c.easiness, c.repetitions, c.interval_days, c.due_day, c.repeat_day,
                    q.id AS question_id, q.prompt, q.general_feedback
                FROM review_card c JOIN question q ON q.id = c.question_id
                WHERE c.id = ? AND c.learner_id = ? AND c.retired = 0
                """, [.int(id), .int(learnerID)],
                { row in
                    CardView(
                        id: row.int64(0),
                        question: QuestionView(
                            id: row.int64(6), prompt: row.text(7), generalFeedback: row.optionalText(8), options: []),
                        state: SM2State(easinessHundredths: row.int(1), repetitions: row.int(2), intervalDays: row.int(3)),
                        dueDay: StudyDay(row.text(4)) ?? day,
                        isRepeat: row.optionalText(5) == today)
                })
        else { return nil }
        card.question.options = try QuizStore.storedOptions(db, questionID: card.question.id)
        return card
    }

    /// Cards left in today's queue.
    public func dueCount(learnerID: Int64, on day: StudyDay) throws -> Int {
        try database.read { db in try Self.queueCount(db, learnerID: learnerID, day: day) }
    }

    /// The earliest due day after `day`, when nothing is left today.
    public func nextDueDay(learnerID: Int64, after day: StudyDay) throws -> StudyDay? {
        try database.read { db in try Self.nextDueDay(db, learnerID: learnerID, after: day) }
    }

    static func nextDueDay(_ db: Database, learnerID: Int64, after day: StudyDay) throws -> StudyDay? {
        try db.firstRow(
            "SELECT min(due_day) FROM review_card WHERE learner_id = ? AND retired = 0 AND due_day > ?",
            [.int(learnerID), .text(day.description)]
        ) { $0.optionalText(0) }?.flatMap(StudyDay.init)
    }

    /// An attempt of this learner, with each answer, the right answer and feedback.
    public func attempt(id: Int64, learnerID: Int64) throws -> AttemptView? {
        try database.read { db in
            guard
                let row = try Row.fetchOne(
                    db.cachedStatement(
                        sql: """
                            SELECT a.id, a.submitted_at, a.score, a.total, q.slug, q.title
                            FROM attempt a JOIN quiz q ON q.id = a.quiz_id WHERE a.id = ? AND a.learner_id = ?
                            """),
                    arguments: [id, learnerID])
            else { return nil }
            let answers = try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT aa.question_id, aa.chosen_text, aa.correct, q.prompt, q.general_feedback
                        FROM attempt_answer aa JOIN question q ON q.id = aa.question_id
                        WHERE aa.attempt_id = ? ORDER BY q.position
                        """),
                arguments: [id]
            ).map { answer -> AnswerView in
                let options = try QuizStore.storedOptions(db, questionID: answer["question_id"])
                let chosen: String = answer["chosen_text"]
                return AnswerView(
                    prompt: answer["prompt"], chosenText: chosen, correct: answer["correct"],
                    rightText: options.first(where: \.isCorrect)?.text,
                    feedback: options.first(where: { $0.text == chosen })?.feedback,
                    generalFeedback: answer["general_feedback"])
            }
            return AttemptView(
                id: row["id"], quizSlug: row["slug"], quizTitle: row["title"], submittedAt: row["submitted_at"],
                score: row["score"], total: row["total"], answers: answers)
        }
    }
}
