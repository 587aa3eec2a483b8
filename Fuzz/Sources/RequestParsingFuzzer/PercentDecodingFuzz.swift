import FastCGI

/// `URLEncoding.percentDecode` agrees with the reference decoder on any bytes, through every
/// collection type it is called with, and `encode` round-trips whatever it decoded.
enum PercentDecodingFuzz {
    static func run(_ payload: ArraySlice<UInt8>) {
        let bytes = Array(payload)
        for plusIsSpace in [false, true] {
            let expected = ReferenceDecoder.percentDecode(bytes, plusIsSpace: plusIsSpace)
            // An array, a slice whose start index is not 0, and a lazy view without contiguous storage.
            let fromArray = decode(bytes, plusIsSpace)
            check(
                fromArray == expected,
                "percentDecode(\(bytes), plusIsSpace: \(plusIsSpace)) = \(fromArray), reference \(expected)")
            check(decode(payload, plusIsSpace) == expected, "percentDecode of a slice differs from an array")
            check(decode(bytes.lazy.map { $0 }, plusIsSpace) == expected, "percentDecode of a lazy view differs")

            guard case .success(let text) = fromArray else { continue }
            let encoded = URLEncoding.encode(text)
            check(
                encoded.utf8.allSatisfy {
                    $0 < 0x80 && $0 != UInt8(ascii: "&") && $0 != UInt8(ascii: "=") && $0 != UInt8(ascii: "+")
                },
                "encode(\(text.debugDescription)) = \(encoded) has a byte that is not safe in a form value")
            for plus in [false, true] {
                let again = decode(Array(encoded.utf8), plus)
                check(again == .success(text), "decode(encode(\(text.debugDescription))) = \(again)")
            }
        }
    }

    private static func decode<S: Collection>(_ bytes: S, _ plusIsSpace: Bool) -> Result<String, RequestDecodingError>
    where S.Element == UInt8 {
        Result { () throws(RequestDecodingError) in try URLEncoding.percentDecode(bytes, plusIsSpace: plusIsSpace) }
    }
}
