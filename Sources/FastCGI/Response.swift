/// A response to write back over FastCGI: status, headers, body.
public struct Response: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int = 200, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public init(status: Int = 200, contentType: String, body: String) {
        self.init(status: status, headers: [("Content-Type", contentType)], body: Array(body.utf8))
    }

    public mutating func setHeader(_ name: String, _ value: String) {
        headers.removeAll { Self.sameName($0.name, name) }
        headers.append((name, value))
    }

    public mutating func addHeader(_ name: String, _ value: String) {
        headers.append((name, value))
    }

    public func header(_ name: String) -> String? {
        headers.first { Self.sameName($0.name, name) }?.value
            ?? fixedHeaders?.headers.first { Self.sameName($0.name, name) }?.value
    }

    /// Removes every header (of `headers`) whose name is one of `names`, in one pass.
    public mutating func removeHeaders(named names: [String]) {
        headers.removeAll { header in names.contains { Self.sameName($0, header.name) } }
    }

    /// Header names compare ASCII case-insensitively (without allocating lowercased copies).
    static func sameName(_ a: String, _ b: String) -> Bool {
        a.utf8.count == b.utf8.count
            && zip(a.utf8, b.utf8).allSatisfy { x, y in x == y || (x | 0x20 == y | 0x20 && (x | 0x20) &- 0x61 < 26) }
    }

    /// The CGI-style head: a `Status:` line and the headers, ending with a blank line.
    /// Header values have CR and LF removed so no handler can split the response.
    public var head: String { String(decoding: headBytes, as: UTF8.self) }

    /// Header lines written after `headers`, encoded once: for the headers every response
    /// carries (security policy and the like), which would otherwise be encoded per request.
    public var fixedHeaders: HeaderBlock?

    /// `head` as the bytes written to the stream.
    public var headBytes: [UInt8] {
        var head: [UInt8] = []
        head.reserveCapacity(256 + (fixedHeaders?.bytes.count ?? 0))
        head.append(contentsOf: "Status: ".utf8)
        Self.appendDecimal(status, to: &head)
        head.append(UInt8(ascii: " "))
        head.append(contentsOf: Self.reason(for: status).utf8)
        head.append(contentsOf: "\r\n".utf8)
        for (name, value) in headers { HeaderBlock.appendLine(name, value, to: &head) }
        if let fixedHeaders { head.append(contentsOf: fixedHeaders.bytes) }
        head.append(contentsOf: "Content-Length: ".utf8)
        Self.appendDecimal(body.count, to: &head)
        head.append(contentsOf: "\r\n\r\n".utf8)
        return head
    }

    private static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        guard value > 0 else {
            out.append(contentsOf: String(value).utf8)
            return
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        guard value < 10_000_000_000 else {
            out.append(contentsOf: String(value).utf8)
            return
        }
        var remaining = value
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            while remaining > 0 {
                buffer[9 - count] = UInt8(ascii: "0") + UInt8(remaining % 10)
                remaining /= 10
                count += 1
            }
            out.append(contentsOf: buffer[(10 - count)...])
        }
    }

    public static func reason(for status: Int) -> String {
        switch status {
        case 200: "OK"
        case 204: "No Content"
        case 303: "See Other"
        case 400: "Bad Request"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 413: "Content Too Large"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        default: "Status \(status)"
        }
    }
}

/// Header lines encoded once, for `Response.fixedHeaders`.
public struct HeaderBlock: Sendable {
    public let headers: [(name: String, value: String)]
    let bytes: [UInt8]

    public init(_ headers: [(name: String, value: String)]) {
        self.headers = headers
        var bytes: [UInt8] = []
        for (name, value) in headers { Self.appendLine(name, value, to: &bytes) }
        self.bytes = bytes
    }

    public var names: [String] { headers.map(\.name) }

    /// "Name: value\r\n", with CR and LF removed from the value.
    static func appendLine(_ name: String, _ value: String, to head: inout [UInt8]) {
        var name = name
        var value = value
        name.withUTF8 { head.append(contentsOf: $0) }
        head.append(contentsOf: ": ".utf8)
        // Bytes, not Characters: "\r\n" is one Character equal to neither "\r" nor "\n".
        value.withUTF8 { bytes in
            if bytes.contains(where: { $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\n") }) {
                head.append(contentsOf: bytes.lazy.filter { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") })
            } else {
                head.append(contentsOf: bytes)
            }
        }
        head.append(contentsOf: "\r\n".utf8)
    }
}
