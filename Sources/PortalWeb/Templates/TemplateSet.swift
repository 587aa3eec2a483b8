import Foundation
import Logging
import Mustache

/// A template that failed to compile, with the file and the parser's position and message.
public struct TemplateError: Error, CustomStringConvertible {
    public let file: String
    public let message: String

    public var description: String { "\(file): \(message)" }
}

/// The compiled templates from `templates/`, swapped atomically on reload.
///
/// Pages render into `layout.mustache` as `{{{content}}}`. Everything else is escaped by
/// Mustache's `{{name}}`; a template author opts out with `{{{name}}}`. swift-mustache parses and
/// checks every file (its messages name the line and column); pages then render through
/// `CompiledTemplate`, which produces the same bytes without the library's per-tag dynamic casts.
public final class TemplateSet: Sendable {
    public let directory: String
    /// Page templates the portal renders; all must exist for start-up to succeed.
    public static let required = [
        "layout", "login", "set-password", "home", "quiz", "quiz-result", "review", "review-grade",
        "journal", "journal-form", "journal-entry", "journal-delete", "settings",
        "errors/400", "errors/403", "errors/404", "errors/405", "errors/413", "errors/429", "errors/500",
        "errors/503",
    ]

    private struct Loaded: Sendable {
        var templates: [String: CompiledTemplate]
        var fingerprint: String
        /// Counts loads, so a page rendered with older templates is not kept with newer ones.
        var generation: Int
        /// The page last rendered for each slot (`render(page:slot:version:...)`), for these
        /// templates only.
        var kept: [String: KeptPage] = [:]
    }

    /// A page rendered with `tokenStandIn` as its token, and where the stand-in landed.
    private struct KeptPage: Sendable {
        var version: String
        var bytes: [UInt8]
        var tokenOffsets: [Int]
    }

    /// Stands in for the per-visitor token while a kept page renders: random characters of the
    /// token alphabet (base64url), so escaping leaves it alone and no other text contains it.
    private let tokenStandIn = Tokens.random()

    private let current: Locked<Loaded>
    private let watchForChanges: Bool
    private let logger: Logger

    public init(directory: String, watchForChanges: Bool = false, logger: Logger) throws(TemplateError) {
        self.directory = directory
        self.watchForChanges = watchForChanges
        self.logger = logger
        let templates = try Self.compile(directory: directory)
        current = Locked(Loaded(templates: templates, fingerprint: Self.fingerprint(directory), generation: 0))
    }

    /// Checks every `.mustache` file under `directory` with swift-mustache, compiles it for
    /// rendering, and checks the required pages exist. Returns the compiled templates by name.
    @discardableResult
    public static func compile(directory: String) throws(TemplateError) -> [String: CompiledTemplate] {
        guard FileManager.default.fileExists(atPath: directory) else {
            throw TemplateError(file: directory, message: "templates directory not found (set LYNX_TEMPLATES_DIR)")
        }
        var templates: [String: CompiledTemplate] = [:]
        for (name, file) in templateFiles(directory) {
            let text: String
            do {
                text = try String(contentsOfFile: file, encoding: .utf8)
            } catch {
                throw TemplateError(file: file, message: "cannot read: \(error.localizedDescription)")
            }
            do {
                _ = try MustacheTemplate(string: text)
            } catch let error as MustacheTemplate.ParserError {
                throw TemplateError(
                    file: file,
                    message: "line \(error.context.lineNumber), column \(error.context.columnNumber): \(error.error)"
                        + " near `\(error.context.line.trimmingCharacters(in: .whitespaces))`")
            } catch {
                throw TemplateError(file: file, message: "\(error)")
            }
            do {
                templates[name] = try CompiledTemplate(text)
            } catch {
                throw TemplateError(file: file, message: error.description)
            }
        }
        for name in required where templates[name] == nil {
            throw TemplateError(file: "\(directory)/\(name).mustache", message: "missing (the portal renders this page)")
        }
        return templates
    }

    /// Every `.mustache` file under `directory`: its template name (the relative path without the
    /// extension, e.g. `errors/404`) and its path.
    static func templateFiles(_ directory: String) -> [(name: String, file: String)] {
        guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return [] }
        var files: [(name: String, file: String)] = []
        for case let path as String in enumerator where path.hasSuffix(".mustache") {
            files.append((String(path.dropLast(".mustache".count)), directory + "/" + path))
        }
        return files
    }

    /// Recompiles from disk; on failure keeps the current set and returns the error.
    @discardableResult
    public func reload() -> TemplateError? {
        do {
            let templates = try Self.compile(directory: directory)
            let fingerprint = Self.fingerprint(directory)
            // Kept pages go with the old templates.
            current.withLock { $0 = Loaded(templates: templates, fingerprint: fingerprint, generation: $0.generation + 1) }
            logger.info("templates reloaded", metadata: ["directory": "\(directory)"])
            return nil
        } catch {
            logger.error("template reload failed; keeping the previous templates", metadata: ["error": "\(error)"])
            return error
        }
    }

    /// Renders `page` with `values` inside the layout, as UTF-8.
    public func render(page: String, values: TemplateValues, layout: TemplateValues) -> [UInt8] {
        let templates = currentTemplatesAndGeneration().templates
        return wrap(layout, templates: templates) { out in
            var stack: [TemplateValue] = [.object(values)]
            templates[page]?.render(stack: &stack, into: &out, partials: templates)
        }
    }

    /// The layout around what `content` appends. The page goes straight into the layout's
    /// buffer where `{{{content}}}` stands; a layout with the tag elsewhere (inside a section,
    /// or escaped) gets the rendered page as its `content` value.
    private func wrap(
        _ layout: TemplateValues, templates: [String: CompiledTemplate], content: (inout [UInt8]) -> Void
    ) -> [UInt8] {
        var page: [UInt8] = []
        page.reserveCapacity(8 * 1024)
        guard let layoutTemplate = templates["layout"] else {
            content(&page)
            return page
        }
        var stack: [TemplateValue] = [.object(layout)]
        if layoutTemplate.render(stack: &stack, into: &page, partials: templates, inserting: "content", content) {
            return page
        }
        var rendered: [UInt8] = []
        content(&rendered)
        var layoutValues = layout
        layoutValues["content"] = .html(rendered)
        stack = [.object(layoutValues)]
        page.removeAll(keepingCapacity: true)
        layoutTemplate.render(stack: &stack, into: &page, partials: templates)
        return page
    }

    /// As `render(page:values:layout:)`, for a page whose values depend only on `version`,
    /// apart from one per-visitor token (the CSRF token) named `tokenName`. Each `slot` of a page
    /// (a quiz, a learner's home) keeps the page last rendered for it: while the version stays
    /// the same (and the templates), later views copy those bytes and write `token` where it
    /// goes; another version renders and replaces it. `values` is only called when the page
    /// renders. Tokens must be base64url like `Tokens.random()` (escaping leaves them alone);
    /// others render the page in full.
    public func render(
        page: String, slot: String, version: String, values: () throws -> TemplateValues, tokenName: String,
        token: String, layout: TemplateValues
    ) rethrows -> [UInt8] {
        guard token.utf8.count == tokenStandIn.utf8.count, token.utf8.allSatisfy(Tokens.isBase64URL) else {
            var pageValues = try values()
            pageValues[tokenName] = .text(token)
            return render(page: page, values: pageValues, layout: layout)
        }
        let (templates, generation) = currentTemplatesAndGeneration()
        let name = page + "\u{0}" + slot
        var kept = current.withLock { loaded -> KeptPage? in
            guard loaded.generation == generation, let page = loaded.kept[name], page.version == version else { return nil }
            return page
        }
        if kept == nil {
            var pageValues = try values()
            pageValues[tokenName] = .text(tokenStandIn)
            var content: [UInt8] = []
            var stack: [TemplateValue] = [.object(pageValues)]
            templates[page]?.render(stack: &stack, into: &content, partials: templates)
            let rendered = KeptPage(
                version: version, bytes: content, tokenOffsets: Self.offsets(of: Array(tokenStandIn.utf8), in: content))
            // Kept only with the templates it was rendered with: a reload may have come meanwhile.
            current.withLock { if $0.generation == generation { $0.kept[name] = rendered } }
            kept = rendered
        }
        guard let kept else { return [] }
        var token = token
        return wrap(layout, templates: templates) { out in
            let start = out.count
            out.append(contentsOf: kept.bytes)
            token.withUTF8 { tokenBytes in
                out.withUnsafeMutableBufferPointer { bytes in
                    // Each offset plus the token's length lies within the kept bytes.
                    for offset in kept.tokenOffsets {
                        (bytes.baseAddress! + start + offset).update(from: tokenBytes.baseAddress!, count: tokenBytes.count)
                    }
                }
            }
        }
    }

    /// Where `needle` starts in `haystack`, without overlaps. Candidates are found with memchr
    /// and checked with memcmp: a kept page is searched once per render, and comparing byte by
    /// byte in Swift cost about as much as rendering it.
    static func offsets(of needle: [UInt8], in haystack: [UInt8]) -> [Int] {
        guard !needle.isEmpty, haystack.count >= needle.count else { return [] }
        var found: [Int] = []
        haystack.withUnsafeBytes { all in
            needle.withUnsafeBytes { wanted in
                let first = Int32(wanted[0])
                var index = 0
                while index <= all.count - wanted.count,
                    let hit = memchr(all.baseAddress! + index, first, all.count - wanted.count + 1 - index)
                {
                    let offset = UnsafeRawPointer(hit) - all.baseAddress!
                    if memcmp(hit, wanted.baseAddress!, wanted.count) == 0 {
                        found.append(offset)
                        index = offset + wanted.count
                    } else {
                        index = offset + 1
                    }
                }
            }
        }
        return found
    }

    private func currentTemplatesAndGeneration() -> (templates: [String: CompiledTemplate], generation: Int) {
        if watchForChanges {
            let fingerprint = Self.fingerprint(directory)
            let stale = current.withLock { $0.fingerprint != fingerprint }
            if stale { reload() }
        }
        return current.withLock { ($0.templates, $0.generation) }
    }

    /// Names, sizes and modification times of the template files: changes when any file does.
    static func fingerprint(_ directory: String) -> String {
        let manager = FileManager.default
        guard let enumerator = manager.enumerator(atPath: directory) else { return "" }
        var parts: [String] = []
        for case let path as String in enumerator where path.hasSuffix(".mustache") {
            let attributes = try? manager.attributesOfItem(atPath: directory + "/" + path)
            let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            let size = (attributes?[.size] as? NSNumber)?.intValue ?? 0
            parts.append("\(path):\(size):\(modified)")
        }
        return parts.sorted().joined(separator: "|")
    }
}
