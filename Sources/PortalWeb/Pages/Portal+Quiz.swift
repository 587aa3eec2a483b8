import FastCGI
import Foundation
import PortalDomain
import PortalStore

/// `/quiz/<slug>`: one plain form, results, attempts.
extension Portal {
    func quizForm(_ exchange: inout Exchange) throws -> Response {
        _ = try exchange.requireLearner()
        guard let quiz = try quizzes.quiz(slug: exchange.capture("slug")) else { throw HTTPError(404) }
        return page("quiz", title: quiz.title, quizValues(quiz, chosen: [:], missing: []), exchange: &exchange)
    }

    func submitQuiz(_ exchange: inout Exchange) throws -> Response {
        let session = try exchange.requireLearner()
        guard let quiz = try quizzes.quiz(slug: exchange.capture("slug")) else { throw HTTPError(404) }
        var chosen: [Int64: Int64] = [:]
        var missing: Set<Int64> = []
        var answers: [SubmittedAnswer] = []
        for question in quiz.questions {
            guard let value = exchange.form["q\(question.id)"], let optionID = Int64(value),
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
            values["error"] =
                missing.count == 1
                ? "One question has no answer yet. It is marked below; your other answers are kept."
                : "\(missing.count) questions have no answer yet. They are marked below; your other answers are kept."
            return page("quiz", title: quiz.title, values, status: 200, exchange: &exchange)
        }
        let learner = session.learner
        let day = today(for: learner, at: exchange.now)
        let attemptID = try study.recordAttempt(
            learnerID: learner.id, quizID: quiz.id, answers: answers, on: day, now: exchange.nowSeconds)
        let score = answers.filter(\.correct).count
        record(
            "quiz_submitted", username: learner.username, exchange, outcome: "succeeded",
            details: ["quiz": quiz.slug, "attempt": "\(attemptID)", "score": "\(score)/\(answers.count)"])
        return redirect("/quiz/\(quiz.slug)/attempts/\(attemptID)")
    }

    func attemptResult(_ exchange: inout Exchange) throws -> Response {
        let session = try exchange.requireLearner()
        guard let attempt = try study.attempt(id: try id(exchange, "id"), learnerID: session.learner.id),
            attempt.quizSlug == exchange.capture("slug")
        else { throw HTTPError(404) }
        let wrong = attempt.answers.filter { !$0.correct }
        let values: [String: Any] = [
            "slug": attempt.quizSlug, "quizTitle": attempt.quizTitle, "score": attempt.score, "total": attempt.total,
            "allRight": wrong.isEmpty, "submitted": localTime(attempt.submittedAt, for: session.learner),
            "wrong": wrong.map { answer -> [String: Any] in
                var item: [String: Any] = ["prompt": answer.prompt, "chosen": answer.chosenText]
                item["right"] = answer.rightText
                item["feedback"] = answer.feedback
                item["generalFeedback"] = answer.generalFeedback
                return item
            },
            "wrongCount": wrong.count,
        ]
        return page("quiz-result", title: "\(attempt.quizTitle): result", values, exchange: &exchange)
    }

    private func quizValues(_ quiz: QuizView, chosen: [Int64: Int64], missing: Set<Int64>) -> [String: Any] {
        [
            "slug": quiz.slug, "title": quiz.title, "count": quiz.questions.count,
            "questions": quiz.questions.enumerated().map { index, question -> [String: Any] in
                [
                    "number": index + 1, "id": question.id, "prompt": question.prompt,
                    "missing": missing.contains(question.id),
                    "options": question.options.map { option -> [String: Any] in
                        [
                            "id": option.id, "questionId": question.id, "text": option.text,
                            "checked": chosen[question.id] == option.id,
                        ]
                    },
                ]
            },
        ]
    }
}
