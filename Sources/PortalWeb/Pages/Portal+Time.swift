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

    // Formatting by hand with integer date arithmetic: a DateFormatter per request, or even a
    // Calendar per value, costs more than rendering the rest of the page.

    /// "Monday 30 November 2026" for a study day.
    func longDate(_ day: StudyDay) -> String {
        let days = CivilDate.days(year: day.year, month: day.month, day: day.day)
        // 1970-01-01 was a Thursday (index 4 from Sunday).
        let weekday = Int(((days % 7) + 7 + 4) % 7)
        return "\(Self.weekdayNames[weekday]) \(day.day) \(Self.monthNames[day.month - 1]) \(day.year)"
    }

    /// A stored instant in the learner's zone, e.g. "2026-11-29 08:15".
    func localTime(_ seconds: Int64, for learner: Learner) -> String {
        let offset = timeZone(of: learner).secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(seconds)))
        let local = seconds + Int64(offset)
        let days = local >= 0 ? local / 86_400 : (local - 86_399) / 86_400
        let secondOfDay = Int(local - days * 86_400)
        let (year, month, day) = CivilDate.date(days: days)
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(StudyDay(year: year, month: month, day: day)) \(two(secondOfDay / 3600)):\(two(secondOfDay % 3600 / 60))"
    }

    static let utc = TimeZone(identifier: "UTC")!

    /// A numeric id from a route capture, or 404.
    func id(_ exchange: Exchange, _ name: String) throws -> Int64 {
        guard let value = Int64(exchange.capture(name)), value > 0 else { throw HTTPError(404) }
        return value
    }
}

/// Days since 1970-01-01 to and from proleptic Gregorian dates (Howard Hinnant's algorithms,
/// https://howardhinnant.github.io/date_algorithms.html).
enum CivilDate {
    static func days(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let m = Int64(month)
        let dayOfYear = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func date(days: Int64) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (Int(year), Int(month), Int(day))
    }
}
