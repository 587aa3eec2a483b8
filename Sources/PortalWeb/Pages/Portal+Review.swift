import FastCGI
import Foundation
import PasswordHashing
import PortalDomain
import PortalStore

/// `/review`: today's due cards one at a time. Wrong → q = 1 and the right answer; right →
/// the learner picks Hard (3), Good (4) or Easy (5).
extension Portal {
    func reviewPage(_ exchange: inout Exchange) throws -> Response {
        let session = try exchange.requireLearner()
        let learner = session.learner
        let day = today(for: learner, at: exchange.now)
        var values: TemplateValues = ["today": .text(longDate(day))]
        if let cardID = try exchange.number(Numbers.gradedCard),
            let card = try study.card(id: cardID.value, learnerID: learner.id, on: day)
        {
            let grade = try exchange.number(Numbers.gradedAs) ?? .good
            values["graded"] = [
                "grade": .text(grade.name), "again": .bool(card.isRepeat),
                "due": .text(longDate(card.dueDay)), "dueDay": .text(card.dueDay.description),
            ]
        }
        if let cardID = try exchange.number(Numbers.missedCard),
            let card = try study.card(id: cardID.value, learnerID: learner.id, on: day)
        {
            let chosenID = try exchange.number(Numbers.missedChoice)
            let chosen = chosenID.flatMap { id in card.question.options.first { $0.id == id.value } }
            var missed: TemplateValues = ["prompt": .text(card.question.prompt), "due": .text(longDate(card.dueDay))]
            missed["chosen"] = .optional(chosen?.text)
            missed["feedback"] = .optional(chosen?.feedback)
            missed["right"] = .optional(card.question.correctOption?.text)
            missed["generalFeedback"] = .optional(card.question.generalFeedback)
            values["missed"] = .object(missed)
        }
        let state = try study.reviewState(learnerID: learner.id, on: day)
        if let card = state.card {
            values["card"] = cardValues(card)
            values["remaining"] = .number(state.remaining)
        } else {
            values["done"] = true
            if let next = state.nextDue {
                values["nextDue"] = .text(longDate(next))
                values["nextDueDay"] = .text(next.description)
            }
        }
        return page("review", title: "Review", values, exchange: &exchange)
    }

    func answerCard(_ exchange: inout Exchange) throws -> Response {
        let session = try exchange.requireLearner()
        let learner = session.learner
        let day = today(for: learner, at: exchange.now)
        let cardID = try exchange.required(Numbers.card).value
        guard let card = try study.card(id: cardID, learnerID: learner.id, on: day) else { throw HTTPError(404) }
        guard try study.isQueued(cardID: cardID, learnerID: learner.id, on: day) else {
            return redirect("/review")  // already graded (a resubmitted form): carry on with the queue
        }
        guard let optionID = try exchange.number(Numbers.option)?.value,
            let option = card.question.options.first(where: { $0.id == optionID })
        else {
            var values: TemplateValues = ["today": .text(longDate(day)), "card": cardValues(card)]
            values["error"] = "Choose an answer first."
            values["remaining"] = .number(try study.dueCount(learnerID: learner.id, on: day))
            return page("review", title: "Review", values, exchange: &exchange)
        }
        if !option.isCorrect {
            let outcome = try study.review(
                cardID: cardID, learnerID: learner.id, quality: .wrong, on: day, now: exchange.nowSeconds)
            recordReview(cardID: cardID, quality: .wrong, outcome: outcome, learner: learner, exchange)
            return redirect("/review?missed=\(cardID)&chosen=\(optionID)")
        }
        let values: TemplateValues = [
            "card": cardValues(card), "chosen": .text(option.text), "feedback": .text(option.feedback ?? ""),
            "token": .text(gradeToken(learnerID: learner.id, cardID: cardID, day: day)),
            "generalFeedback": .text(card.question.generalFeedback ?? ""),
        ]
        return page("review-grade", title: "Review: how was it?", values, exchange: &exchange)
    }

    func gradeCard(_ exchange: inout Exchange) throws -> Response {
        let session = try exchange.requireLearner()
        let learner = session.learner
        let day = today(for: learner, at: exchange.now)
        let cardID = try exchange.required(Numbers.card).value
        guard try study.card(id: cardID, learnerID: learner.id, on: day) != nil else { throw HTTPError(404) }
        guard let grade = try exchange.number(Numbers.grade) else { throw HTTPError(400, "Pick Hard, Good or Easy.") }
        let quality = grade.quality
        // The token proves this grade follows a right answer to this card today.
        guard ConstantTime.equal(exchange.form["token"] ?? "", gradeToken(learnerID: learner.id, cardID: cardID, day: day))
        else { throw HTTPError(400, "This grade form is out of date. Review the card again.") }
        guard try study.isQueued(cardID: cardID, learnerID: learner.id, on: day) else { return redirect("/review") }
        let outcome = try study.review(cardID: cardID, learnerID: learner.id, quality: quality, on: day, now: exchange.nowSeconds)
        recordReview(cardID: cardID, quality: quality, outcome: outcome, learner: learner, exchange)
        return redirect("/review?graded=\(cardID)&q=\(grade.text)")
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

    private func cardValues(_ card: CardView) -> TemplateValue {
        [
            "id": .number(card.id), "prompt": .text(card.question.prompt), "isRepeat": .bool(card.isRepeat),
            "options": .list(card.question.options.map { ["id": .number($0.id), "text": .text($0.text)] }),
        ]
    }
}
