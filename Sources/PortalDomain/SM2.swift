/// A review quality in SM-2's 0–5 scale.
public struct Quality: Sendable, Hashable, Comparable {
    public let value: Int

    public init?(_ value: Int) {
        guard (0...5).contains(value) else { return nil }
        self.value = value
    }

    public static let wrong = Quality(1)!
    public static let hard = Quality(3)!
    public static let good = Quality(4)!
    public static let easy = Quality(5)!

    public static func < (lhs: Quality, rhs: Quality) -> Bool { lhs.value < rhs.value }
}

/// SM-2 scheduling state of one card. The easiness factor is kept in exact hundredths
/// (250 = 2.5): binary floats would turn 1.5 × 6 into 9.000000000000002 and round it to 10.
public struct SM2State: Sendable, Equatable, CustomStringConvertible {
    public var easinessHundredths: Int
    public var repetitions: Int
    public var intervalDays: Int

    public init(easinessHundredths: Int = 250, repetitions: Int = 0, intervalDays: Int = 0) {
        self.easinessHundredths = easinessHundredths
        self.repetitions = repetitions
        self.intervalDays = intervalDays
    }

    public static let new = SM2State()
    public static let minimumEasinessHundredths = 130

    /// SM-2 as published (Wozniak, 1990), with the choices docs/ARCHITECTURE.md pins (Learning rules):
    /// q < 3 resets repetitions and gives interval 1; otherwise 1, 6, then
    /// ceil(previous interval × EF before this update); EF changes after every review by
    /// 0.1 − (5 − q)(0.08 + (5 − q)·0.02), floored at 1.3.
    public func grading(_ quality: Quality) -> SM2State {
        var next = self
        if quality.value < 3 {
            next.repetitions = 0
            next.intervalDays = 1
        } else {
            switch repetitions {
            case 0: next.intervalDays = 1
            case 1: next.intervalDays = 6
            default:
                // ceil(interval × EF/100) in integers.
                next.intervalDays = (intervalDays * easinessHundredths + 99) / 100
            }
            next.repetitions = repetitions + 1
        }
        let distance = 5 - quality.value
        // 100 × (0.1 − d(0.08 + 0.02d)) = 10 − 8d − 2d²
        let change = 10 - 8 * distance - 2 * distance * distance
        next.easinessHundredths = max(Self.minimumEasinessHundredths, easinessHundredths + change)
        return next
    }

    /// The due study day after a review graded on `day`.
    public func dueDay(reviewedOn day: StudyDay) -> StudyDay {
        day.adding(days: intervalDays)
    }

    /// SM-2's same-day rule: a card graded below 4 comes back in the same session.
    public static func repeatsToday(after quality: Quality) -> Bool {
        quality.value < 4
    }

    public var easinessText: String {
        "\(easinessHundredths / 100).\(easinessHundredths % 100 < 10 ? "0" : "")\(easinessHundredths % 100)"
    }

    public var description: String { "EF \(easinessText), repetitions \(repetitions), interval \(intervalDays)" }
}
