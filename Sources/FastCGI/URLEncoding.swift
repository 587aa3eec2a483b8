/// Errors from decoding what a client sent. Each maps to a 400 response.
public enum RequestDecodingError: Error, Equatable, Sendable {
    /// A `%` not followed by two hex digits.
    case badPercentEncoding
    /// Bytes that are not valid UTF-8 once percent-decoded.
    case invalidUTF8
    /// More fields than the portal accepts in one query or form.
    case tooManyFields
    /// A NUL character: no text field has a use for one, and C APIs below would cut text there.
    case nulCharacter
}

/// Percent-decoding and `application/x-www-form-urlencoded` parsing (WHATWG URL standard),
/// strict about malformed input instead of passing it through.
public enum URLEncoding {
    /// The most fields one query string or form may carry.
    public static let maximumFieldCount = 1000

    /// Decodes `%XX` escapes (and `+` as a space when `plusIsSpace`), requiring valid UTF-8.
    public static func percentDecode<S: Collection>(_ bytes: S, plusIsSpace: Bool) throws(RequestDecodingError) -> String
    where S.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index != bytes.endIndex {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "%"):
                let first = bytes.index(after: index)
                guard first != bytes.endIndex else { throw .badPercentEncoding }
                let second = bytes.index(after: first)
                guard second != bytes.endIndex,
                    let high = hexValue(bytes[first]), let low = hexValue(bytes[second])
                else { throw .badPercentEncoding }
                out.append(high << 4 | low)
                index = bytes.index(after: second)
                continue
            case UInt8(ascii: "+") where plusIsSpace:
                out.append(UInt8(ascii: " "))
            default:
                out.append(byte)
            }
            index = bytes.index(after: index)
        }
        // ASCII needs no validation (and the generic validating initializer is slow).
        let isASCII = out.withUnsafeBytes(ASCII.check)
        guard isASCII || String(validating: out, as: UTF8.self) != nil else { throw .invalidUTF8 }
        guard !out.contains(0) else { throw .nulCharacter }
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses `a=1&b=2&a=3` into ordered name/value pairs. Empty segments are skipped.
    public static func parseFields<S: Collection>(_ bytes: S) throws(RequestDecodingError) -> [(String, String)]
    where S.Element == UInt8 {
        var fields: [(String, String)] = []
        for segment in bytes.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            guard fields.count < maximumFieldCount else { throw .tooManyFields }
            let name: String
            let value: String
            if let equals = segment.firstIndex(of: UInt8(ascii: "=")) {
                name = try percentDecode(segment[segment.startIndex..<equals], plusIsSpace: true)
                value = try percentDecode(segment[segment.index(after: equals)...], plusIsSpace: true)
            } else {
                name = try percentDecode(segment, plusIsSpace: true)
                value = ""
            }
            fields.append((name, value))
        }
        return fields
    }

    /// Encodes a string for use as a query or form value.
    public static func encode(_ string: String) -> String {
        var out = ""
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let digits = Array("0123456789ABCDEF".unicodeScalars)
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(digits[Int(byte >> 4)])
                out.unicodeScalars.append(digits[Int(byte & 0x0F)])
            }
        }
        return out
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// Whether bytes are all ASCII, eight at a time. ASCII is valid UTF-8 as it is, and nearly every
/// parameter, path and form is ASCII, so the slower validating decoders rarely run.
enum ASCII {
    static func check(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        var high: UInt64 = 0
        while index + 8 <= bytes.count {
            high |= bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            index += 8
        }
        while index < bytes.count {
            high |= UInt64(bytes[index])
            index += 1
        }
        return high & 0x8080_8080_8080_8080 == 0
    }
}
