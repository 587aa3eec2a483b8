import FastCGI
import Foundation
import Testing

@testable import PortalWeb

/// Numbers from requests are canonical ASCII decimal within their type's range, or nothing.
@Suite struct RequestNumberTests {
    static let notNumbers = [
        "", " 1", "1 ", "1 2", "+1", "-1", "-0", "01", "00", "1e3", "0x10", "1.5", "1_000", "1,000", "NaN", "\u{663}",
        "\u{ff13}", "1\u{663}", "\u{1d7d9}", "1\u{301}", "12345678901234567890123", "١٢٣",
    ]

    @Test(arguments: notNumbers)
    func textThatIsNotCanonicalDecimalIsNoNumberOfAnyType(text: String) {
        #expect(RecordID(requestText: text[...]) == nil)
        #expect(PageNumber(requestText: text[...]) == nil)
        #expect(ChosenGrade(requestText: text[...]) == nil)
    }

    @Test func recordIDsRunFromOneToInt64Max() {
        #expect(RecordID(requestText: "1")?.value == 1)
        #expect(RecordID(requestText: "9223372036854775807")?.value == Int64.max)
        #expect(RecordID(requestText: "9223372036854775808") == nil)
        #expect(RecordID(requestText: "9999999999999999999") == nil)
        #expect(RecordID(requestText: "18446744073709551616") == nil)
        #expect(RecordID(requestText: "0") == nil)
    }

    @Test func pagesRunFromOneToTheMaximumAndStepWithinIt() throws {
        #expect(PageNumber(requestText: "0") == nil)
        #expect(PageNumber(requestText: "999999999999999999") == nil)
        #expect(PageNumber(requestText: "9223372036854775807") == nil)
        #expect(PageNumber(requestText: "\(PageNumber.maximum + 1)"[...]) == nil)
        let last = try #require(PageNumber(requestText: "\(PageNumber.maximum)"[...]))
        #expect(last.next == nil)
        #expect(last.previous?.value == PageNumber.maximum - 1)
        #expect(PageNumber.first.previous == nil)
        #expect(PageNumber.first.next?.value == 2)
    }

    @Test func onlyTheThreeChoosableGradesAreGrades() {
        #expect(["0", "1", "2", "6", "9"].allSatisfy { ChosenGrade(requestText: $0[...]) == nil })
        #expect(ChosenGrade(requestText: "3") == .hard)
        #expect(ChosenGrade(requestText: "4")?.name == "Good")
        #expect(ChosenGrade(requestText: "5")?.text == "5")
    }

    @Test func everyRouteNumberIsListedWithItsTypeAndRange() throws {
        let table = Portal.routeTable
        let journal = try #require(table.first { $0.pattern == "/journal" })
        #expect(journal.numbers.map(\.name) == ["page"])
        #expect(journal.numbers.first?.maximum == Int64(PageNumber.maximum))
        let quiz = try #require(table.first { $0.pattern == "/quiz/:slug" })
        #expect(quiz.numbers.first?.methods == ["POST"])
        #expect(quiz.numbers.first?.nameSuffix == "question id")
        let numbered = table.filter { $0.pattern.contains(":id") }
        #expect(!numbered.isEmpty)
        #expect(numbered.allSatisfy { $0.numbers.contains { $0.name == "id" && $0.source == "path" } })
    }

    static func exchange(query: String = "", captures: [String: String] = [:], numbers: [any DeclaredNumber]) throws
        -> Exchange
    {
        var exchange = Exchange(
            request: Request(params: ["QUERY_STRING": query], body: [], id: "t"), path: "/journal", now: Date())
        exchange.query = try exchange.request.query()
        exchange.captures = captures
        exchange.numbers = numbers
        return exchange
    }

    @Test func aHandlerReadsOnlyTheNumbersItsRouteDeclares() throws {
        let undeclared = try Self.exchange(query: "page=2", numbers: [])
        #expect(throws: UndeclaredNumber.self) { try undeclared.number(Portal.Numbers.journalPage) }
        let declared = try Self.exchange(query: "page=2", numbers: [Portal.Numbers.journalPage])
        #expect(try declared.number(Portal.Numbers.journalPage)?.value == 2)
        let absent = try Self.exchange(numbers: [Portal.Numbers.journalPage])
        #expect(try absent.number(Portal.Numbers.journalPage) == nil)
    }

    @Test func aBadFieldIsA400AndABadPathSegmentA404() throws {
        let field = try Self.exchange(query: "page=1&page=%2B2", numbers: [Portal.Numbers.journalPage])
        let fieldError = #expect(throws: HTTPError.self) { try Portal.Numbers.journalPage.check(field) }
        #expect(fieldError?.status == 400)
        let path = try Self.exchange(captures: ["id": "0x10"], numbers: [Portal.Numbers.entryID])
        let pathError = #expect(throws: HTTPError.self) { try path.required(Portal.Numbers.entryID) }
        #expect(pathError?.status == 404)
    }
}
