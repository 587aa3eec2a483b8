import Foundation

/// Counts failures per key (an account or a remote address) in a sliding window, and says
/// how long a key must wait once it has reached its limit.
///
/// Kept in memory: a restart forgets the counts, which only ever lets a few more attempts
/// through and keeps every login free of database writes.
public final class Throttle: Sendable {
    public struct Rule: Sendable {
        public var limit: Int
        public var window: TimeInterval

        public init(limit: Int, window: TimeInterval) {
            self.limit = limit
            self.window = window
        }
    }

    private let failures = Locked<[String: [TimeInterval]]>([:])

    public init() {}

    /// Seconds to wait before `key` may try again under `rule`; nil when it may try now.
    public func retryAfter(_ key: String, rule: Rule, now: TimeInterval) -> Int? {
        failures.withLock { table -> Int? in
            let recent = (table[key] ?? []).filter { $0 > now - rule.window }
            table[key] = recent.isEmpty ? nil : recent
            guard recent.count >= rule.limit, let oldest = recent.first else { return nil }
            return max(1, Int((oldest + rule.window - now).rounded(.up)))
        }
    }

    public func recordFailure(_ key: String, now: TimeInterval) {
        failures.withLock { table in
            table[key, default: []].append(now)
            if table.count > 100_000 { table.removeAll() }  // bound memory under a flood of keys
        }
    }

    public func reset(_ key: String) {
        _ = failures.withLock { table in table.removeValue(forKey: key) }
    }
}
