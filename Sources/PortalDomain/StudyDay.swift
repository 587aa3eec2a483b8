import Foundation

/// A learner's study day: a plain calendar date in their time zone, where the day begins at
/// the day-start hour (04:00 by default), so a session at 00:30 belongs to the evening before.
/// Due dates are stored as study days (`YYYY-MM-DD`), never as instants.
public struct StudyDay: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    public init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// Parses `YYYY-MM-DD`.
    public init?(_ text: String) {
        let parts = text.split(separator: "-")
        guard parts.count == 3, let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]),
            (1...12).contains(m), (1...31).contains(d)
        else { return nil }
        self.init(year: y, month: m, day: d)
    }

    /// The study day containing `instant` for someone in `timeZone`.
    public init(containing instant: Date, in timeZone: TimeZone, dayStartHour: Int) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        // The local wall-clock hour decides, so the day starts at the day-start hour local
        // time even on a daylight-saving change day.
        let parts = calendar.dateComponents([.year, .month, .day, .hour], from: instant)
        let date = StudyDay(year: parts.year!, month: parts.month!, day: parts.day!)
        self = parts.hour! < dayStartHour ? date.adding(days: -1) : date
    }

    /// The study day `count` days later (earlier when negative).
    public func adding(days count: Int) -> StudyDay {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let start = calendar.date(from: DateComponents(year: year, month: month, day: day, hour: 12))!
        let moved = calendar.date(byAdding: .day, value: count, to: start)!
        let parts = calendar.dateComponents([.year, .month, .day], from: moved)
        return StudyDay(year: parts.year!, month: parts.month!, day: parts.day!)
    }

    public var description: String {
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    public static func < (lhs: StudyDay, rhs: StudyDay) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }
}

/// Checks IANA time-zone names.
public enum TimeZoneName {
    /// The zone for `name`, only for IANA Area/Location identifiers and "UTC" (not
    /// abbreviations or POSIX-style names like "EST" or "EST5EDT"). Foundation's list of known
    /// identifiers on Linux misses some real ones (Asia/Kolkata), so the tz database decides.
    public static func zone(_ name: String) -> TimeZone? {
        guard name == "UTC" || (name.contains("/") && !name.hasPrefix("/") && !name.contains("..")) else { return nil }
        return TimeZone(identifier: name)
    }
}
