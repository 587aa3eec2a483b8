import FastCGI

/// Where a route reads a number from.
enum NumberSource: String, Sendable {
    case path, query, form
}

/// A number a route reads, whatever its type: what `Router.add(_:reads:_:)` keeps and checks.
protocol DeclaredNumber: Sendable {
    var name: String { get }
    var source: NumberSource { get }
    var nameSuffix: String? { get }
    var kind: String { get }
    var range: ClosedRange<Int64> { get }
    /// Throws the route's 400 (or 404 for a path) when a value the request carries for this
    /// number is not one of its type's values.
    func check(_ exchange: Exchange) throws
}

/// A number a route reads: its name, where it comes from and its type. Declared once (`Portal.Numbers`),
/// listed beside the route that reads it, and read by the handler through the same value
/// (`Exchange.number(_:)`), so the declaration and the handler cannot drift apart.
struct NumberParameter<Value: RequestNumber>: DeclaredNumber {
    let name: String
    let source: NumberSource
    let nameSuffix: String?

    /// A `:name` segment of the route's pattern.
    init(path name: String) { self.init(name: name, source: .path, nameSuffix: nil) }
    /// A field of the query string.
    init(query name: String) { self.init(name: name, source: .query, nameSuffix: nil) }
    /// A field of a POSTed form; with `suffix`, every field named `name` followed by a record
    /// id (`q12`, `q13`, ...), `suffix` saying what the id is.
    init(form name: String, suffix: String? = nil) { self.init(name: name, source: .form, nameSuffix: suffix) }

    private init(name: String, source: NumberSource, nameSuffix: String?) {
        self.name = name
        self.source = source
        self.nameSuffix = nameSuffix
    }

    var kind: String { Value.kind }
    var range: ClosedRange<Int64> { Value.range }

    /// The error for a value that is not one of the type's: a path that names nothing is not
    /// found; a field that is not a number is a bad request.
    var rejection: HTTPError {
        switch source {
        case .path: HTTPError(404)
        case .query, .form:
            HTTPError(400, "“\(nameSuffix == nil ? name : name + "…")” must be \(Value.expected).")
        }
    }

    func check(_ exchange: Exchange) throws {
        for text in texts(in: exchange) where Value(requestText: text[...]) == nil { throw rejection }
    }

    /// Every value the request carries for this number (duplicates too: each must be valid).
    private func texts(in exchange: Exchange) -> [String] {
        switch source {
        case .path:
            return exchange.captures[name].map { [$0] } ?? []
        case .query, .form:
            let fields = source == .query ? exchange.query : exchange.form
            guard nameSuffix != nil else { return fields.all(name) }
            return fields.pairs.filter { isSuffixedName($0.name) }.map(\.value)
        }
    }

    /// `name` followed by a record id: `q12`, not `q`, `q012` or `qx`.
    private func isSuffixedName(_ field: String) -> Bool {
        field.hasPrefix(name) && RecordID(requestText: field.dropFirst(name.count)) != nil
    }
}

/// A handler read a number its route does not declare: a mistake in the route table, answered
/// with a 500 on every request to that handler so that any test of it finds it.
struct UndeclaredNumber: Error, CustomStringConvertible {
    let name: String
    let path: String

    var description: String { "the route for \(path) reads the number \(name) without declaring it" }
}

extension Exchange {
    /// The value the request carries for `parameter`, or nil when it carries none. Throws the
    /// parameter's 400/404 for a value outside its type, and `UndeclaredNumber` when the route
    /// does not list `parameter`.
    func number<Value>(_ parameter: NumberParameter<Value>, id: Int64? = nil) throws -> Value? {
        guard
            numbers.contains(where: {
                $0.name == parameter.name && $0.source == parameter.source && $0.nameSuffix == parameter.nameSuffix
            })
        else { throw UndeclaredNumber(name: parameter.name, path: path) }
        let text: String?
        switch parameter.source {
        case .path: text = captures[parameter.name]
        case .query: text = query[parameter.name]
        case .form: text = form[id.map { parameter.name + String($0) } ?? parameter.name]
        }
        guard let text else { return nil }
        guard let value = Value(requestText: text[...]) else { throw parameter.rejection }
        return value
    }

    /// As `number(_:)`, for a number the handler cannot do without: absent is the parameter's
    /// 400 (a path number is never absent).
    func required<Value>(_ parameter: NumberParameter<Value>) throws -> Value {
        guard let value = try number(parameter) else { throw parameter.rejection }
        return value
    }
}
