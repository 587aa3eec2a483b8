import Foundation
import Logging
import Testing

@testable import PortalWeb

/// A page rendered once per key must give, for every token, exactly the bytes a full render
/// with that token gives, and must not outlive the templates it was rendered with.
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

    static func kept(_ set: TemplateSet, token: String, key: String = "q 1", calls: inout Int) -> [UInt8] {
        var layout = layout
        layout["csrf"] = .text(token)
        return set.render(
            page: "quiz", key: key,
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
        #expect(calls == 1, "the page rendered once for its key")
        _ = Self.kept(set, token: Tokens.random(), key: "q 2", calls: &calls)
        #expect(calls == 2, "another key renders again")
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
}
