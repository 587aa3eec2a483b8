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
/// Mustache's `{{name}}`; a template author opts out with `{{{name}}}`.
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
        var library: MustacheLibrary
        var fingerprint: String
    }

    private let current: Locked<Loaded>
    private let watchForChanges: Bool
    private let logger: Logger

    public init(directory: String, watchForChanges: Bool = false, logger: Logger) throws(TemplateError) {
        self.directory = directory
        self.watchForChanges = watchForChanges
        self.logger = logger
        let library = try Self.compile(directory: directory)
        current = Locked(Loaded(library: library, fingerprint: Self.fingerprint(directory)))
    }

    /// Compiles every `.mustache` file under `directory` and checks the required pages exist.
    public static func compile(directory: String) throws(TemplateError) -> MustacheLibrary {
        guard FileManager.default.fileExists(atPath: directory) else {
            throw TemplateError(file: directory, message: "templates directory not found (set LYNX_TEMPLATES_DIR)")
        }
        let library = try MustacheLibrary.load(directory: directory)
        for name in required where library.getTemplate(named: name) == nil {
            throw TemplateError(file: "\(directory)/\(name).mustache", message: "missing (the portal renders this page)")
        }
        return library
    }

    /// Recompiles from disk; on failure keeps the current set and returns the error.
    @discardableResult
    public func reload() -> TemplateError? {
        do {
            let library = try Self.compile(directory: directory)
            let fingerprint = Self.fingerprint(directory)
            current.withLock { $0 = Loaded(library: library, fingerprint: fingerprint) }
            logger.info("templates reloaded", metadata: ["directory": "\(directory)"])
            return nil
        } catch {
            logger.error("template reload failed; keeping the previous templates", metadata: ["error": "\(error)"])
            return error
        }
    }

    /// Renders `page` with `values` inside the layout.
    public func render(page: String, values: [String: Any], layout: [String: Any]) -> String {
        let library = currentLibrary()
        let content = library.render(values, withTemplate: page) ?? ""
        var layoutValues = layout
        layoutValues["content"] = content
        return library.render(layoutValues, withTemplate: "layout") ?? content
    }

    private func currentLibrary() -> MustacheLibrary {
        if watchForChanges {
            let fingerprint = Self.fingerprint(directory)
            let stale = current.withLock { $0.fingerprint != fingerprint }
            if stale { reload() }
        }
        return current.withLock { $0.library }
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

extension MustacheLibrary {
    /// Loads synchronously (the library's own initialiser is `async` only for API reasons).
    static func load(directory: String) throws(TemplateError) -> MustacheLibrary {
        var library = MustacheLibrary()
        let manager = FileManager.default
        guard let enumerator = manager.enumerator(atPath: directory) else { return library }
        for case let path as String in enumerator where path.hasSuffix(".mustache") {
            let file = directory + "/" + path
            do {
                let text = try String(contentsOfFile: file, encoding: .utf8)
                try library.register(text, named: String(path.dropLast(".mustache".count)))
            } catch let error as MustacheTemplate.ParserError {
                throw TemplateError(
                    file: file,
                    message: "line \(error.context.lineNumber), column \(error.context.columnNumber): \(error.error)"
                        + " near `\(error.context.line.trimmingCharacters(in: .whitespaces))`")
            } catch {
                throw TemplateError(file: file, message: "cannot read: \(error.localizedDescription)")
            }
        }
        return library
    }
}
