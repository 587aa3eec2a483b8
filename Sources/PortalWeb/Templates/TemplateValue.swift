/// A value a page hands to its template: text (HTML-escaped by `{{name}}`), a flag, a list or
/// an object of named values. Typed rather than `Any`, so rendering never has to discover what a
/// value is by dynamic casts.
public enum TemplateValue: Sendable, Equatable {
    case text(String)
    case bool(Bool)
    case list([TemplateValue])
    case object([String: TemplateValue])

    /// A number, rendered in decimal.
    public static func number(_ value: some BinaryInteger) -> TemplateValue { .text(String(value)) }

    /// An optional text: an absent value is simply not set (sections over it do not render).
    public static func optional(_ value: String?) -> TemplateValue? { value.map { .text($0) } }
}

/// The named values of one page (or of one item in a list).
public typealias TemplateValues = [String: TemplateValue]

extension TemplateValue: ExpressibleByStringLiteral, ExpressibleByStringInterpolation {
    public init(stringLiteral value: String) { self = .text(value) }
}

extension TemplateValue: ExpressibleByBooleanLiteral {
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

extension TemplateValue: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int) { self = .number(value) }
}

extension TemplateValue: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: TemplateValue...) { self = .list(elements) }
}

extension TemplateValue: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, TemplateValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}
