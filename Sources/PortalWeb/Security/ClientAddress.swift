import Foundation

/// The remote address as the throttle and the audit log keep it: bounded, and grouped the way
/// one client can spread itself.
enum ClientAddress {
    /// The key counting a client's attempts: an IPv4 address as is, an IPv6 address by its /64
    /// (one home or host gets a whole /64, so single addresses would give an attacker 2^64
    /// budgets), and anything else by its hash.
    static func throttleKey(_ remote: String) -> String {
        if let bytes = ipv6(remote) {
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
                return bytes[12...].map(String.init).joined(separator: ".")
            }
            return stride(from: 0, to: 8, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
                .joined(separator: ":") + "::/64"
        }
        if isIPv4(remote) { return remote }
        return "#" + String(Tokens.storedHash(remote).prefix(16))
    }

    /// The address for an audit line: an IP address as sent (at most 45 characters), anything
    /// else replaced by a short hash.
    static func auditText(_ remote: String) -> String {
        if remote == "cli" || isIPv4(remote) || ipv6(remote) != nil { return remote }
        return "invalid:" + String(Tokens.storedHash(remote).prefix(16))
    }

    static func isIPv4(_ text: String) -> Bool {
        guard text.utf8.count <= 15 else { return false }
        var address = in_addr()
        return inet_pton(AF_INET, text, &address) == 1
    }

    static func ipv6(_ text: String) -> [UInt8]? {
        guard text.utf8.count <= 45 else { return nil }
        var address = in6_addr()
        guard inet_pton(AF_INET6, text, &address) == 1 else { return nil }
        return withUnsafeBytes(of: &address) { Array($0) }
    }
}
