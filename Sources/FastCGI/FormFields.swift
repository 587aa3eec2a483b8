/// Decoded name/value pairs from a query string or an urlencoded form, in the order sent.
public struct FormFields: Sendable, Equatable {
    public private(set) var pairs: [Pair]

    public struct Pair: Sendable, Equatable {
        public let name: String
        public let value: String
    }

    public init(_ pairs: [(String, String)] = []) {
        self.pairs = pairs.map { Pair(name: $0.0, value: $0.1) }
    }

    /// Parses urlencoded bytes; throws on bad percent-encoding, invalid UTF-8 or too many fields.
    public init<S: Collection>(urlencoded bytes: S) throws(RequestDecodingError) where S.Element == UInt8 {
        self.init(try URLEncoding.parseFields(bytes))
    }

    /// The first value sent under `name`.
    public subscript(_ name: String) -> String? {
        pairs.first { $0.name == name }?.value
    }

    /// Every value sent under `name`.
    public func all(_ name: String) -> [String] {
        pairs.filter { $0.name == name }.map(\.value)
    }
}
