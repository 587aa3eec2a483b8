import Foundation

/// The FastCGI parameters of one request (CGI/1.1 meta-variables), as the web server sent them.
///
/// Kept as the bytes libfcgi received, in one buffer: a request reads a handful of its twenty or
/// so parameters, so each is decoded only when asked for, instead of building a `Dictionary` of
/// all of them (two strings and a hash each) on every request.
public struct Parameters: Sendable, ExpressibleByDictionaryLiteral {
    private struct Span: Sendable {
        var start: Int
        var equals: Int
        var end: Int
    }

    private var bytes: [UInt8] = []
    private var spans: [Span] = []

    public init() {}

    public init(_ values: [String: String]) {
        for (name, value) in values.sorted(by: { $0.key < $1.key }) { append(Array(name.utf8), Array(value.utf8)) }
    }

    public init(dictionaryLiteral elements: (String, String)...) {
        for (name, value) in elements { append(Array(name.utf8), Array(value.utf8)) }
    }

    /// The parameters of a request libfcgi accepted (`FCGX_Request.envp`), and whether any name or
    /// value was not valid UTF-8 (such bytes read as U+FFFD).
    static func read(_ envp: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> (Parameters, invalidEncoding: Bool) {
        var parameters = Parameters()
        guard var cursor = envp else { return (parameters, false) }
        parameters.bytes.reserveCapacity(2048)
        parameters.spans.reserveCapacity(32)
        while let entry = cursor.pointee {
            cursor += 1
            let length = strlen(entry)
            guard let equalsSign = memchr(entry, Int32(UInt8(ascii: "=")), length) else { continue }
            let start = parameters.bytes.count
            parameters.bytes.append(contentsOf: UnsafeRawBufferPointer(start: entry, count: length))
            parameters.spans.append(
                Span(start: start, equals: start + (UnsafeRawPointer(equalsSign) - UnsafeRawPointer(entry)), end: start + length))
        }
        // Parameter bytes come from the client: remember invalid UTF-8 so the request gets a 400.
        // ASCII (nearly always all of it) needs no closer look.
        var invalid = false
        if !parameters.bytes.withUnsafeBytes(ASCII.check) {
            invalid = parameters.spans.contains { span in
                String(validating: parameters.bytes[span.start..<span.equals], as: UTF8.self) == nil
                    || String(validating: parameters.bytes[(span.equals + 1)..<span.end], as: UTF8.self) == nil
            }
        }
        return (parameters, invalid)
    }

    private mutating func append(_ name: [UInt8], _ value: [UInt8]) {
        let start = bytes.count
        bytes += name
        bytes.append(UInt8(ascii: "="))
        bytes += value
        spans.append(Span(start: start, equals: start + name.count, end: bytes.count))
    }

    /// The value of `name`; the last one when the server sent the name twice.
    public subscript(name: String) -> String? {
        var name = name
        return name.withUTF8 { key in
            bytes.withUnsafeBufferPointer { all in
                for span in spans.reversed() where span.equals - span.start == key.count {
                    let same = key.isEmpty || memcmp(all.baseAddress! + span.start, key.baseAddress!, key.count) == 0
                    if same {
                        return String(decoding: UnsafeBufferPointer(rebasing: all[(span.equals + 1)..<span.end]), as: UTF8.self)
                    }
                }
                return nil
            }
        }
    }

    /// Every parameter by name.
    public var all: [String: String] {
        var values: [String: String] = [:]
        for span in spans {
            values[String(decoding: bytes[span.start..<span.equals], as: UTF8.self)] = String(
                decoding: bytes[(span.equals + 1)..<span.end], as: UTF8.self)
        }
        return values
    }
}
