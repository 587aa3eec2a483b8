import Glibc

/// Parses a `Cookie:` header (RFC 6265 section 5.4) into name/value pairs.
///
/// Malformed pairs are skipped rather than rejected: browsers send cookies set by other
/// applications on the same host, and one odd cookie must not lock a learner out.
public enum Cookies {
    public static func parse(_ header: String) -> [String: String] {
        var cookies: [String: String] = [:]
        forEachPair(in: header) { bytes, name, value in
            let key = String(decoding: UnsafeBufferPointer(rebasing: bytes[name]), as: UTF8.self)
            guard cookies[key] == nil else { return true }
            cookies[key] = String(decoding: UnsafeBufferPointer(rebasing: bytes[value]), as: UTF8.self)
            return true
        }
        return cookies
    }

    /// The value of the cookie `name`, as `parse(header)[name]` gives it (the first one of that
    /// name), without building the dictionary: every request looks up one or two cookies.
    public static func value(_ name: String, in header: String) -> String? {
        var found: String?
        var name = name
        name.withUTF8 { wanted in
            forEachPair(in: header) { bytes, nameRange, value in
                guard nameRange.count == wanted.count,
                    memcmp(bytes.baseAddress! + nameRange.lowerBound, wanted.baseAddress!, wanted.count) == 0
                else { return true }
                found = String(decoding: UnsafeBufferPointer(rebasing: bytes[value]), as: UTF8.self)
                return false
            }
        }
        return found
    }

    /// Calls `body` with the header's bytes and the byte ranges of each pair's name (never
    /// empty) and value (trimmed, quotes removed), in order, until it returns false.
    private static func forEachPair(
        in header: String, _ body: (UnsafeBufferPointer<UInt8>, Range<Int>, Range<Int>) -> Bool
    ) {
        var header = header
        // Split bytes, not Characters: a `;` or `=` after a prepended character (U+0600, say) or
        // before a combining mark is one grapheme cluster with it and would not split, so another
        // application's `theme=x\u{600}` would swallow the session cookie after it.
        header.withUTF8 { bytes in
            var start = 0
            while start <= bytes.count {
                let end = bytes[start...].firstIndex(of: UInt8(ascii: ";")) ?? bytes.count
                defer { start = end + 1 }
                guard let equals = bytes[start..<end].firstIndex(of: UInt8(ascii: "=")) else { continue }
                let name = trimmingSpaces(bytes, start..<equals)
                var value = trimmingSpaces(bytes, (equals + 1)..<end)
                if value.count >= 2, bytes[value.lowerBound] == UInt8(ascii: "\""),
                    bytes[value.upperBound - 1] == UInt8(ascii: "\"")
                {
                    value = (value.lowerBound + 1)..<(value.upperBound - 1)
                }
                guard !name.isEmpty else { continue }
                guard body(bytes, name, value) else { return }
            }
        }
    }

    private static func trimmingSpaces(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Range<Int> {
        var (lower, upper) = (range.lowerBound, range.upperBound)
        while lower < upper, bytes[lower] == UInt8(ascii: " ") || bytes[lower] == UInt8(ascii: "\t") { lower += 1 }
        while upper > lower, bytes[upper - 1] == UInt8(ascii: " ") || bytes[upper - 1] == UInt8(ascii: "\t") { upper -= 1 }
        return lower..<upper
    }
}
