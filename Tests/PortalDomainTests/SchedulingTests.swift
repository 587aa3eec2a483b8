import Foundation
import PortalDomain
import Testing

private func quality(_ value: Int) -> Quality {
    Quality(value)!
}

private func day(_ text: String) -> StudyDay {
    StudyDay(text)!
}

private func instant(_ text: String) -> Date {
    ISO8601DateFormatter().date(from: text)!
}

private func zone(_ name: String) -> TimeZone {
    TimeZone(identifier: name)!
}

/// SplitMix64: a small seeded generator so property runs are repeatable.
private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("SM-2 scheduling")
struct SM2Tests {
    @Test func aNewCardStartsAtEasinessTwoPointFiveWithNoRepetitions() {
        #expect(SM2State.new == SM2State(easinessHundredths: 250, repetitions: 0, intervalDays: 0))
        #expect(SM2State.new.easinessText == "2.50")
    }

    /// Every expected state below was worked out by hand from the rules in docs/ARCHITECTURE.md, written as
    /// (EF in hundredths, repetitions, interval in days) after each review.
    @Test(
        "grade sequences give the hand-computed schedule",
        arguments: [
            ([5, 5, 5, 5], [(260, 1, 1), (270, 2, 6), (280, 3, 17), (290, 4, 48)]),
            ([4, 4, 4, 4, 4], [(250, 1, 1), (250, 2, 6), (250, 3, 15), (250, 4, 38), (250, 5, 95)]),
            (
                [3, 3, 3, 3, 3, 3, 3, 3, 3, 3],
                [
                    (236, 1, 1), (222, 2, 6), (208, 3, 14), (194, 4, 30), (180, 5, 59), (166, 6, 107), (152, 7, 178),
                    (138, 8, 271), (130, 9, 374), (130, 10, 487),
                ]
            ),
            ([5, 5, 1, 4, 4, 4], [(260, 1, 1), (270, 2, 6), (216, 0, 1), (216, 1, 1), (216, 2, 6), (216, 3, 13)]),
            ([0, 0, 0], [(170, 0, 1), (130, 0, 1), (130, 0, 1)]),
            ([1, 2, 3, 4, 4], [(196, 0, 1), (164, 0, 1), (150, 1, 1), (150, 2, 6), (150, 3, 9)]),
            ([1, 2, 3, 4, 5], [(196, 0, 1), (164, 0, 1), (150, 1, 1), (150, 2, 6), (160, 3, 9)]),
            (
                [4, 5, 3, 2, 5, 5, 5, 4],
                [(250, 1, 1), (260, 2, 6), (246, 3, 16), (214, 0, 1), (224, 1, 1), (234, 2, 6), (244, 3, 15), (244, 4, 37)]
            ),
        ] as [([Int], [(Int, Int, Int)])])
    func gradeSequencesGiveTheHandComputedSchedule(grades: [Int], expected: [(Int, Int, Int)]) {
        var state = SM2State.new
        for (step, (grade, want)) in zip(grades, expected).enumerated() {
            state = state.grading(quality(grade))
            #expect(
                state == SM2State(easinessHundredths: want.0, repetitions: want.1, intervalDays: want.2),
                "after review \(step + 1) (q=\(grade)) of \(grades)")
        }
    }

    /// docs/ARCHITECTURE.md's example: with EF 1.5 and interval 6 the next interval is 9 days, never 10.
    @Test(arguments: [4, 5, 3])
    func easinessOneAndAHalfTimesSixDaysIsNineDays(grade: Int) {
        let state = SM2State(easinessHundredths: 150, repetitions: 2, intervalDays: 6).grading(quality(grade))
        #expect(state.intervalDays == 9)
        #expect(state.repetitions == 3)
    }

    @Test func theIntervalUsesTheEasinessFromBeforeThisReview() {
        let state = SM2State(easinessHundredths: 200, repetitions: 2, intervalDays: 10).grading(.easy)
        #expect(state.intervalDays == 20)
        #expect(state.easinessHundredths == 210)
    }

    @Test(
        "easiness changes by the published amounts",
        arguments: [(5, 10), (4, 0), (3, -14), (2, -32), (1, -54), (0, -80)])
    func easinessChangesByThePublishedAmounts(grade: Int, change: Int) {
        let state = SM2State(easinessHundredths: 300, repetitions: 4, intervalDays: 20).grading(quality(grade))
        #expect(state.easinessHundredths == 300 + change)
    }

    @Test(arguments: [0, 1, 2, 3])
    func easinessNeverFallsBelowOnePointThree(grade: Int) {
        let state = SM2State(easinessHundredths: 140, repetitions: 3, intervalDays: 10).grading(quality(grade))
        #expect(state.easinessHundredths == 130)
        #expect(state.easinessText == "1.30")
    }

    @Test(arguments: [0, 1, 2])
    func aFailedReviewResetsToOneDay(grade: Int) {
        let state = SM2State(easinessHundredths: 260, repetitions: 7, intervalDays: 300).grading(quality(grade))
        #expect(state.repetitions == 0)
        #expect(state.intervalDays == 1)
    }

    @Test func propertiesHoldOverRandomGradeSequences() {
        var generator = SplitMix64(state: 0x5EED_1990)
        for _ in 0..<500 {
            var state = SM2State.new
            let length = Int.random(in: 1...20, using: &generator)
            for _ in 0..<length {
                let grade = Int.random(in: 0...5, using: &generator)
                let next = state.grading(quality(grade))
                #expect(next.easinessHundredths >= 130)
                #expect(next.intervalDays >= 1)
                if grade < 3 {
                    #expect(next.intervalDays == 1 && next.repetitions == 0, "q=\(grade) from \(state)")
                } else {
                    #expect(next.repetitions == state.repetitions + 1)
                    if state.repetitions == 0 { #expect(next.intervalDays == 1) }
                    if state.repetitions == 1 { #expect(next.intervalDays == 6) }
                    if state.repetitions >= 2 { #expect(next.intervalDays >= state.intervalDays, "q=\(grade) from \(state)") }
                }
                let distance = 5 - grade
                let expectedEasiness = max(130, state.easinessHundredths + 10 - 8 * distance - 2 * distance * distance)
                #expect(next.easinessHundredths == expectedEasiness)
                state = next
            }
        }
    }

    @Test(
        "grades below 4 come back the same day", arguments: [(0, true), (1, true), (2, true), (3, true), (4, false), (5, false)])
    func gradesBelowFourComeBackTheSameDay(grade: Int, repeats: Bool) {
        #expect(SM2State.repeatsToday(after: quality(grade)) == repeats)
    }

    @Test func qualitiesOutsideZeroToFiveDoNotExist() {
        #expect(Quality(-1) == nil)
        #expect(Quality(6) == nil)
        #expect([Quality.wrong, .hard, .good, .easy].map(\.value) == [1, 3, 4, 5])
    }

    @Test func theDueDayIsTheReviewDayPlusTheInterval() {
        let reviewed = day("2026-12-28")
        #expect(SM2State.new.grading(.wrong).dueDay(reviewedOn: reviewed) == day("2026-12-29"))
        #expect(
            SM2State(easinessHundredths: 250, repetitions: 2, intervalDays: 6).dueDay(reviewedOn: reviewed) == day("2027-01-03"))
        let long = SM2State(easinessHundredths: 130, repetitions: 10, intervalDays: 487)
        #expect(long.dueDay(reviewedOn: day("2026-01-01")) == day("2027-05-03"))
    }

    @Test func easinessIsShownWithTwoDecimals() {
        #expect(SM2State(easinessHundredths: 205).easinessText == "2.05")
        #expect(
            SM2State(easinessHundredths: 216, repetitions: 3, intervalDays: 13).description
                == "EF 2.16, repetitions 3, interval 13")
    }
}

@Suite("Study days")
struct StudyDayTests {
    @Test(
        "the study day is the local date, starting at 04:00",
        arguments: [
            ("Australia/Brisbane", "2026-05-09T22:00:00Z", "2026-05-10"),  // 08:00 local
            ("Australia/Brisbane", "2026-05-10T04:00:00Z", "2026-05-10"),  // 14:00 local
            ("Australia/Brisbane", "2026-05-10T13:59:59Z", "2026-05-10"),  // 23:59:59 local
            ("Australia/Brisbane", "2026-05-10T17:59:59Z", "2026-05-10"),  // 03:59:59 local next date
            ("Australia/Brisbane", "2026-05-10T18:00:00Z", "2026-05-11"),  // 04:00 local next date
            ("America/Los_Angeles", "2026-01-16T02:00:00Z", "2026-01-15"),  // 18:00 PST
            ("America/Los_Angeles", "2026-01-16T08:30:00Z", "2026-01-15"),  // 00:30 PST
            ("America/Los_Angeles", "2026-01-16T11:59:00Z", "2026-01-15"),  // 03:59 PST
            ("America/Los_Angeles", "2026-01-16T12:00:00Z", "2026-01-16"),  // 04:00 PST
            ("UTC", "2026-12-31T23:59:00Z", "2026-12-31"),
            ("UTC", "2027-01-01T03:59:59Z", "2026-12-31"),
            ("UTC", "2027-01-01T04:00:00Z", "2027-01-01"),
        ])
    func studyDayIsTheLocalDateStartingAtFour(zoneName: String, utc: String, expected: String) {
        #expect(StudyDay(containing: instant(utc), in: zone(zoneName), dayStartHour: 4) == day(expected))
    }

    /// Reviewed at 08:00 in Brisbane (still the previous UTC date); due the next local day,
    /// which begins at 04:00 Brisbane time, 18:00 UTC on the review's local date.
    @Test func aWrongAnswerInBrisbaneIsDueFromFourOClockNextMorning() {
        let brisbane = zone("Australia/Brisbane")
        let reviewDay = StudyDay(containing: instant("2026-05-09T22:00:00Z"), in: brisbane, dayStartHour: 4)
        #expect(reviewDay == day("2026-05-10"))
        let due = SM2State.new.grading(.wrong).dueDay(reviewedOn: reviewDay)
        #expect(due == day("2026-05-11"))
        #expect(StudyDay(containing: instant("2026-05-10T04:00:00Z"), in: brisbane, dayStartHour: 4) < due)
        #expect(StudyDay(containing: instant("2026-05-10T17:59:59Z"), in: brisbane, dayStartHour: 4) < due)
        #expect(StudyDay(containing: instant("2026-05-10T18:00:00Z"), in: brisbane, dayStartHour: 4) == due)
    }

    /// docs/ARCHITECTURE.md: the new day starts at the day-start hour local time, on DST change days too.
    @Test(
        "on DST change days the study day still starts at 04:00 local time",
        arguments: [
            ("America/Los_Angeles", "2026-03-08T09:30:00Z", "2026-03-07"),  // 01:30 PST
            ("America/Los_Angeles", "2026-03-08T10:59:00Z", "2026-03-07"),  // 03:59 PDT
            ("America/Los_Angeles", "2026-03-08T11:00:00Z", "2026-03-08"),  // 04:00 PDT
            ("America/Los_Angeles", "2026-03-08T12:00:00Z", "2026-03-08"),  // 05:00 PDT
            ("America/Los_Angeles", "2026-11-01T08:30:00Z", "2026-10-31"),  // 01:30 PDT
            ("America/Los_Angeles", "2026-11-01T09:30:00Z", "2026-10-31"),  // 01:30 PST
            ("America/Los_Angeles", "2026-11-01T11:00:00Z", "2026-10-31"),  // 03:00 PST
            ("America/Los_Angeles", "2026-11-01T11:59:00Z", "2026-10-31"),  // 03:59 PST
            ("America/Los_Angeles", "2026-11-01T12:00:00Z", "2026-11-01"),  // 04:00 PST
            ("Europe/Berlin", "2026-03-29T01:59:00Z", "2026-03-28"),  // 03:59 CEST
            ("Europe/Berlin", "2026-03-29T02:00:00Z", "2026-03-29"),  // 04:00 CEST
            ("Europe/Berlin", "2026-10-25T02:59:00Z", "2026-10-24"),  // 03:59 CET
            ("Europe/Berlin", "2026-10-25T03:00:00Z", "2026-10-25"),  // 04:00 CET
        ])
    func studyDayStartsAtFourOnDSTChangeDays(zoneName: String, utc: String, expected: String) {
        #expect(StudyDay(containing: instant(utc), in: zone(zoneName), dayStartHour: 4) == day(expected))
    }

    /// The study day's arithmetic (instant plus the zone's offset) agrees with a Calendar in
    /// that zone at every step of 97 minutes through 2026, DST changes and odd offsets included.
    @Test(arguments: ["America/Los_Angeles", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham", "UTC"])
    func studyDayAgreesWithACalendarInTheZone(zoneName: String) {
        let timeZone = zone(zoneName)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        var mismatches: [String] = []
        for step in 0..<(366 * 24 * 60 / 97) {
            let moment = instant("2026-01-01T00:00:00Z").addingTimeInterval(Double(step * 97 * 60))
            let parts = calendar.dateComponents([.year, .month, .day, .hour], from: moment)
            let date = StudyDay(year: parts.year!, month: parts.month!, day: parts.day!)
            let expected = parts.hour! < 4 ? date.adding(days: -1) : date
            let computed = StudyDay(containing: moment, in: timeZone, dayStartHour: 4)
            if computed != expected { mismatches.append("\(moment): \(computed) vs \(expected)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }

    /// Pages name days as "Monday 30 November 2026": the same words Foundation's formatter
    /// gives in English, for every fifth day from 1900 to 2100.
    @Test func longDescriptionNamesTheDayAsAFormatterDoes() {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")!
        formatter.dateFormat = "EEEE d MMMM y"
        var mismatches: [String] = []
        var day = StudyDay(year: 1900, month: 1, day: 1)
        while day < StudyDay(year: 2100, month: 12, day: 31) {
            let instant = Date(timeIntervalSince1970: TimeInterval(day.daysSinceEpoch * 86_400))
            if day.longDescription != formatter.string(from: instant) { mismatches.append(day.longDescription) }
            day = day.adding(days: 5)
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(3))")
        #expect(StudyDay(year: 2026, month: 11, day: 30).longDescription == "Monday 30 November 2026")
        #expect(StudyDay(year: 2027, month: 2, day: 3).longDescription == "Wednesday 3 February 2027")
    }

    @Test func aDayStartHourOfZeroIsMidnight() {
        let losAngeles = zone("America/Los_Angeles")
        #expect(StudyDay(containing: instant("2026-01-16T07:59:00Z"), in: losAngeles, dayStartHour: 0) == day("2026-01-15"))
        #expect(StudyDay(containing: instant("2026-01-16T08:00:00Z"), in: losAngeles, dayStartHour: 0) == day("2026-01-16"))
    }

    @Test(
        "adding days crosses month and year ends",
        arguments: [
            ("2026-01-31", 1, "2026-02-01"),
            ("2026-02-28", 1, "2026-03-01"),
            ("2026-03-01", -1, "2026-02-28"),
            ("2026-12-31", 1, "2027-01-01"),
            ("2027-01-01", -1, "2026-12-31"),
            ("2028-02-28", 1, "2028-02-29"),
            ("2028-02-29", 1, "2028-03-01"),
            ("2028-03-01", -1, "2028-02-29"),
            ("2028-01-01", 365, "2028-12-31"),
            ("2100-02-28", 1, "2100-03-01"),
            ("2026-05-10", 0, "2026-05-10"),
            ("2026-01-01", 487, "2027-05-03"),
        ])
    func addingDaysCrossesMonthAndYearEnds(start: String, count: Int, expected: String) {
        #expect(day(start).adding(days: count) == day(expected))
    }

    @Test func dayNumbersAndWeekdaysMatchFoundationsCalendarAcrossCenturies() throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = try #require(TimeZone(identifier: "UTC"))
        // Every 97th day from 1899 to 2101: leap years, century rules and negative day numbers.
        for days in stride(from: Int64(-25_567), through: 47_482, by: 97) {
            let date = Date(timeIntervalSince1970: TimeInterval(days * 86_400))
            let parts = calendar.dateComponents([.year, .month, .day, .weekday], from: date)
            let day = StudyDay(daysSinceEpoch: days)
            #expect(day.year == parts.year && day.month == parts.month && day.day == parts.day, "\(days)")
            #expect(day.weekday + 1 == parts.weekday, "\(days)")
            #expect(day.daysSinceEpoch == days)
        }
    }

    @Test func wellFormedDatesParse() throws {
        let parsed = try #require(StudyDay("2026-05-10"))
        #expect((parsed.year, parsed.month, parsed.day) == (2026, 5, 10))
        #expect(StudyDay("2026-5-9") == StudyDay(year: 2026, month: 5, day: 9))
    }

    @Test(
        "malformed dates do not parse",
        arguments: [
            "", "2026-05", "20260510", "2026/05/10", "2026-13-01", "2026-00-10", "2026-01-32", "2026-01-00", "year-05-10",
            "2026-05-10T00:00",
        ])
    func malformedDatesDoNotParse(text: String) {
        #expect(StudyDay(text) == nil)
    }

    /// As implemented, the parser checks only that the day is 1–31: "2026-02-30" is kept as
    /// written, and moving it by any number of days (even zero) normalises it through the calendar.
    @Test func anImpossibleDateParsesAsWrittenAndNormalisesWhenMoved() throws {
        let impossible = try #require(StudyDay("2026-02-30"))
        #expect(impossible.description == "2026-02-30")
        #expect(impossible.adding(days: 0) == day("2026-03-02"))
        #expect(day("2026-02-28") < impossible && impossible < day("2026-03-01"))
    }

    @Test func descriptionIsZeroPaddedAndRoundTrips() {
        #expect(StudyDay(year: 2026, month: 1, day: 5).description == "2026-01-05")
        #expect(StudyDay(year: 987, month: 3, day: 7).description == "0987-03-07")
        let original = StudyDay(year: 2028, month: 2, day: 29)
        #expect(StudyDay(original.description) == original)
        #expect(StudyDay(year: 12_026, month: 1, day: 5).description == "12026-01-05")
        #expect(StudyDay(year: 2026, month: 11, day: 29).description(hour: 8, minute: 5) == "2026-11-29 08:05")
        #expect(StudyDay(year: 2026, month: 1, day: 2).description(hour: 23, minute: 59) == "2026-01-02 23:59")
    }

    @Test func studyDaysOrderByDate() {
        let days = ["2027-01-01", "2026-10-01", "2026-12-31", "2026-09-30", "2026-03-01", "2026-02-28"].map(day)
        #expect(
            days.sorted().map(\.description) == [
                "2026-02-28", "2026-03-01", "2026-09-30", "2026-10-01", "2026-12-31", "2027-01-01",
            ])
        #expect(day("2026-05-10") < day("2026-05-10").adding(days: 1))
        #expect(!(day("2026-05-10") < day("2026-05-10")))
    }
}

@Suite("Time-zone names")
struct TimeZoneNameTests {
    @Test(
        "IANA zone names are accepted",
        arguments: [
            "Australia/Sydney", "Australia/Brisbane", "Europe/Berlin", "America/Los_Angeles", "UTC", "Etc/UTC", "Asia/Kolkata",
        ])
    func ianaZoneNamesAreAccepted(name: String) throws {
        let found = try #require(TimeZoneName.zone(name))
        let moment = instant("2026-01-15T12:00:00Z")
        #expect(found.secondsFromGMT(for: moment) == zone(name).secondsFromGMT(for: moment))
    }

    @Test func utcHasNoOffset() throws {
        #expect(try #require(TimeZoneName.zone("UTC")).secondsFromGMT(for: instant("2026-07-01T00:00:00Z")) == 0)
    }

    @Test(
        "abbreviations, POSIX rules and made-up names are refused",
        arguments: ["Mars/Olympus", "EST5EDT", "PST8PDT", "EST", "", "europe/berlin", "Europe/Berlin ", "../etc/passwd"])
    func otherNamesAreRefused(name: String) {
        #expect(TimeZoneName.zone(name) == nil)
    }
}
