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
        let text: String
        let pattern: RoutePattern
        /// A route has one to three methods: a list, searched in order, is cheaper than hashing.
        let handlers: [(method: String, handler: Handler)]
        /// Every number the route's handlers read; checked before a handler runs, and the only
        /// numbers `Exchange.number(_:)` gives them.
        let numbers: [any DeclaredNumber]
    }

    private(set) var routes: [Route] = []

    /// Adds a route. `numbers` declares each number its handlers read from the path, the query
    /// or the form; a path number must name one of the pattern's `:captures`.
    mutating func add(_ pattern: String, reads numbers: [any DeclaredNumber] = [], _ handlers: KeyValuePairs<String, Handler>) {
        let route = Route(
            text: pattern, pattern: RoutePattern(pattern), handlers: handlers.map { ($0.key, $0.value) }, numbers: numbers)
        for number in numbers where number.source == .path {
            precondition(route.pattern.segments.contains(":" + number.name), "\(pattern) has no :\(number.name) to read")
        }
        routes.append(route)
    }

    /// The table for `lynx-portal routes` and the tests that probe every route.
    var descriptions: [RouteDescription] {
        routes.map { route in
            let methods = route.handlers.map(\.method)
            return RouteDescription(
                pattern: route.text, methods: methods,
                numbers: route.numbers.map { number in
                    NumberDescription(
                        name: number.name, source: number.source.rawValue, nameSuffix: number.nameSuffix,
                        type: number.kind, minimum: number.range.lowerBound, maximum: number.range.upperBound,
                        methods: number.source == .form ? methods.filter { $0 == "POST" } : methods)
                })
        }
    }

    enum Resolution {
        case found(Route, Handler, captures: [String: String])
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
                return .found(route, handler, captures: captures)
            }
            var allowed = route.handlers.map(\.method).sorted()
            if allowed.contains("GET") { allowed.append("HEAD") }
            return .methodNotAllowed(allowed: allowed)
        }
        return .notFound
    }
}

/// One route as `lynx-portal routes` prints it.
public struct RouteDescription: Sendable, Codable, Equatable {
    /// The path pattern, `:name` for a captured segment.
    public let pattern: String
    public let methods: [String]
    public let numbers: [NumberDescription]
}

/// A number a route reads, as `lynx-portal routes` prints it.
public struct NumberDescription: Sendable, Codable, Equatable {
    /// The capture, query or form field name; with `nameSuffix`, the fields' common prefix.
    public let name: String
    /// "path", "query" or "form".
    public let source: String
    /// For fields named by a prefix and an id, what the id is (e.g. "question id" for `q<id>`).
    public let nameSuffix: String?
    /// "record-id", "page" or "grade".
    public let type: String
    public let minimum: Int64
    public let maximum: Int64
    /// The methods whose requests carry it (a form only comes with POST).
    public let methods: [String]

    enum CodingKeys: String, CodingKey {
        case name, source = "in", nameSuffix, type, minimum, maximum, methods
    }
}
