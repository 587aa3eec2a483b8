import Foundation
import PortalDomain
import PortalStore

/// The study-day convention, in one place.
extension Portal {
    func timeZone(of learner: Learner) -> TimeZone {
        TimeZoneName.zone(learner.timeZone) ?? TimeZoneName.zone(configuration.defaultTimeZone) ?? TimeZone(identifier: "UTC")!
    }

    /// The learner's study day now: their local date, where the day starts at `LYNX_DAY_START_HOUR`.
    func today(for learner: Learner, at now: Date) -> StudyDay {
        StudyDay(containing: now, in: timeZone(of: learner), dayStartHour: configuration.dayStartHour)
    }

    static let weekdayNames = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
    static let monthNames = [
        "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
        "November", "December",
    ]

    // Formatting by hand from calendar components: creating a DateFormatter per request costs
    // more than rendering the rest of the page.

    /// "Monday 30 November 2026" for a study day.
    func longDate(_ day: StudyDay) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = Self.utc
        guard let date = calendar.date(from: DateComponents(year: day.year, month: day.month, day: day.day, hour: 12))
        else { return day.description }
        let weekday = calendar.component(.weekday, from: date)
        return "\(Self.weekdayNames[weekday - 1]) \(day.day) \(Self.monthNames[day.month - 1]) \(day.year)"
    }

    /// A stored instant in the learner's zone, e.g. "2026-11-29 08:15".
    func localTime(_ seconds: Int64, for learner: Learner) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone(of: learner)
        let parts = calendar.dateComponents(
            [.year, .month, .day, .hour, .minute], from: Date(timeIntervalSince1970: TimeInterval(seconds)))
        func two(_ value: Int?) -> String { (value ?? 0) < 10 ? "0\(value ?? 0)" : "\(value ?? 0)" }
        let day = StudyDay(year: parts.year ?? 1970, month: parts.month ?? 1, day: parts.day ?? 1)
        return "\(day) \(two(parts.hour)):\(two(parts.minute))"
    }

    static let utc = TimeZone(identifier: "UTC")!

    /// A numeric id from a route capture, or 404.
    func id(_ exchange: Exchange, _ name: String) throws -> Int64 {
        guard let value = Int64(exchange.capture(name)), value > 0 else { throw HTTPError(404) }
        return value
    }
}
