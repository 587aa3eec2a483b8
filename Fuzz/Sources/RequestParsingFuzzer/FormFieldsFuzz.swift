import FastCGI

/// `URLEncoding.parseFields` and `FormFields(urlencoded:)` agree with the reference parser,
/// never return more than `maximumFieldCount` fields, and what they parse re-encodes to a form
/// that parses back to the same fields.
enum FormFieldsFuzz {
    static func run(_ payload: ArraySlice<UInt8>) {
        let bytes = Array(payload)
        let expected = ReferenceDecoder.parseFields(bytes)
        let parsed = Result { () throws(RequestDecodingError) in try FormFields(urlencoded: bytes) }.map(fields)
        check(parsed == expected, "FormFields(urlencoded: \(bytes)) = \(parsed), reference \(expected)")
        let fromSlice = Result { () throws(RequestDecodingError) in try URLEncoding.parseFields(payload) }
            .map { $0.map { ReferenceDecoder.Field(name: $0.0, value: $0.1) } }
        check(fromSlice == expected, "parseFields of a slice differs from the reference")
        if let text = String(validating: bytes, as: UTF8.self) {
            let fromUTF8View = Result { () throws(RequestDecodingError) in try FormFields(urlencoded: text.utf8) }.map(fields)
            check(fromUTF8View == expected, "FormFields of a String.UTF8View differs from the reference")
        }

        guard case .success(let pairs) = parsed else { return }
        check(pairs.count <= URLEncoding.maximumFieldCount, "\(pairs.count) fields, more than the maximum")
        let form = FormFields(pairs.map { ($0.name, $0.value) })
        for pair in pairs.prefix(20) {
            check(form.all(pair.name).contains(pair.value), "all(\(pair.name.debugDescription)) lacks a value sent")
            check(form[pair.name] == pairs.first { $0.name == pair.name }?.value, "subscript is not the first value")
        }
        let reencoded = pairs.map { URLEncoding.encode($0.name) + "=" + URLEncoding.encode($0.value) }.joined(separator: "&")
        let reparsed = Result { () throws(RequestDecodingError) in try FormFields(urlencoded: Array(reencoded.utf8)) }.map(fields)
        check(reparsed == .success(pairs), "re-encoded form \(reencoded) parses to \(reparsed)")
    }

    static func fields(_ form: FormFields) -> [ReferenceDecoder.Field] {
        form.pairs.map(ReferenceDecoder.Field.init)
    }
}
