import Glibc

extension Request {
    /// True when the client connected from this machine's loopback (127.0.0.0/8, ::1, or
    /// ::ffff:127.x.y.z), as the web server reports it in `REMOTE_ADDR`. Behind Caddy that is
    /// the TCP peer: no header a client sends changes it.
    public var comesFromLoopback: Bool { Self.isLoopback(remoteAddress) }

    static func isLoopback(_ address: String) -> Bool {
        var text = address
        if text.hasPrefix("[") && text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return UInt32(bigEndian: v4.s_addr) >> 24 == 127
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return false }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        let loopback: [UInt8] = Array(repeating: 0, count: 15) + [1]
        let mappedPrefix: [UInt8] = Array(repeating: 0, count: 10) + [0xFF, 0xFF]
        return bytes == loopback || (Array(bytes[0..<12]) == mappedPrefix && bytes[12] == 127)
    }
}
