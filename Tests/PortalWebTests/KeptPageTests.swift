import Foundation
import Logging
import Testing

@testable import PortalWeb

/// A page rendered once per version of its slot must give, for every token, exactly the bytes
/// a full render with that token gives, and must not outlive the templates it was rendered with.
@Suite struct KeptPageTests {
    static let quizValues: TemplateValues = [
        "slug": "phase-0", "title": "Phase <0>", "count": 2,
        "questions": [
            [
                "number": 1, "id": 7, "prompt": "Which & why?", "missing": false,
                "options": [["id": 1, "questionId": 7, "text": "a \"quoted\" one", "checked": false]],
            ],
            ["number": 2, "id": 8, "prompt": "Second?", "missing": false, "options": []],
        ],
    ]
    static let layout: TemplateValues = ["title": "Quiz", "csrf": "unused", "requestId": "r1"]

    static func full(_ set: TemplateSet, token: String) -> [UInt8] {
        var values = quizValues
        values["csrf"] = .text(token)
        var layout = layout
        layout["csrf"] = .text(token)
        return set.render(page: "quiz", values: values, layout: layout)
    }

    static func kept(
        _ set: TemplateSet, token: String, slot: String = "q", version: String = "1", calls: inout Int
    ) -> [UInt8] {
        var layout = layout
        layout["csrf"] = .text(token)
        return set.render(
            page: "quiz", slot: slot, version: version,
            values: {
                calls += 1; return quizValues
            }, tokenName: "csrf", token: token,
            layout: layout)
    }

    @Test func keptPagesEqualFullRendersForEveryToken() throws {
        let set = try TemplateSet(directory: repositoryTemplates, logger: Logger(label: "test"))
        var calls = 0
        for _ in 0..<3 {
            let token = Tokens.random()
            let page = Self.kept(set, token: token, calls: &calls)
            #expect(page == Self.full(set, token: token))
            #expect(String(decoding: page, as: UTF8.self).contains("name=\"csrf\" value=\"\(token)\""))
        }
        #expect(calls == 1, "the page rendered once for its version")
        _ = Self.kept(set, token: Tokens.random(), version: "2", calls: &calls)
        #expect(calls == 2, "another version renders again")
        _ = Self.kept(set, token: Tokens.random(), version: "2", calls: &calls)
        #expect(calls == 2, "and is kept in its turn")
        _ = Self.kept(set, token: Tokens.random(), version: "1", calls: &calls)
        #expect(calls == 3, "a slot keeps only its last version")
        _ = Self.kept(set, token: Tokens.random(), slot: "other", version: "2", calls: &calls)
        _ = Self.kept(set, token: Tokens.random(), version: "1", calls: &calls)
        #expect(calls == 4, "slots are kept apart")
        // A token outside the alphabet (never issued) is rendered, and escaped, in full.
        let odd = "<" + String(repeating: "x", count: 42)
        #expect(Self.kept(set, token: odd, calls: &calls) == Self.full(set, token: odd))
    }

    @Test func aReloadDropsKeptPages() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kept-\(UUID().uuidString)").path
        try FileManager.default.copyItem(atPath: repositoryTemplates, toPath: directory)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let set = try TemplateSet(directory: directory, logger: Logger(label: "test"))
        var calls = 0
        let token = Tokens.random()
        let before = String(decoding: Self.kept(set, token: token, calls: &calls), as: UTF8.self)
        let file = directory + "/quiz.mustache"
        let text = try String(contentsOfFile: file, encoding: .utf8)
        try ("<p>edited</p>\n" + text).write(toFile: file, atomically: true, encoding: .utf8)
        #expect(set.reload() == nil)
        let after = String(decoding: Self.kept(set, token: token, calls: &calls), as: UTF8.self)
        #expect(!before.contains("<p>edited</p>"))
        #expect(after.contains("<p>edited</p>"))
        #expect(calls == 2)
    }

    /// The page goes straight into the layout's buffer only where `{{{content}}}` is the
    /// layout's one use of the name, outside sections; every layout renders as it would with
    /// the rendered page as its `content` value.
    @Test(
        arguments: [
            "<main>{{{content}}}</main><p>{{title}}</p>", "{{&content}}", "{{#title}}[{{{content}}}]{{/title}}",
            "<pre>{{content}}</pre>", "{{{content}}}{{{content}}}", "{{^missing}}{{{content}}}{{/missing}}",
            "{{title}} only",
        ])
    func everyLayoutGetsThePageWhereItsContentTagIs(layoutText: String) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("layout-\(UUID().uuidString)").path
        try FileManager.default.copyItem(atPath: repositoryTemplates, toPath: directory)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try layoutText.write(toFile: directory + "/layout.mustache", atomically: true, encoding: .utf8)
        let set = try TemplateSet(directory: directory, logger: Logger(label: "test"))
        let token = Tokens.random()

        // The reference: the page rendered alone, then handed to the layout as a value.
        let templates = try TemplateSet.compile(directory: directory)
        var values = Self.quizValues
        values["csrf"] = .text(token)
        var page: [UInt8] = []
        var pageStack: [TemplateValue] = [.object(values)]
        templates["quiz"]!.render(stack: &pageStack, into: &page, partials: templates)
        var layout = Self.layout
        layout["csrf"] = .text(token)
        layout["content"] = .html(page)
        var expected: [UInt8] = []
        var layoutStack: [TemplateValue] = [.object(layout)]
        templates["layout"]!.render(stack: &layoutStack, into: &expected, partials: templates)

        #expect(Self.full(set, token: token) == expected)
        var calls = 0
        #expect(Self.kept(set, token: token, calls: &calls) == expected)
        #expect(Self.kept(set, token: token, calls: &calls) == expected, "from the kept page")
    }
}

@Suite struct TokenOffsetTests {
    /// The plain definition: every non-overlapping start, left to right.
    static func naive(_ needle: [UInt8], _ haystack: [UInt8]) -> [Int] {
        var found: [Int] = []
        var index = 0
        while !needle.isEmpty, index + needle.count <= haystack.count {
            if Array(haystack[index..<(index + needle.count)]) == needle {
                found.append(index)
                index += needle.count
            } else {
                index += 1
            }
        }
        return found
    }

    @Test func offsetsAgreeWithThePlainDefinition() {
        let cases: [(String, String)] = [
            ("aaa", "aaaaaaa"), ("ab", "abab_ab"), ("xyz", "xy"), ("tok", "tok"), ("tok", "atok"), ("q", ""),
            ("", "abc"),
        ]
        for (needle, haystack) in cases {
            #expect(
                TemplateSet.offsets(of: Array(needle.utf8), in: Array(haystack.utf8))
                    == Self.naive(Array(needle.utf8), Array(haystack.utf8)), "\(needle) in \(haystack)")
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let needle = (0..<Int.random(in: 1...4, using: &generator)).map { _ in UInt8.random(in: 97...99, using: &generator) }
            let haystack = (0..<Int.random(in: 0...60, using: &generator)).map { _ in
                UInt8.random(in: 97...99, using: &generator)
            }
            #expect(TemplateSet.offsets(of: needle, in: haystack) == Self.naive(needle, haystack))
        }
    }
}
