import Foundation

/// A Mustache template compiled once into a tree that renders typed `TemplateValue`s straight
/// into bytes.
///
/// swift-mustache stays the reference: it checks every template at start-up and in
/// `check-templates`, and the unit tests render every page template through both and require
/// byte-identical output. This renderer exists because the library looks each name up through
/// `Any` with half a dozen protocol casts per tag, which made rendering most of the portal's CPU
/// per page (experiments/bench/RESULTS.md). It supports the Mustache the portal's templates use:
/// variables (`{{name}}`, `{{{name}}}`, `{{&name}}`, dotted names, `{{.}}`), sections, inverted
/// sections, comments and partials, with the spec's standalone-line rules. Anything else (set
/// delimiters, blocks, parents, pragmas, transforms) is refused with its line and column.
public struct CompiledTemplate: Sendable {
    enum Node: Sendable {
        case text([UInt8])
        case variable([String], escaped: Bool)
        case section(Section)
        case partial(String, indentation: [UInt8])
    }

    /// A section's body lives in a class, so `Node` is not a recursive enum (whose payloads
    /// LeakSanitizer reported as leaked after template reloads).
    final class Section: Sendable {
        let path: [String]
        let inverted: Bool
        let body: [Node]

        init(path: [String], inverted: Bool, body: [Node]) {
            self.path = path
            self.inverted = inverted
            self.body = body
        }
    }

    struct SyntaxError: Error, CustomStringConvertible {
        let line: Int
        let column: Int
        let message: String
        var description: String { "line \(line), column \(column): \(message)" }
    }

    let nodes: [Node]
    /// Names whose only tag in the template is one top-level `{{{name}}}` (or `{{&name}}`), with
    /// that node's index; none when the template has partials (they might name them too).
    let insertionPoints: [(name: String, index: Int)]

    init(_ source: String) throws(SyntaxError) {
        var parser = Parser(Array(source.utf8))
        nodes = try parser.parse()
        insertionPoints = Self.insertionPoints(nodes)
    }

    private static func insertionPoints(_ nodes: [Node]) -> [(name: String, index: Int)] {
        var uses: [String: Int] = [:]
        var hasPartials = false
        func count(_ nodes: [Node]) {
            for node in nodes {
                switch node {
                case .text: break
                case .variable(let path, _): uses[path[0], default: 0] += 1
                case .section(let section):
                    uses[section.path[0], default: 0] += 1
                    count(section.body)
                case .partial: hasPartials = true
                }
            }
        }
        count(nodes)
        guard !hasPartials else { return [] }
        return nodes.indices.compactMap { index in
            guard case .variable(let path, escaped: false) = nodes[index], path.count == 1, uses[path[0]] == 1 else {
                return nil
            }
            return (path[0], index)
        }
    }

    /// Renders into `out`, looking names up in `stack` from the top down.
    func render(stack: inout [TemplateValue], into out: inout [UInt8], partials: [String: CompiledTemplate]) {
        Self.render(nodes[...], stack: &stack, into: &out, partials: partials)
    }

    /// Renders into `out` with `insert` appending what `{{{name}}}` would show: the same bytes
    /// as rendering with that value as `.html`, without first building the value. Only when
    /// that tag is the name's one use and stands outside any section (`insertionPoints`);
    /// otherwise renders nothing and returns false (the caller then renders the value and
    /// `render`s).
    func render(
        stack: inout [TemplateValue], into out: inout [UInt8], partials: [String: CompiledTemplate],
        inserting name: String, _ insert: (inout [UInt8]) -> Void
    ) -> Bool {
        guard let index = insertionPoints.first(where: { $0.name == name })?.index else { return false }
        Self.render(nodes[..<index], stack: &stack, into: &out, partials: partials)
        insert(&out)
        Self.render(nodes[(index + 1)...], stack: &stack, into: &out, partials: partials)
        return true
    }

    private static func render(
        _ nodes: ArraySlice<Node>, stack: inout [TemplateValue], into out: inout [UInt8],
        partials: [String: CompiledTemplate]
    ) {
        for node in nodes {
            switch node {
            case .text(let bytes):
                out.append(contentsOf: bytes)
            case .variable(let path, let escaped):
                switch lookup(path, in: stack) {
                case .text(let text)?:
                    if escaped { appendEscaped(text, to: &out) } else { out.append(contentsOf: text.utf8) }
                case .html(let bytes)?:
                    if escaped {
                        bytes.withUnsafeBufferPointer { appendEscaped($0, to: &out) }
                    } else {
                        out.append(contentsOf: bytes)
                    }
                case .bool(let flag)?:
                    out.append(contentsOf: (flag ? "true" : "false").utf8)
                case .list?, .object?, nil:
                    break
                }
            case .section(let section):
                let body = section.body[...]
                let value = lookup(section.path, in: stack)
                if section.inverted {
                    switch value {
                    case nil, .bool(false)?: render(body, stack: &stack, into: &out, partials: partials)
                    case .list(let items)? where items.isEmpty: render(body, stack: &stack, into: &out, partials: partials)
                    default: break
                    }
                    continue
                }
                switch value {
                case nil, .bool(false)?:
                    break
                case .bool(true)?:
                    render(body, stack: &stack, into: &out, partials: partials)
                case .list(let items)?:
                    for item in items {
                        stack.append(item)
                        render(body, stack: &stack, into: &out, partials: partials)
                        stack.removeLast()
                    }
                case let value?:
                    stack.append(value)
                    render(body, stack: &stack, into: &out, partials: partials)
                    stack.removeLast()
                }
            case .partial(let name, let indentation):
                guard let partial = partials[name] else { continue }
                if indentation.isEmpty {
                    render(partial.nodes[...], stack: &stack, into: &out, partials: partials)
                } else {
                    var inner: [UInt8] = []
                    render(partial.nodes[...], stack: &stack, into: &inner, partials: partials)
                    indent(inner, by: indentation, into: &out)
                }
            }
        }
    }

    /// Mustache's lookup: the first name climbs the context stack, the rest descend from there.
    static func lookup(_ path: [String], in stack: [TemplateValue]) -> TemplateValue? {
        guard let first = path.first else { return nil }
        if path.count == 1, first.utf8.count == 1, first == "." { return stack.last }
        var found: TemplateValue?
        var level = stack.count
        while level > 0 {
            level -= 1
            if case .object(let values) = stack[level], let value = values[first] {
                found = value
                break
            }
        }
        guard var current = found else { return nil }
        var index = 1
        while index < path.count {
            guard case .object(let values) = current, let value = values[path[index]] else { return nil }
            current = value
            index += 1
        }
        return current
    }

    /// HTML-escapes as swift-mustache does: `<`, `>`, `&`, `"` and `'`.
    static func appendEscaped(_ text: String, to out: inout [UInt8]) {
        var text = text
        text.withUTF8 { appendEscaped($0, to: &out) }
    }

    static func appendEscaped(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        // Bit n is set when byte n is escaped: `"` (34), `&` (38), `'` (39), `<` (60), `>` (62).
        let escapedBelow64: UInt64 = 1 << 34 | 1 << 38 | 1 << 39 | 1 << 60 | 1 << 62
        var start = 0
        for index in 0..<bytes.count {
            let byte = bytes[index]
            // Most bytes fail the first test.
            guard byte < 64, escapedBelow64 & (1 << UInt64(byte)) != 0 else { continue }
            let replacement: StaticString
            switch byte {
            case UInt8(ascii: "<"): replacement = "&lt;"
            case UInt8(ascii: ">"): replacement = "&gt;"
            case UInt8(ascii: "&"): replacement = "&amp;"
            case UInt8(ascii: "\""): replacement = "&quot;"
            default: replacement = "&#39;"
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
            replacement.withUTF8Buffer { out.append(contentsOf: $0) }
            start = index + 1
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<bytes.count]))
    }

    /// A standalone partial's indentation goes before each of its lines.
    private static func indent(_ text: [UInt8], by indentation: [UInt8], into out: inout [UInt8]) {
        var atLineStart = true
        for byte in text {
            if atLineStart { out.append(contentsOf: indentation) }
            out.append(byte)
            atLineStart = byte == UInt8(ascii: "\n")
        }
    }
}

// MARK: Parsing

extension CompiledTemplate {
    private struct Parser {
        enum Kind { case variable, unescaped, section, inverted, close, comment, partial }

        struct Tag {
            var kind: Kind
            var name: String
            var start: Int
            var end: Int
            /// For a standalone partial: the blanks before it, which go before each of its lines.
            var indentation: [UInt8] = []
        }

        /// Text and tags alternate, starting and ending with (possibly empty) text.
        enum Piece {
            case text(Range<Int>)
            case tag(Tag)
        }

        let bytes: [UInt8]

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        mutating func parse() throws(SyntaxError) -> [Node] {
            var pieces = try scan()
            stripStandaloneLines(&pieces)
            return try tree(pieces)
        }

        private func scan() throws(SyntaxError) -> [Piece] {
            var pieces: [Piece] = []
            var position = 0
            while let open = find("{{", from: position) {
                pieces.append(.text(position..<open))
                let tag = try readTag(at: open)
                pieces.append(.tag(tag))
                position = tag.end
            }
            pieces.append(.text(position..<bytes.count))
            return pieces
        }

        private func readTag(at open: Int) throws(SyntaxError) -> Tag {
            let triple = open + 2 < bytes.count && bytes[open + 2] == UInt8(ascii: "{")
            let closer = triple ? "}}}" : "}}"
            let contentStart = open + (triple ? 3 : 2)
            guard let close = find(closer, from: contentStart) else {
                throw error(at: open, "unclosed tag: no `\(closer)` after this `{{`")
            }
            let end = close + closer.utf8.count
            var content = String(decoding: bytes[contentStart..<close], as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            if triple { return Tag(kind: .unescaped, name: try name(content, at: open), start: open, end: end) }
            let kind: Kind
            switch content.first {
            case "!": return Tag(kind: .comment, name: "", start: open, end: end)
            case "#": kind = .section
            case "^": kind = .inverted
            case "/": kind = .close
            case ">": kind = .partial
            case "&": kind = .unescaped
            case "=": throw error(at: open, "changing delimiters (`{{=`) is not supported")
            case "$", "<": throw error(at: open, "template inheritance (`{{\(content.first!)`) is not supported")
            case "%": throw error(at: open, "pragmas (`{{%`) are not supported")
            default: kind = .variable
            }
            if kind != .variable { content = String(content.dropFirst()).trimmingCharacters(in: .whitespacesAndNewlines) }
            if kind == .partial {
                guard !content.isEmpty, !content.contains(where: { $0 == " " || $0 == "\t" }) else {
                    throw error(at: open, "a partial needs one template name")
                }
                return Tag(kind: kind, name: content, start: open, end: end)
            }
            return Tag(kind: kind, name: try name(content, at: open), start: open, end: end)
        }

        /// A valid name: `.` or dot-separated parts without spaces or brackets.
        private func name(_ content: String, at offset: Int) throws(SyntaxError) -> String {
            guard !content.isEmpty else { throw error(at: offset, "empty tag") }
            if content == "." { return content }
            let forbidden: Set<Character> = [" ", "\t", "\r", "\n", "(", ")", "{", "}"]
            if content.contains(where: { forbidden.contains($0) }) {
                throw error(at: offset, "`\(content)` is not a name (transforms and spaces are not supported)")
            }
            if content.split(separator: ".", omittingEmptySubsequences: false).contains(where: \.isEmpty) {
                throw error(at: offset, "`\(content)` has an empty part between dots")
            }
            return content
        }

        /// Removes the whitespace and line break around tags that stand alone on their line.
        private func stripStandaloneLines(_ pieces: inout [Piece]) {
            for index in stride(from: 1, to: pieces.count, by: 2) {
                guard case .tag(let tag) = pieces[index], tag.kind != .variable, tag.kind != .unescaped,
                    case .text(let before) = pieces[index - 1], case .text(let after) = pieces[index + 1]
                else { continue }
                var lineStart = tag.start
                while lineStart > before.lowerBound, isBlank(bytes[lineStart - 1]) { lineStart -= 1 }
                guard lineStart == 0 || bytes[lineStart - 1] == UInt8(ascii: "\n") else { continue }
                var lineEnd = tag.end
                while lineEnd < after.upperBound, isBlank(bytes[lineEnd]) { lineEnd += 1 }
                if lineEnd < after.upperBound, bytes[lineEnd] == UInt8(ascii: "\r"), lineEnd + 1 < after.upperBound,
                    bytes[lineEnd + 1] == UInt8(ascii: "\n")
                {
                    lineEnd += 2
                } else if lineEnd < after.upperBound, bytes[lineEnd] == UInt8(ascii: "\n") {
                    lineEnd += 1
                } else if lineEnd != bytes.count {
                    continue
                }
                var standalone = tag
                standalone.indentation = Array(bytes[lineStart..<tag.start])
                pieces[index] = .tag(standalone)
                pieces[index - 1] = .text(before.lowerBound..<lineStart)
                pieces[index + 1] = .text(lineEnd..<after.upperBound)
            }
        }

        private func tree(_ pieces: [Piece]) throws(SyntaxError) -> [Node] {
            var stack: [(tag: Tag, nodes: [Node])] = [(Tag(kind: .section, name: "", start: 0, end: 0), [])]
            func add(_ node: Node) { stack[stack.count - 1].nodes.append(node) }
            for piece in pieces {
                switch piece {
                case .text(let range):
                    if !range.isEmpty { add(.text(Array(bytes[range]))) }
                case .tag(let tag):
                    switch tag.kind {
                    case .comment:
                        break
                    case .variable:
                        add(.variable(path(tag.name), escaped: true))
                    case .unescaped:
                        add(.variable(path(tag.name), escaped: false))
                    case .section, .inverted:
                        stack.append((tag, []))
                    case .close:
                        guard stack.count > 1, let open = stack.last, open.tag.name == tag.name else {
                            let expected = stack.count > 1 ? "`{{/\(stack[stack.count - 1].tag.name)}}`" : "no open section"
                            throw error(at: tag.start, "`{{/\(tag.name)}}` closes nothing open here (expected \(expected))")
                        }
                        stack.removeLast()
                        add(.section(Section(path: path(open.tag.name), inverted: open.tag.kind == .inverted, body: open.nodes)))
                    case .partial:
                        add(.partial(tag.name, indentation: tag.indentation))
                    }
                }
            }
            if stack.count > 1, let open = stack.last {
                throw error(at: open.tag.start, "section `\(open.tag.name)` is never closed")
            }
            return stack[0].nodes
        }

        private func path(_ name: String) -> [String] {
            name == "." ? ["."] : name.split(separator: ".").map(String.init)
        }

        private func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }

        private func find(_ needle: String, from start: Int) -> Int? {
            let needle = Array(needle.utf8)
            guard start + needle.count <= bytes.count else { return nil }
            var index = start
            while index + needle.count <= bytes.count {
                if bytes[index] == needle[0], bytes[index..<index + needle.count].elementsEqual(needle) { return index }
                index += 1
            }
            return nil
        }

        private func error(at offset: Int, _ message: String) -> SyntaxError {
            var line = 1
            var column = 1
            for byte in bytes[0..<min(offset, bytes.count)] {
                if byte == UInt8(ascii: "\n") {
                    line += 1
                    column = 1
                } else if byte & 0xC0 != 0x80 {
                    column += 1
                }
            }
            return SyntaxError(line: line, column: column, message: message)
        }
    }
}
