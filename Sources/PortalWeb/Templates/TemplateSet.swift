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
    }

    private let current: Locked<Loaded>
    private let watchForChanges: Bool
    private let logger: Logger

    public init(directory: String, watchForChanges: Bool = false, logger: Logger) throws(TemplateError) {
        self.directory = directory
        self.watchForChanges = watchForChanges
        self.logger = logger
        let templates = try Self.compile(directory: directory)
        current = Locked(Loaded(templates: templates, fingerprint: Self.fingerprint(directory)))
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
            current.withLock { $0 = Loaded(templates: templates, fingerprint: fingerprint) }
            logger.info("templates reloaded", metadata: ["directory": "\(directory)"])
            return nil
        } catch {
            logger.error("template reload failed; keeping the previous templates", metadata: ["error": "\(error)"])
            return error
        }
    }

    /// Renders `page` with `values` inside the layout, as UTF-8.
    public func render(page: String, values: TemplateValues, layout: TemplateValues) -> [UInt8] {
        let templates = currentTemplates()
        var content: [UInt8] = []
        content.reserveCapacity(16 * 1024)
        var stack: [TemplateValue] = [.object(values)]
        templates[page]?.render(stack: &stack, into: &content, partials: templates)
        guard let layoutTemplate = templates["layout"] else { return content }
        var layoutValues = layout
        layoutValues["content"] = .html(content)
        var page: [UInt8] = []
        page.reserveCapacity(content.count + 2048)
        stack = [.object(layoutValues)]
        layoutTemplate.render(stack: &stack, into: &page, partials: templates)
        return page
    }

    private func currentTemplates() -> [String: CompiledTemplate] {
        if watchForChanges {
            let fingerprint = Self.fingerprint(directory)
            let stale = current.withLock { $0.fingerprint != fingerprint }
            if stale { reload() }
        }
        return current.withLock { $0.templates }
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
