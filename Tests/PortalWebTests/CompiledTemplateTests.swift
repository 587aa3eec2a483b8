import Foundation
import Mustache
import Testing

@testable import PortalWeb

/// The portal renders with `CompiledTemplate`; swift-mustache is the reference. Every template in
/// the repository, under several shapes of values, must come out byte for byte the same.
@Suite("Compiled templates")
struct CompiledTemplateTests {
    /// Every name the repository's templates use, and those that only ever open sections (the
    /// portal gives lists only to those: a list printed as a variable has no defined output).
    static func templateNames() throws -> (names: Set<String>, sections: Set<String>) {
        var names: Set<String> = []
        var sections: Set<String> = []
        var variables: Set<String> = []
        for (_, file) in TemplateSet.templateFiles(repositoryTemplates) {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            let tag = try Regex(#"\{\{\{?\s*([#^/&]?)\s*([A-Za-z][A-Za-z0-9_.]*)\s*\}?\}\}"#)
            for match in text.matches(of: tag) {
                let sigil = match.output[1].substring.map(String.init) ?? ""
                let name = String(match.output[2].substring ?? "")
                names.insert(name)
                if sigil == "#" || sigil == "^" { sections.insert(name) } else if sigil != "/" { variables.insert(name) }
            }
        }
        return (names, sections.subtracting(variables))
    }

    static let tricky = #"<b class="x">Tom & Jerry's</b> "quoted" ü ☃"#

    /// Shapes of values: everything set (sections as lists of two items), nothing set, flags on,
    /// flags off with empty lists, and text everywhere.
    static func valueSets() throws -> [(String, TemplateValues)] {
        let (names, sections) = try templateNames()
        var item: TemplateValues = [:]
        for name in names { item[name] = .text("\(name) " + tricky) }
        var unchecked = item
        unchecked["checked"] = false
        var full: TemplateValues = [:]
        var flagsOn: TemplateValues = [:]
        var flagsOff: TemplateValues = [:]
        var texts: TemplateValues = [:]
        for name in names {
            full[name] =
                sections.contains(name)
                ? .list([.object(item), .object(unchecked)]) : .text(tricky)
            flagsOn[name] = sections.contains(name) ? .bool(true) : .number(42)
            flagsOff[name] = sections.contains(name) ? .list([]) : .bool(false)
            texts[name] = .text(name == "content" ? "<main>raw</main>" : tricky)
        }
        return [("full", full), ("empty", [:]), ("flags on", flagsOn), ("flags off", flagsOff), ("texts", texts)]
    }

    @Test func everyRepositoryTemplateRendersAsSwiftMustacheDoes() throws {
        let compiled = try TemplateSet.compile(directory: repositoryTemplates)
        let library = try MustacheLibrary.load(directory: repositoryTemplates)
        var compared = 0
        for (name, _) in TemplateSet.templateFiles(repositoryTemplates) {
            let template = try #require(compiled[name])
            for (shape, values) in try Self.valueSets() {
                var stack: [TemplateValue] = [.object(values)]
                var out: [UInt8] = []
                template.render(stack: &stack, into: &out, partials: compiled)
                let expected = try #require(library.render(TemplateValue.object(values).anyValue, withTemplate: name))
                #expect(String(decoding: out, as: UTF8.self) == expected, "\(name) with \(shape) values")
                compared += 1
            }
        }
        #expect(compared >= 5 * TemplateSet.required.count)
    }

    static func render(_ source: String, _ values: TemplateValues, partials: [String: String] = [:]) throws -> String {
        var compiledPartials: [String: CompiledTemplate] = [:]
        for (name, text) in partials { compiledPartials[name] = try CompiledTemplate(text) }
        var stack: [TemplateValue] = [.object(values)]
        var out: [UInt8] = []
        try CompiledTemplate(source).render(stack: &stack, into: &out, partials: compiledPartials)
        return String(decoding: out, as: UTF8.self)
    }

    /// The same source through swift-mustache, for spec cases beyond the repository's templates.
    static func reference(_ source: String, _ values: TemplateValues, partials: [String: String] = [:]) throws -> String {
        var library = MustacheLibrary()
        for (name, text) in partials { try library.register(text, named: name) }
        try library.register(source, named: "main")
        return library.render(TemplateValue.object(values).anyValue, withTemplate: "main") ?? ""
    }

    static let specCases: [(String, TemplateValues)] = {
        var cases: [(String, TemplateValues)] = []
        do {
            let values: TemplateValues = ["name": "<you>"]
            cases.append(("Hello {{name}}!", values))
        }
        do {
            let values: TemplateValues = ["name": "<b>&</b>"]
            cases.append(("{{{name}}} {{&name}}", values))
        }
        do {
            let values: TemplateValues = ["a": ["b": ["c": "deep"]]]
            cases.append(("{{a.b.c}}|{{a.x}}|{{#a}}{{b.c}}{{/a}}", values))
        }
        do {
            let values: TemplateValues = ["list": ["x", "y<"]]
            cases.append(("{{#list}}[{{.}}]{{/list}}", values))
        }
        do {
            let values: TemplateValues = ["list": [["name": "a"], ["name": "b"]], "outer": "o"]
            cases.append(("{{#list}}{{name}}-{{outer}} {{/list}}", values))
        }
        do {
            let values: TemplateValues = ["items": ["one", "two"]]
            cases.append(("<ul>\n  {{#items}}\n  <li>{{.}}</li>\n  {{/items}}\n</ul>\n", values))
        }
        do {
            let values: TemplateValues = ["empty": [], "no": false]
            cases.append(("{{^none}}nothing{{/none}}|{{^empty}}empty{{/empty}}|{{^no}}false{{/no}}", values))
        }
        do {
            let values: TemplateValues = [:]
            cases.append(("a\n{{! a comment\n on two lines }}\nb\n", values))
        }
        do {
            let values: TemplateValues = ["flag": true]
            cases.append(("  {{#flag}}  \r\nyes\r\n  {{/flag}}\r\n", values))
        }
        do {
            let values: TemplateValues = ["flag": true, "text": ""]
            cases.append(("{{#flag}}on{{/flag}} {{#text}}<{{.}}>{{/text}}", values))
        }
        do {
            let values: TemplateValues = ["spaced": "s", "flag": true]
            cases.append(("{{ spaced }}|{{# flag }}in{{/ flag }}", values))
        }
        do {
            let values: TemplateValues = ["n": 0]
            cases.append(("{{#n}}{{n}}{{/n}}", values))
        }
        return cases
    }()

    @Test("spec cases match swift-mustache", arguments: specCases)
    func specCasesMatchSwiftMustache(source: String, values: TemplateValues) throws {
        #expect(try Self.render(source, values) == Self.reference(source, values))
    }

    @Test func partialsRenderInTheCallersContext() throws {
        let partials = ["row": "<td>{{cell}}</td>\n"]
        let source = "<tr>\n{{#cells}}\n{{> row}}\n{{/cells}}\n</tr>\n"
        let values: TemplateValues = ["cells": [["cell": "a&b"], ["cell": "c"]]]
        let rendered = try Self.render(source, values, partials: partials)
        #expect(rendered == "<tr>\n<td>a&amp;b</td>\n<td>c</td>\n</tr>\n")
        #expect(rendered == (try Self.reference(source, values, partials: partials)))
    }

    @Test func aStandalonePartialIsIndented() throws {
        let rendered = try Self.render("<div>\n  {{> lines}}\n</div>\n", [:], partials: ["lines": "one\ntwo\n"])
        #expect(rendered == "<div>\n  one\n  two\n</div>\n")
    }

    @Test(
        "unsupported or broken syntax is refused with its position",
        arguments: [
            ("ok\n  {{=<% %>=}}", "line 2, column 3", "delimiters"),
            ("{{<parent}}{{/parent}}", "line 1, column 1", "inheritance"),
            ("{{$block}}x{{/block}}", "line 1, column 1", "inheritance"),
            ("{{%PRAGMA}}", "line 1, column 1", "pragmas"),
            ("x {{uppercased(name)}}", "line 1, column 3", "transforms"),
            ("{{#a}}\n{{/b}}", "line 2, column 1", "closes nothing"),
            ("{{#a}}never closed", "line 1, column 1", "never closed"),
            ("é {{name", "line 1, column 3", "unclosed"),
            ("{{a..b}}", "line 1, column 1", "empty part"),
        ])
    func brokenSyntaxIsRefused(source: String, position: String, words: String) {
        #expect {
            _ = try CompiledTemplate(source)
        } throws: { error in
            let description = "\(error)"
            return description.contains(position) && description.contains(words)
        }
    }

    @Test func escapingCoversTheFiveCharacters() {
        var out: [UInt8] = []
        CompiledTemplate.appendEscaped(#"<a href="x">'&'</a> plain ü"#, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt; plain ü")
    }
}

extension TemplateValue {
    /// The same value as swift-mustache sees it (`[String: Any]`, `[Any]`, `String`, `Bool`), for
    /// checking this renderer against the library's.
    var anyValue: Any {
        switch self {
        case .text(let text): text
        case .bool(let flag): flag
        case .list(let items): items.map(\.anyValue)
        case .object(let values): Dictionary(values.map { ($0.name, $0.value.anyValue) }, uniquingKeysWith: { $1 })
        case .html(let bytes): String(decoding: bytes, as: UTF8.self)
        }
    }
}

extension MustacheLibrary {
    /// swift-mustache's own library of the directory, the reference renderer.
    static func load(directory: String) throws -> MustacheLibrary {
        var library = MustacheLibrary()
        for (name, file) in TemplateSet.templateFiles(directory) {
            try library.register(String(contentsOfFile: file, encoding: .utf8), named: name)
        }
        return library
    }
}

@Suite struct TemplateNumberTests {
    @Test(arguments: [0, 7, 10, 99, 100, 12_345, 999_999_999_999_999, 1_000_000_000_000_000, -3, Int.max, Int.min])
    func numbersPrintAsStringDoes(value: Int) {
        #expect(TemplateValue.number(value) == .text(String(value)))
    }

    @Test func otherIntegerTypesToo() {
        #expect(TemplateValue.number(Int64(42)) == .text("42"))
        #expect(TemplateValue.number(UInt8(255)) == .text("255"))
        #expect(TemplateValue.number(UInt64.max) == .text(String(UInt64.max)))
    }
}

@Suite struct InsertionPointTests {
    @Test(
        arguments: [
            ("<main>{{{content}}}</main>{{title}}", ["content"]), ("{{&content}}", ["content"]),
            ("{{content}}", []), ("{{{content}}}{{{content}}}", []), ("{{#content}}x{{/content}}", []),
            ("{{{content}}}{{#a}}{{content}}{{/a}}", []), ("{{#a}}{{{content}}}{{/a}}", []),
            ("{{{content}}}{{> footer}}", []), ("{{{content.html}}}", []),
        ])
    func onlyASoleTopLevelUnescapedTagIsAnInsertionPoint(source: String, names: [String]) throws {
        #expect(try CompiledTemplate(source).insertionPoints.map(\.name) == names)
    }
}
