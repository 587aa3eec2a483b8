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
    ///
    /// The local wall-clock time is the instant plus the zone's offset at that instant (what a
    /// Calendar in that zone computes too), so the day starts at the day-start hour local time
    /// even on a daylight-saving change day. Integer arithmetic: a Calendar per request cost
    /// more than the page's queries.
    public init(containing instant: Date, in timeZone: TimeZone, dayStartHour: Int) {
        let seconds = Int64(instant.timeIntervalSince1970.rounded(.down))
        let local = seconds + Int64(timeZone.secondsFromGMT(for: instant))
        let days = local >= 0 ? local / 86_400 : (local - 86_399) / 86_400
        let hour = Int(local - days * 86_400) / 3600
        self.init(daysSinceEpoch: hour < dayStartHour ? days - 1 : days)
    }

    /// The study day `count` days later (earlier when negative).
    public func adding(days count: Int) -> StudyDay {
        StudyDay(daysSinceEpoch: daysSinceEpoch + Int64(count))
    }

    // Day numbers by integer arithmetic (Howard Hinnant's civil-date algorithms,
    // https://howardhinnant.github.io/date_algorithms.html): pages compute several dates each,
    // and a Calendar per date cost more than the rest of the page.

    /// Days since 1970-01-01 (negative before it). An impossible date such as 02-30 counts on
    /// from the month's start, so it normalises when moved.
    public var daysSinceEpoch: Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let m = Int64(month)
        let dayOfYear = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The date `days` days after 1970-01-01.
    public init(daysSinceEpoch days: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let month = mp < 10 ? mp + 3 : mp - 9
        self.init(
            year: Int(yearOfEra + era * 400 + (month <= 2 ? 1 : 0)), month: Int(month),
            day: Int(dayOfYear - (153 * mp + 2) / 5 + 1))
    }

    /// The day of the week, 0 for Sunday to 6 for Saturday.
    public var weekday: Int {
        // 1970-01-01 was a Thursday.
        Int(((daysSinceEpoch % 7) + 7 + 4) % 7)
    }

    /// "2026-11-29". Written digit by digit: pages and queries format many of these.
    public var description: String { formatted(hour: nil, minute: 0) }

    /// "2026-11-29 08:15": a time of day on this day.
    public func description(hour: Int, minute: Int) -> String { formatted(hour: hour, minute: minute) }

    private static let weekdayNames: [StaticString] = [
        "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
    ]
    private static let monthNames: [StaticString] = [
        "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
        "November", "December",
    ]

    /// "Monday 30 November 2026": how pages name a study day (English, as the templates are).
    /// Written byte by byte, as `description` is: string interpolation cost more than the rest
    /// of a small page's values.
    public var longDescription: String {
        guard (1...12).contains(month), (0...9999).contains(year), (1...99).contains(day) else {
            return "\(Self.weekdayNames[weekday]) \(day) \(month) \(year)"
        }
        let weekdayName = Self.weekdayNames[weekday]
        let monthName = Self.monthNames[month - 1]
        let capacity = weekdayName.utf8CodeUnitCount + monthName.utf8CodeUnitCount + 9
        return String(unsafeUninitializedCapacity: capacity) { buffer in
            var count = 0
            func put(_ text: StaticString) {
                text.withUTF8Buffer { bytes in
                    for byte in bytes {
                        buffer[count] = byte
                        count += 1
                    }
                }
            }
            func put(_ value: Int, digits: Int) {
                writeDigits(value, digits, into: buffer, at: count)
                count += digits
            }
            put(weekdayName)
            put(" ")
            put(day, digits: day < 10 ? 1 : 2)
            put(" ")
            put(monthName)
            put(" ")
            put(year, digits: year < 10 ? 1 : year < 100 ? 2 : year < 1000 ? 3 : 4)
            return count
        }
    }

    private func formatted(hour: Int?, minute: Int) -> String {
        guard (0...9999).contains(year), (0...99).contains(hour ?? 0), (0...99).contains(minute) else {
            func pad(_ value: Int, _ width: Int) -> String {
                let text = String(value)
                return String(repeating: "0", count: max(0, width - text.count)) + text
            }
            return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))" + (hour.map { " \(pad($0, 2)):\(pad(minute, 2))" } ?? "")
        }
        return String(unsafeUninitializedCapacity: hour == nil ? 10 : 16) { buffer in
            func put(_ value: Int, _ width: Int, at start: Int) { writeDigits(value, width, into: buffer, at: start) }
            put(year, 4, at: 0)
            buffer[4] = UInt8(ascii: "-")
            put(month, 2, at: 5)
            buffer[7] = UInt8(ascii: "-")
            put(day, 2, at: 8)
            guard let hour else { return 10 }
            buffer[10] = UInt8(ascii: " ")
            put(hour, 2, at: 11)
            buffer[13] = UInt8(ascii: ":")
            put(minute, 2, at: 14)
            return 16
        }
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

/// Writes the last `count` decimal digits of `value` (zero-padded) at `start`.
private func writeDigits(_ value: Int, _ count: Int, into buffer: UnsafeMutableBufferPointer<UInt8>, at start: Int) {
    var value = value
    for index in stride(from: start + count - 1, through: start, by: -1) {
        buffer[index] = UInt8(ascii: "0") + UInt8(value % 10)
        value /= 10
    }
}
