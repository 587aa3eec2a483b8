/// A value a page hands to its template: text (HTML-escaped by `{{name}}`), a flag, a list or
/// an object of named values. Typed rather than `Any`, so rendering never has to discover what a
/// value is by dynamic casts.
public enum TemplateValue: Sendable, Equatable {
    case text(String)
    case bool(Bool)
    case list([TemplateValue])
    case object(TemplateValues)
    /// UTF-8 that is already HTML (a rendered page inside the layout): passed on as bytes, without
    /// a round trip through `String`. Behaves as `.text` of the same characters.
    case html([UInt8])

    /// A number, rendered in decimal.
    public static func number(_ value: some BinaryInteger) -> TemplateValue {
        guard let small = Int(exactly: value), small >= 0, small < 1_000_000_000_000_000 else { return .text(String(value)) }
        return .text(decimal(small))
    }

    /// `String(value)` for 0 ≤ value < 10¹⁵, without the generic integer printing: pages show
    /// many ids and counts. Fifteen digits or fewer make a small (inline) string.
    static func decimal(_ value: Int) -> String {
        var digits = 1
        var rest = value / 10
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        return String(unsafeUninitializedCapacity: digits) { buffer in
            var remaining = value
            for index in stride(from: digits - 1, through: 0, by: -1) {
                buffer[index] = UInt8(ascii: "0") + UInt8(remaining % 10)
                remaining /= 10
            }
            return digits
        }
    }

    /// An optional text: an absent value is simply not set (sections over it do not render).
    public static func optional(_ value: String?) -> TemplateValue? { value.map { .text($0) } }
}

/// The named values of one page (or of one item in a list), in the order they were set.
///
/// A template looks up every tag by name, often climbing through several of these, and pages
/// build one per list item. Names are short (inline, 15 bytes or less), so comparing them one
/// after another is cheaper than the hashing a `Dictionary` does on every lookup and insert, for
/// the few to few dozen names a page has.
public struct TemplateValues: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
    // A struct, not a tuple: arrays of tuples are destroyed through generic metadata looked up
    // at run time, on every page.
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var value: TemplateValue
    }

    private var entries: [Entry] = []

    public init() {}

    /// Names in a literal must be distinct, as in a `Dictionary` literal.
    public init(dictionaryLiteral elements: (String, TemplateValue)...) {
        self.init(elements)
    }

    init(_ elements: [(String, TemplateValue)]) {
        assert(Set(elements.map(\.0)).count == elements.count, "a name appears twice in \(elements.map(\.0))")
        entries = elements.map { Entry(name: $0.0, value: $0.1) }
    }

    public subscript(name: String) -> TemplateValue? {
        get {
            guard let index = index(of: name) else { return nil }
            return entries[index].value
        }
        set {
            if let index = index(of: name) {
                if let newValue { entries[index].value = newValue } else { entries.remove(at: index) }
            } else if let newValue {
                entries.append(Entry(name: name, value: newValue))
            }
        }
    }

    private func index(of name: String) -> Int? {
        // Most names differ in length, which is cheaper to compare than their bytes.
        let length = name.utf8.count
        return entries.withUnsafeBufferPointer { entries in
            for index in entries.indices where entries[index].name.utf8.count == length && entries[index].name == name {
                return index
            }
            return nil
        }
    }

    public var count: Int { entries.count }

    public func makeIterator() -> IndexingIterator<[Entry]> { entries.makeIterator() }

    /// The same names with the same values, in any order.
    public static func == (left: TemplateValues, right: TemplateValues) -> Bool {
        left.count == right.count && left.entries.allSatisfy { right[$0.name] == $0.value }
    }
}

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
        self = .object(TemplateValues(elements))
    }
}
