import FastCGI

/// An error a handler throws to answer with an error page.
public struct HTTPError: Error {
    public var status: Int
    public var message: String?
    public var headers: [(name: String, value: String)]

    public init(_ status: Int, _ message: String? = nil, headers: [(name: String, value: String)] = []) {
        self.status = status
        self.message = message
        self.headers = headers
    }
}

/// Path patterns like `/quiz/:slug` or `/journal/:id/edit`, matched segment by segment.
struct RoutePattern: Sendable {
    let segments: [String]

    init(_ pattern: String) {
        segments = pattern.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
    }

    /// The captured `:name` values, or nil when `path` does not match.
    func match(_ path: String) -> [String: String]? {
        match(parts: path.split(separator: "/", omittingEmptySubsequences: true))
    }

    /// As `match(_:)`, for a path already split at "/". Segments compare as bytes (paths are
    /// not normalized: "/quiz/e\u{301}" is not "/quiz/\u{e9}").
    func match(parts: [Substring]) -> [String: String]? {
        guard parts.count == segments.count else { return nil }
        var captures: [String: String] = [:]
        for (segment, part) in zip(segments, parts) {
            if segment.utf8.first == UInt8(ascii: ":") {
                captures[String(segment.dropFirst())] = String(part)
            } else if !segment.utf8.elementsEqual(part.utf8) {
                return nil
            }
        }
        return captures
    }
}

/// The routing table: a pattern and the handler for each method it allows.
struct Router: Sendable {
    typealias Handler = @Sendable (Portal, inout Exchange) throws -> Response

    struct Route: Sendable {
        let pattern: RoutePattern
        /// A route has one to three methods: a list, searched in order, is cheaper than hashing.
        let handlers: [(method: String, handler: Handler)]
    }

    private(set) var routes: [Route] = []

    mutating func add(_ pattern: String, _ handlers: KeyValuePairs<String, Handler>) {
        routes.append(Route(pattern: RoutePattern(pattern), handlers: handlers.map { ($0.key, $0.value) }))
    }

    enum Resolution {
        case found(Handler, captures: [String: String])
        case methodNotAllowed(allowed: [String])
        case notFound
    }

    /// HEAD is answered like GET (the web server drops the body).
    func resolve(method: String, path: String) -> Resolution {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        for route in routes {
            guard let captures = route.pattern.match(parts: parts) else { continue }
            let lookup = method == "HEAD" ? "GET" : method
            if let handler = route.handlers.first(where: { $0.method == lookup })?.handler {
                return .found(handler, captures: captures)
            }
            var allowed = route.handlers.map(\.method).sorted()
            if allowed.contains("GET") { allowed.append("HEAD") }
            return .methodNotAllowed(allowed: allowed)
        }
        return .notFound
    }
}
