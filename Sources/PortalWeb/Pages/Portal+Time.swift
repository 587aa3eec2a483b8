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

    /// "Monday 30 November 2026" for a study day.
    func longDate(_ day: StudyDay) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        guard let date = calendar.date(from: DateComponents(year: day.year, month: day.month, day: day.day, hour: 12))
        else { return day.description }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_GB")
        formatter.timeZone = calendar.timeZone
        formatter.dateFormat = "EEEE d MMMM yyyy"
        return formatter.string(from: date)
    }

    /// A stored instant in the learner's zone, e.g. "2026-11-29 08:15".
    func localTime(_ seconds: Int64, for learner: Learner) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_GB")
        formatter.timeZone = timeZone(of: learner)
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }

    /// A numeric id from a route capture, or 404.
    func id(_ exchange: Exchange, _ name: String) throws -> Int64 {
        guard let value = Int64(exchange.capture(name)), value > 0 else { throw HTTPError(404) }
        return value
    }
}
