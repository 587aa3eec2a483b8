import FastCGI

/// A FastCGI request made from fuzz input.
///
/// Input: a mode byte, then up to five lines: the request URI (path and `?query`), the
/// urlencoded form body, a `Cookie:` header, a method, and the rest of the input as numbers.
/// The mode byte's low two bits pick the method (GET, POST, HEAD, or the fourth line's); its
/// next two bits pick the cookie: the signed-in learner's session (and, for POST, the session's
/// CSRF token as the form's first field) three times in four, else the input's own cookie line.
/// ASCII '0' is a signed-in GET, '1' a signed-in POST.
///
/// Each 0x01 byte in the URI or the body is a number slot: it becomes the decimal text of the
/// next 8 bytes of the numbers line (a little-endian Int64, zeros past its end). Byte-level
/// mutations of those 8 bytes reach every magnitude and sign of a number in any parameter,
/// which mutating decimal text does not: no branch tells the fuzzer that 18 digits differ from
/// 17.
struct FuzzedRequest: CustomStringConvertible {
    let request: Request

    init(_ bytes: UnsafeBufferPointer<UInt8>, session: FuzzPortal.Session) {
        let mode = bytes[0]
        var lines = bytes[1...].split(separator: UInt8(ascii: "\n"), maxSplits: 4, omittingEmptySubsequences: false)
            .map { Array($0) }
        while lines.count < 5 { lines.append([]) }
        var numbers = NumberSlots(lines[4])
        lines[0] = numbers.fill(lines[0])
        lines[1] = numbers.fill(lines[1])
        var invalid = false
        // Parameters arrive as C strings: cut at NUL, and decoded as `Parameters.read` does.
        func parameter(_ raw: [UInt8]) -> String {
            let cut = raw.prefix { $0 != 0 }
            if let text = String(validating: cut, as: UTF8.self) { return text }
            invalid = true
            return String(decoding: cut, as: UTF8.self)
        }
        let uri = parameter(lines[0])
        let method: String
        switch mode & 3 {
        case 0: method = "GET"
        case 1: method = "POST"
        case 2: method = "HEAD"
        default: method = parameter(Array(lines[3].prefix(16)))
        }
        var params: [String: String] = [
            "REQUEST_METHOD": method, "REQUEST_URI": uri, "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_TYPE": "application/x-www-form-urlencoded",
        ]
        if let question = uri.utf8.firstIndex(of: UInt8(ascii: "?")) {
            params["QUERY_STRING"] = String(uri[uri.utf8.index(after: question)...])
        }
        var body = lines[1]
        if (mode >> 2) & 3 == 3 {
            params["HTTP_COOKIE"] = parameter(lines[2])
        } else {
            params["HTTP_COOKIE"] = "lynx_session=\(session.token)"
            if method == "POST" { body = Array("csrf=\(session.csrf)&".utf8) + body }
        }
        params["CONTENT_LENGTH"] = String(body.count)
        request = Request(params: Parameters(params), body: body, id: "fuzz", hasInvalidParameterEncoding: invalid)
    }

    var description: String {
        "\(request.method) \(request.params["REQUEST_URI"] ?? "") body \(String(decoding: request.body, as: UTF8.self).debugDescription) cookie \((request.params["HTTP_COOKIE"] ?? "").debugDescription)"
    }
}

/// The numbers that fill a fuzzed request's number slots, read 8 bytes at a time.
struct NumberSlots {
    static let slot: UInt8 = 0x01
    private var bytes: ArraySlice<UInt8>

    init(_ bytes: [UInt8]) { self.bytes = bytes[...] }

    /// `text` with each slot replaced by the next number's decimal text.
    mutating func fill(_ text: [UInt8]) -> [UInt8] {
        guard text.contains(Self.slot) else { return text }
        var filled: [UInt8] = []
        for byte in text {
            if byte == Self.slot { filled += Array(String(next()).utf8) } else { filled.append(byte) }
        }
        return filled
    }

    private mutating func next() -> Int64 {
        var value: UInt64 = 0
        for index in 0..<8 {
            if let byte = bytes.popFirst() { value |= UInt64(byte) << (8 * UInt64(index)) }
        }
        return Int64(bitPattern: value)
    }
}
