import FastCGI
import Foundation
import PasswordHashing
import PortalDomain
import PortalStore

/// `/review`: today's due cards one at a time. Wrong → q = 1 and the right answer; right →
/// the learner picks Hard (3), Good (4) or Easy (5).
extension Portal {
    static let gradeNames = [3: "Hard", 4: "Good", 5: "Easy", 1: "Again"]

    func reviewPage(_ exchange: inout Exchange) throws -> Response {
        let session = try exchange.requireLearner()
        let learner = session.learner
        let day = today(for: learner, at: exchange.now)
        var values: [String: Any] = ["today": longDate(day)]
        if let gradedText = exchange.query["graded"], let cardID = Int64(gradedText),
            let card = try study.card(id: cardID, learnerID: learner.id, on: day)
        {
            let quality = exchange.query["q"].flatMap(Int.init) ?? 4
            values["graded"] =
                [
                    "grade": Self.gradeNames[quality] ?? "\(quality)",
                    "again": card.isRepeat,
                    "due": longDate(card.dueDay), "dueDay": card.dueDay.description,
                ] as [String: Any]
        }
        if let missedText = exchange.query["missed"], let cardID = Int64(missedText),
            let card = try study.card(id: cardID, learnerID: learner.id, on: day)
        {
            let chosen = exchange.query["chosen"].flatMap(Int64.init).flatMap { id in
                card.question.options.first { $0.id == id }
            }
            var missed: [String: Any] = ["prompt": card.question.prompt, "due": longDate(card.dueDay)]
            missed["chosen"] = chosen?.text
            missed["feedback"] = chosen?.feedback
            missed["right"] = card.question.correctOption?.text
            missed["generalFeedback"] = card.question.generalFeedback
            values["missed"] = missed
        }
        let queue = try study.queue(learnerID: learner.id, on: day)
        if let cardID = queue.first, let card = try study.card(id: cardID, learnerID: learner.id, on: day) {
            values["card"] = cardValues(card)
            values["remaining"] = queue.count
        } else {
            values["done"] = true
            if let next = try study.nextDueDay(learnerID: learner.id, after: day) {
                values["nextDue"] = longDate(next)
                values["nextDueDay"] = next.description
            }
        }
        return page("review", title: "Review", values, exchange: &exchange)
    }

    func answerCard(_ exchange: inout Exchange) throws -> Response {
        let session = try exchange.requireLearner()
        let learner = session.learner
        let day = today(for: learner, at: exchange.now)
        guard let cardID = exchange.form["card"].flatMap(Int64.init),
            let card = try study.card(id: cardID, learnerID: learner.id, on: day)
        else { throw HTTPError(404) }
        guard try study.queue(learnerID: learner.id, on: day).contains(cardID) else {
            return redirect("/review")  // already graded (a resubmitted form): carry on with the queue
        }
        guard let optionID = exchange.form["option"].flatMap(Int64.init),
            let option = card.question.options.first(where: { $0.id == optionID })
        else {
            var values: [String: Any] = ["today": longDate(day), "card": cardValues(card)]
            values["error"] = "Choose an answer first."
            values["remaining"] = try study.queue(learnerID: learner.id, on: day).count
            return page("review", title: "Review", values, exchange: &exchange)
        }
        if !option.isCorrect {
            let outcome = try study.review(
                cardID: cardID, learnerID: learner.id, quality: .wrong, on: day, now: exchange.nowSeconds)
            recordReview(cardID: cardID, quality: .wrong, outcome: outcome, learner: learner, exchange)
            return redirect("/review?missed=\(cardID)&chosen=\(optionID)")
        }
        let values: [String: Any] = [
            "card": cardValues(card), "chosen": option.text, "feedback": option.feedback ?? "",
            "token": gradeToken(learnerID: learner.id, cardID: cardID, day: day),
            "generalFeedback": card.question.generalFeedback ?? "",
        ]
        return page("review-grade", title: "Review: how was it?", values, exchange: &exchange)
    }

    func gradeCard(_ exchange: inout Exchange) throws -> Response {
        let session = try exchange.requireLearner()
        let learner = session.learner
        let day = today(for: learner, at: exchange.now)
        guard let cardID = exchange.form["card"].flatMap(Int64.init),
            try study.card(id: cardID, learnerID: learner.id, on: day) != nil
        else { throw HTTPError(404) }
        guard let value = exchange.form["quality"].flatMap(Int.init), [3, 4, 5].contains(value), let quality = Quality(value)
        else { throw HTTPError(400, "Pick Hard, Good or Easy.") }
        // The token proves this grade follows a right answer to this card today.
        guard ConstantTime.equal(exchange.form["token"] ?? "", gradeToken(learnerID: learner.id, cardID: cardID, day: day))
        else { throw HTTPError(400, "This grade form is out of date. Review the card again.") }
        guard try study.queue(learnerID: learner.id, on: day).contains(cardID) else { return redirect("/review") }
        let outcome = try study.review(cardID: cardID, learnerID: learner.id, quality: quality, on: day, now: exchange.nowSeconds)
        recordReview(cardID: cardID, quality: quality, outcome: outcome, learner: learner, exchange)
        return redirect("/review?graded=\(cardID)&q=\(value)")
    }

    private func gradeToken(learnerID: Int64, cardID: Int64, day: StudyDay) -> String {
        Tokens.mac("grade:\(learnerID):\(cardID):\(day)", key: configuration.sessionSecret)
    }

    private func recordReview(cardID: Int64, quality: Quality, outcome: ReviewOutcome, learner: Learner, _ exchange: Exchange) {
        record(
            "card_reviewed", username: learner.username, exchange, outcome: "succeeded",
            details: [
                "card": "\(cardID)", "q": "\(quality.value)", "due": outcome.dueDay.description,
                "schedule_changed": "\(outcome.scheduleChanged)",
            ])
    }

    private func cardValues(_ card: CardView) -> [String: Any] {
        [
            "id": card.id, "prompt": card.question.prompt, "isRepeat": card.isRepeat,
            "options": card.question.options.map { ["id": $0.id, "text": $0.text] as [String: Any] },
        ]
    }
}
