import PortalDomain

/// A number a request carries (a path segment, a query or form field), as one bounded type.
///
/// Every type reads its text through `RequestNumber.digits(_:maximum:)`: canonical ASCII
/// decimal only, so a sign, spaces, an exponent, hex, a leading zero or a non-ASCII digit is
/// not a number, and no arithmetic on the text can overflow.
protocol RequestNumber: Sendable {
    /// The value `text` names, or nil when it is not exactly one of this type's values.
    init?(requestText text: Substring)
    /// The type's name in the route table (`lynx-portal routes`).
    static var kind: String { get }
    /// The smallest and largest values the type accepts.
    static var range: ClosedRange<Int64> { get }
    /// What a person should have sent, for the 400 page: "a page number from 1 to 10000".
    static var expected: String { get }
}

extension RequestNumber {
    /// The value of `text` when it is canonical decimal (ASCII digits, no leading zero unless it
    /// is "0") within `range`; nil otherwise.
    static func digits(_ text: Substring, in range: ClosedRange<Int64>) -> Int64? {
        let bytes = text.utf8
        // Int64.max has 19 digits: anything longer is out of range before any arithmetic.
        guard let first = bytes.first, bytes.count <= 19, first != UInt8(ascii: "0") || bytes.count == 1 else {
            return nil
        }
        var value: Int64 = 0
        for byte in bytes {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (shifted, overflowShift) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflowAdd) = shifted.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
            guard !overflowShift, !overflowAdd else { return nil }
            value = sum
        }
        return range.contains(value) ? value : nil
    }
}

/// A database row id: 1 through Int64.max.
struct RecordID: RequestNumber, Hashable {
    let value: Int64

    init(_ value: Int64) {
        precondition(value > 0, "record ids are positive")
        self.value = value
    }

    init?(requestText text: Substring) {
        guard let value = Self.digits(text, in: Self.range) else { return nil }
        self.value = value
    }

    static let kind = "record-id"
    static let range: ClosedRange<Int64> = 1...Int64.max
    static let expected = "a record number"
}

/// A page of a paged list, from 1 to `maximum`: at 20 entries a page, room for 200,000.
struct PageNumber: RequestNumber, Hashable {
    let value: Int

    static let first = PageNumber(unchecked: 1)
    static let maximum = 10_000

    private init(unchecked value: Int) { self.value = value }

    init?(requestText text: Substring) {
        guard let value = Self.digits(text, in: Self.range) else { return nil }
        self.value = Int(value)
    }

    /// The page after this one, if there may be one.
    var next: PageNumber? { value < Self.maximum ? PageNumber(unchecked: value + 1) : nil }
    var previous: PageNumber? { value > 1 ? PageNumber(unchecked: value - 1) : nil }

    static let kind = "page"
    static let range: ClosedRange<Int64> = 1...Int64(maximum)
    static let expected = "a page number from 1 to \(maximum)"
}

/// The grade a learner picks after a right answer in `/review`: Hard (3), Good (4) or Easy (5).
/// One type from the grading form through the redirect's query to the page that names it.
struct ChosenGrade: RequestNumber, Hashable {
    let quality: Quality

    static let hard = ChosenGrade(quality: .hard)
    static let good = ChosenGrade(quality: .good)
    static let easy = ChosenGrade(quality: .easy)

    private init(quality: Quality) { self.quality = quality }

    init?(requestText text: Substring) {
        guard let value = Self.digits(text, in: Self.range), let quality = Quality(Int(value)) else { return nil }
        self.quality = quality
    }

    /// The name on the button and on the page after grading.
    var name: String {
        switch quality.value {
        case 3: "Hard"
        case 4: "Good"
        default: "Easy"
        }
    }

    /// The form and query value.
    var text: String { String(quality.value) }

    static let kind = "grade"
    static let range: ClosedRange<Int64> = 3...5
    static let expected = "a grade: 3 (Hard), 4 (Good) or 5 (Easy)"
}
