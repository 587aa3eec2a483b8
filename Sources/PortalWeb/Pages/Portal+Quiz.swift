import FastCGI
import Foundation
import PortalDomain
import PortalStore

/// `/quiz/<slug>`: one plain form, results, attempts.
extension Portal {
    func quizForm(_ exchange: inout Exchange) throws -> Response {
        _ = try exchange.requireLearner()
        guard let quiz = try quizzes.quiz(slug: exchange.capture("slug")) else { throw HTTPError(404) }
        // The blank form only changes with the quiz (and the CSRF token), so it renders once per
        // quiz revision.
        return keptPage(
            "quiz", slot: quiz.slug, version: "\(quiz.id) \(quiz.revision)", title: quiz.title, exchange: &exchange
        ) {
            quizValues(quiz, chosen: [:], missing: [])
        }
    }

    func submitQuiz(_ exchange: inout Exchange) throws -> Response {
        let session = try exchange.requireLearner()
        guard let quiz = try quizzes.quiz(slug: exchange.capture("slug")) else { throw HTTPError(404) }
        var chosen: [Int64: Int64] = [:]
        var missing: Set<Int64> = []
        var answers: [SubmittedAnswer] = []
        for question in quiz.questions {
            guard let optionID = try exchange.number(Numbers.answer, id: question.id)?.value,
                let option = question.options.first(where: { $0.id == optionID })
            else {
                missing.insert(question.id)
                continue
            }
            chosen[question.id] = optionID
            answers.append(SubmittedAnswer(questionID: question.id, chosenText: option.text, correct: option.isCorrect))
        }
        if !missing.isEmpty {
            var values = quizValues(quiz, chosen: chosen, missing: missing)
            values["error"] = .text(
                missing.count == 1
                    ? "One question has no answer yet. It is marked below; your other answers are kept."
                    : "\(missing.count) questions have no answer yet. They are marked below; your other answers are kept.")
            return page("quiz", title: quiz.title, values, status: 200, exchange: &exchange)
        }
        let learner = session.learner
        let day = today(for: learner, at: exchange.now)
        let attemptID: Int64
        do {
            attemptID = try study.recordAttempt(
                learnerID: learner.id, quizID: quiz.id, answers: answers, on: day, now: exchange.nowSeconds)
        } catch let limit as LearnerLimitReached {
            var values = quizValues(quiz, chosen: chosen, missing: [])
            values["error"] = .text("Not submitted: \(limit). Your answers are kept below; ask your teacher.")
            return page("quiz", title: quiz.title, values, status: 200, exchange: &exchange)
        }
        let score = answers.filter(\.correct).count
        record(
            "quiz_submitted", username: learner.username, exchange, outcome: "succeeded",
            details: ["quiz": quiz.slug, "attempt": "\(attemptID)", "score": "\(score)/\(answers.count)"])
        return redirect("/quiz/\(quiz.slug)/attempts/\(attemptID)")
    }

    func attemptResult(_ exchange: inout Exchange) throws -> Response {
        let session = try exchange.requireLearner()
        guard let attempt = try study.attempt(id: try exchange.required(Numbers.attemptID).value, learnerID: session.learner.id),
            attempt.quizSlug == exchange.capture("slug")
        else { throw HTTPError(404) }
        let wrong = attempt.answers.filter { !$0.correct }
        let values: TemplateValues = [
            "slug": .text(attempt.quizSlug), "quizTitle": .text(attempt.quizTitle), "score": .number(attempt.score),
            "total": .number(attempt.total), "allRight": .bool(wrong.isEmpty),
            "submitted": .text(localTime(attempt.submittedAt, in: timeZone(of: session.learner))),
            "wrong": .list(
                wrong.map { answer in
                    var item: TemplateValues = ["prompt": .text(answer.prompt), "chosen": .text(answer.chosenText)]
                    item["right"] = .optional(answer.rightText)
                    item["feedback"] = .optional(answer.feedback)
                    item["generalFeedback"] = .optional(answer.generalFeedback)
                    return .object(item)
                }),
            "wrongCount": .number(wrong.count),
        ]
        return page("quiz-result", title: "\(attempt.quizTitle): result", values, exchange: &exchange)
    }

    private func quizValues(_ quiz: QuizView, chosen: [Int64: Int64], missing: Set<Int64>) -> TemplateValues {
        [
            "slug": .text(quiz.slug), "title": .text(quiz.title), "count": .number(quiz.questions.count),
            "questions": .list(
                quiz.questions.enumerated().map { index, question in
                    let questionID = TemplateValue.number(question.id)
                    return [
                        "number": .number(index + 1), "id": questionID, "prompt": .text(question.prompt),
                        "missing": .bool(missing.contains(question.id)),
                        "options": .list(
                            question.options.map { option in
                                [
                                    "id": .number(option.id), "questionId": questionID, "text": .text(option.text),
                                    "checked": .bool(chosen[question.id] == option.id),
                                ]
                            }),
                    ]
                }),
        ]
    }
}
