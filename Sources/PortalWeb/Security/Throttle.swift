import Foundation

/// Counts failures per key (an account, a device or a remote address) in sliding windows, and
/// says how long a key must wait once it has reached a limit.
///
/// An attempt is reserved before the expensive check runs (`reserve` counts it as a failure
/// at once, under the lock) and refunded when it succeeds, so workers racing on one key get no
/// more tries between them than one worker alone.
///
/// Memory is bounded by budget, never by a global wipe: keys of existing accounts and their
/// devices (`.accounts`) and everything else an anonymous client can name (`.visitors`: unknown
/// usernames, remote addresses) sit in separate tables, each with its own entry and byte limit.
/// A full table drops its entries whose windows have passed, then its least recently used ones,
/// so a flood of made-up keys can only push out other made-up keys, never the counter of an
/// account under attack.
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

    /// Which table a key lives in.
    public enum Budget: Sendable, CaseIterable {
        /// Keys of accounts that exist, and of their devices: bounded by the class's size.
        case accounts
        /// Keys anyone can make up: unknown usernames, remote addresses.
        case visitors
    }

    /// One key and the rules it must be under for an attempt to go ahead.
    public struct Check: Sendable {
        public var key: String
        public var budget: Budget
        public var rules: [Rule]

        public init(_ key: String, budget: Budget, rules: [Rule]) {
            self.key = key
            self.budget = budget
            self.rules = rules
        }
    }

    /// Attempts counted up front by `reserve`, to hand back with `refund` when they succeed.
    public struct Reservation: Sendable {
        fileprivate var entries: [(budget: Budget, key: String)]
        fileprivate var time: TimeInterval
    }

    public enum Decision: Sendable {
        case reserved(Reservation)
        /// Seconds until every check would pass again, and the key that waits longest.
        case wait(Int, key: String)
    }

    /// How much a table holds at most: whichever limit is reached first.
    public struct Capacity: Sendable {
        public var entries: Int
        public var bytes: Int

        public init(entries: Int, bytes: Int) {
            self.entries = entries
            self.bytes = bytes
        }
    }

    /// What a table holds now (bytes as `Entry.cost` counts them).
    public struct Usage: Sendable, Equatable {
        public var entries: Int
        public var bytes: Int
    }

    /// Keys longer than this are stored as their hash: a key's bytes never depend on the client.
    static let maximumKeyBytes = 96

    private struct Entry {
        /// The most recent failure times, oldest first, at most the largest limit applied.
        var failures: [TimeInterval]
        /// When the longest window of the last attempt ends: after it the entry counts nothing.
        var expires: TimeInterval
        var lastUsed: UInt64

        /// Approximate bytes: the key, the failure times, and the dictionary slot and array
        /// header around them.
        static func cost(key: String, failures: Int) -> Int { key.utf8.count + failures * 8 + 96 }
    }

    private struct Table {
        var entries: [String: Entry] = [:]
        var bytes = 0
        let capacity: Capacity

        mutating func record(_ key: String, at time: TimeInterval, keep: Int, expires: TimeInterval, tick: UInt64) {
            let existing = entries.removeValue(forKey: key)
            var entry = existing ?? Entry(failures: [], expires: 0, lastUsed: 0)
            let before = existing == nil ? 0 : Entry.cost(key: key, failures: entry.failures.count)
            entry.failures.append(time)
            if entry.failures.count > keep { entry.failures.removeFirst(entry.failures.count - keep) }
            entry.expires = max(entry.expires, expires)
            entry.lastUsed = tick
            entries[key] = entry
            bytes += Entry.cost(key: key, failures: entry.failures.count) - before
            if entries.count > capacity.entries || bytes > capacity.bytes { evict(now: time, sparing: key) }
        }

        mutating func remove(_ time: TimeInterval, from key: String) {
            guard var entry = entries[key], let index = entry.failures.lastIndex(of: time) else { return }
            guard entry.failures.count > 1 else { return drop(key) }
            entry.failures.remove(at: index)
            entries[key] = entry
            bytes -= 8
        }

        mutating func drop(_ key: String) {
            guard let entry = entries.removeValue(forKey: key) else { return }
            bytes -= Entry.cost(key: key, failures: entry.failures.count)
        }

        /// Drops expired entries, then the least recently used ones, down to seven eighths of the
        /// capacity, so the scan and the sort are paid once per many insertions.
        private mutating func evict(now: TimeInterval, sparing kept: String) {
            let target = (entries: capacity.entries - capacity.entries / 8, bytes: capacity.bytes - capacity.bytes / 8)
            for (key, entry) in entries where entry.expires <= now && key != kept { drop(key) }
            guard entries.count > target.entries || bytes > target.bytes else { return }
            let oldestFirst = entries.filter { $0.key != kept }.sorted { $0.value.lastUsed < $1.value.lastUsed }
            for (key, _) in oldestFirst {
                if entries.count <= target.entries && bytes <= target.bytes { break }
                drop(key)
            }
        }
    }

    private struct State {
        var tables: [Budget: Table]
        var tick: UInt64 = 0
    }

    private let state: Locked<State>

    /// The default budgets: a class has tens of accounts; 8192 made-up keys is more than 270
    /// addresses can make in a 15-minute window at the default per-address limit. What a flood
    /// of distinct usernames costs in RSS, then no more: experiments/reliability/RESULTS.md, "abuse".
    public init(
        accounts: Capacity = Capacity(entries: 4096, bytes: 2 << 20),
        visitors: Capacity = Capacity(entries: 8192, bytes: 2 << 20)
    ) {
        state = Locked(State(tables: [.accounts: Table(capacity: accounts), .visitors: Table(capacity: visitors)]))
    }

    /// Counts one failed attempt against every check's key, unless one of them has reached a
    /// limit; then counts nothing and says how long to wait. Atomic across all the checks.
    public func reserve(_ checks: [Check], now: TimeInterval) -> Decision {
        let checks = checks.map { Check(Self.storedKey($0.key), budget: $0.budget, rules: $0.rules) }
        return state.withLock { state -> Decision in
            var wait: (seconds: Int, key: String)?
            for check in checks {
                guard let entry = state.tables[check.budget]?.entries[check.key] else { continue }
                for rule in check.rules {
                    if let seconds = Self.retryAfter(entry.failures, rule: rule, now: now), seconds > wait?.seconds ?? 0 {
                        wait = (seconds, check.key)
                    }
                }
            }
            if let wait { return .wait(wait.seconds, key: wait.key) }
            state.tick += 1
            for check in checks {
                let keep = check.rules.map(\.limit).max() ?? 1
                let horizon = now + (check.rules.map(\.window).max() ?? 0)
                state.tables[check.budget]!.record(check.key, at: now, keep: keep, expires: horizon, tick: state.tick)
            }
            return .reserved(Reservation(entries: checks.map { ($0.budget, $0.key) }, time: now))
        }
    }

    /// Hands back the attempts of a reservation (the check succeeded, or never ran).
    public func refund(_ reservation: Reservation) {
        state.withLock { state in
            for (budget, key) in reservation.entries { state.tables[budget]!.remove(reservation.time, from: key) }
        }
    }

    /// Forgets every failure of `key`.
    public func reset(_ key: String, budget: Budget) {
        let key = Self.storedKey(key)
        state.withLock { state in state.tables[budget]!.drop(key) }
    }

    /// Seconds `key` must wait under `rule`; nil when it may try now. Counts nothing.
    public func retryAfter(_ key: String, budget: Budget, rule: Rule, now: TimeInterval) -> Int? {
        let key = Self.storedKey(key)
        return state.withLock { state in
            state.tables[budget]!.entries[key].flatMap { Self.retryAfter($0.failures, rule: rule, now: now) }
        }
    }

    public func usage(_ budget: Budget) -> Usage {
        state.withLock { state in Usage(entries: state.tables[budget]!.entries.count, bytes: state.tables[budget]!.bytes) }
    }

    public func capacity(_ budget: Budget) -> Capacity {
        state.withLock { state in state.tables[budget]!.capacity }
    }

    static func retryAfter(_ failures: [TimeInterval], rule: Rule, now: TimeInterval) -> Int? {
        guard rule.limit > 0 else { return nil }
        let recent = failures.lazy.filter { $0 > now - rule.window }
        guard recent.count >= rule.limit else { return nil }
        // The rule-limit-th most recent failure is the one whose expiry lets the next try in.
        let deciding = failures[failures.count - rule.limit]
        return max(1, Int((deciding + rule.window - now).rounded(.up)))
    }

    static func storedKey(_ key: String) -> String {
        key.utf8.count <= maximumKeyBytes ? key : "#" + Tokens.storedHash(key)
    }
}
