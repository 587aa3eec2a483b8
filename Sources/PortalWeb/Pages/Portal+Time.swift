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
        today(in: timeZone(of: learner), at: now)
    }

    /// The study day now in `zone` (the learner's, from `timeZone(of:)`).
    func today(in zone: TimeZone, at now: Date) -> StudyDay {
        StudyDay(containing: now, in: zone, dayStartHour: configuration.dayStartHour)
    }

    /// "Monday 30 November 2026" for a study day.
    func longDate(_ day: StudyDay) -> String { day.longDescription }

    /// A stored instant in a learner's zone (`timeZone(of:)`), e.g. "2026-11-29 08:15".
    func localTime(_ seconds: Int64, in zone: TimeZone) -> String {
        let offset = zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(seconds)))
        let local = seconds + Int64(offset)
        let days = local >= 0 ? local / 86_400 : (local - 86_399) / 86_400
        let secondOfDay = Int(local - days * 86_400)
        return StudyDay(daysSinceEpoch: days).description(hour: secondOfDay / 3600, minute: secondOfDay % 3600 / 60)
    }

    static let utc = TimeZone(identifier: "UTC")!
}
