import FastCGI

/// An independent, deliberately plain percent-decoder to compare `URLEncoding` against:
/// integer indices over an array, and UTF-8 checked by a lossy round trip instead of
/// `String(validating:)`. Invalid UTF-8 is reported before a NUL, as `URLEncoding` does.
enum ReferenceDecoder {
    /// One decoded name/value pair (`FormFields.Pair` has no public initializer).
    struct Field: Equatable {
        let name: String
        let value: String

        init(name: String, value: String) {
            self.name = name
            self.value = value
        }

        init(_ pair: FormFields.Pair) {
            self.init(name: pair.name, value: pair.value)
        }
    }

    static func percentDecode(_ bytes: [UInt8], plusIsSpace: Bool) -> Result<String, RequestDecodingError> {
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            if bytes[i] == 0x25 {
                guard i + 2 < bytes.count, let high = hex(bytes[i + 1]), let low = hex(bytes[i + 2]) else {
                    return .failure(.badPercentEncoding)
                }
                out.append(high * 16 + low)
                i += 3
            } else {
                out.append(plusIsSpace && bytes[i] == 0x2B ? 0x20 : bytes[i])
                i += 1
            }
        }
        let text = String(decoding: out, as: UTF8.self)
        guard Array(text.utf8) == out else { return .failure(.invalidUTF8) }
        return out.contains(0) ? .failure(.nulCharacter) : .success(text)
    }

    /// Splits on `&`, skips empty segments, splits each at its first `=`; the whole input fails
    /// with the first error in order, or with `tooManyFields` on the 1001st non-empty segment.
    static func parseFields(_ bytes: [UInt8]) -> Result<[Field], RequestDecodingError> {
        var pairs: [Field] = []
        var segments: [[UInt8]] = [[]]
        for byte in bytes {
            if byte == 0x26 { segments.append([]) } else { segments[segments.count - 1].append(byte) }
        }
        for segment in segments where !segment.isEmpty {
            if pairs.count == URLEncoding.maximumFieldCount { return .failure(.tooManyFields) }
            let equals = segment.firstIndex(of: 0x3D) ?? segment.count
            let name = percentDecode(Array(segment[..<equals]), plusIsSpace: true)
            let value =
                equals < segment.count
                ? percentDecode(Array(segment[(equals + 1)...]), plusIsSpace: true) : .success("")
            switch (name, value) {
            case (.failure(let error), _), (_, .failure(let error)): return .failure(error)
            case (.success(let name), .success(let value)): pairs.append(.init(name: name, value: value))
            }
        }
        return .success(pairs)
    }

    private static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }
}
