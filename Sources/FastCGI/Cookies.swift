/// Parses a `Cookie:` header (RFC 6265 section 5.4) into name/value pairs.
///
/// Malformed pairs are skipped rather than rejected: browsers send cookies set by other
/// applications on the same host, and one odd cookie must not lock a learner out.
public enum Cookies {
    public static func parse(_ header: String) -> [String: String] {
        var cookies: [String: String] = [:]
        // Split bytes, not Characters: a `;` or `=` after a prepended character (U+0600, say) or
        // before a combining mark is one grapheme cluster with it and would not split, so another
        // application's `theme=x\u{600}` would swallow the session cookie after it.
        for part in header.utf8.split(separator: UInt8(ascii: ";")) {
            guard let equals = part.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let name = trimmingSpaces(part[..<equals])
            var value = trimmingSpaces(part[part.index(after: equals)...])
            if value.count >= 2, value.first == UInt8(ascii: "\""), value.last == UInt8(ascii: "\"") {
                value = value.dropFirst().dropLast()
            }
            let key = String(decoding: name, as: UTF8.self)
            guard !key.isEmpty, cookies[key] == nil else { continue }
            cookies[key] = String(decoding: value, as: UTF8.self)
        }
        return cookies
    }

    private static func trimmingSpaces(_ bytes: Substring.UTF8View) -> Substring.UTF8View {
        var slice = bytes
        while let first = slice.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") { slice = slice.dropFirst() }
        while let last = slice.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") { slice = slice.dropLast() }
        return slice
    }
}
