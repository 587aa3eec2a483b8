import Foundation
import Testing

@testable import PortalWeb

@Suite("Throttle")
struct ThrottleTests {
    private let rule = Throttle.Rule(limit: 3, window: 60)

    /// Counts one failure for `key` under `rule`; whether the attempt was let through.
    @discardableResult
    private func attempt(
        _ throttle: Throttle, _ key: String, budget: Throttle.Budget = .visitors, rules: [Throttle.Rule]? = nil,
        at time: TimeInterval
    ) -> Bool {
        if case .reserved = throttle.reserve([Throttle.Check(key, budget: budget, rules: rules ?? [rule])], now: time) {
            return true
        }
        return false
    }

    private func wait(_ throttle: Throttle, _ key: String, budget: Throttle.Budget = .visitors, at time: TimeInterval) -> Int? {
        throttle.retryAfter(key, budget: budget, rule: rule, now: time)
    }

    @Test func keysUnderTheLimitMayTryNow() {
        let throttle = Throttle()
        #expect(wait(throttle, "ada", at: 1000) == nil)
        attempt(throttle, "ada", at: 1000)
        attempt(throttle, "ada", at: 1010)
        #expect(wait(throttle, "ada", at: 1020) == nil)
    }

    @Test func aKeyAtTheLimitWaitsForTheRestOfTheWindow() {
        let throttle = Throttle()
        for time in [1000.0, 1010, 1020] { #expect(attempt(throttle, "ada", at: time)) }
        #expect(!attempt(throttle, "ada", at: 1020))
        #expect(wait(throttle, "ada", at: 1020) == 40)
        #expect(wait(throttle, "ada", at: 1030) == 30)
        #expect(wait(throttle, "ada", at: 1058.2) == 2)
        #expect(wait(throttle, "ada", at: 1059.9) == 1)
        if case .wait(let seconds, let key) = throttle.reserve(
            [Throttle.Check("ada", budget: .visitors, rules: [rule])], now: 1030)
        {
            #expect(seconds == 30 && key == "ada")
        } else {
            Issue.record("a key at its limit was let through")
        }
    }

    @Test func failuresOlderThanTheWindowStopCounting() {
        let throttle = Throttle()
        for time in [1000.0, 1010, 1020] { attempt(throttle, "ada", at: time) }
        #expect(wait(throttle, "ada", at: 1060) == nil)
        attempt(throttle, "ada", at: 1061)
        #expect(wait(throttle, "ada", at: 1061) == 9)
        #expect(wait(throttle, "ada", at: 1070) == nil)
    }

    @Test func resetClearsAKey() {
        let throttle = Throttle()
        for time in [1000.0, 1001, 1002] { attempt(throttle, "ada", at: time) }
        #expect(wait(throttle, "ada", at: 1003) != nil)
        throttle.reset("ada", budget: .visitors)
        #expect(wait(throttle, "ada", at: 1003) == nil)
        attempt(throttle, "ada", at: 1004)
        #expect(wait(throttle, "ada", at: 1004) == nil)
    }

    @Test func keysAreIndependent() {
        let throttle = Throttle()
        for time in [1000.0, 1001, 1002] { attempt(throttle, "account:ada", at: time) }
        attempt(throttle, "address:192.0.2.7", at: 1002)
        #expect(wait(throttle, "account:ada", at: 1003) != nil)
        #expect(wait(throttle, "account:grace", at: 1003) == nil)
        #expect(wait(throttle, "address:192.0.2.7", at: 1003) == nil)
        #expect(wait(throttle, "account:ada", budget: .accounts, at: 1003) == nil, "budgets are separate tables")
    }

    @Test func anAttemptRefusedByOneKeyCountsAgainstNone() {
        let throttle = Throttle()
        for time in [1000.0, 1001, 1002] { attempt(throttle, "address:192.0.2.7", at: time) }
        let both = [
            Throttle.Check("account:ada", budget: .accounts, rules: [rule]),
            Throttle.Check("address:192.0.2.7", budget: .visitors, rules: [rule]),
        ]
        for time in 1003...1010 { _ = throttle.reserve(both, now: TimeInterval(time)) }
        #expect(throttle.usage(.accounts).entries == 0)
    }

    @Test func aRefundHandsTheAttemptBack() throws {
        let throttle = Throttle()
        for time in [1000.0, 1001] { attempt(throttle, "ada", at: time) }
        guard
            case .reserved(let reservation) = throttle.reserve(
                [Throttle.Check("ada", budget: .visitors, rules: [rule])], now: 1002)
        else {
            Issue.record("the third attempt was refused")
            return
        }
        #expect(wait(throttle, "ada", at: 1002) != nil)
        throttle.refund(reservation)
        #expect(wait(throttle, "ada", at: 1002) == nil)
        #expect(attempt(throttle, "ada", at: 1003))
    }

    /// The check-then-record race: every worker reserves before its (slow) hash, so a burst of
    /// concurrent attempts on one account gets exactly the limit, however they interleave.
    @Test func workersRacingOnOneAccountGetNoMoreThanTheLimit() {
        let throttle = Throttle()
        let allowed = Locked(0)
        let rules = Portal.loginAccountRules
        DispatchQueue.concurrentPerform(iterations: 64) { _ in
            let check = [Throttle.Check("login:ada", budget: .accounts, rules: rules)]
            if case .reserved = throttle.reserve(check, now: 5000) {
                usleep(2000)  // the hash, during which the other workers arrive
                allowed.withLock { $0 += 1 }
            }
        }
        #expect(allowed.withLock { $0 } == rules[0].limit)
    }

    @Test func untrustedGuessingAgainstOneAccountIsCappedAtAHundredADay() {
        let throttle = Throttle()
        var guesses = 0
        // A guesser who tries every 10 seconds and is turned away whenever a limit is reached.
        for second in stride(from: 0, to: 86400, by: 10) {
            if attempt(throttle, "login:ada", budget: .accounts, rules: Portal.loginAccountRules, at: TimeInterval(second)) {
                guesses += 1
            }
        }
        #expect(guesses == 100)
    }

    @Test func aFloodOfMadeUpKeysStaysWithinItsBudget() {
        let capacity = Throttle.Capacity(entries: 1000, bytes: 200_000)
        let throttle = Throttle(visitors: capacity)
        var largest = Throttle.Usage(entries: 0, bytes: 0)
        for index in 0..<20_000 {
            attempt(throttle, "login:#\(UUID().uuidString)", rules: Portal.loginAccountRules, at: 1000 + Double(index) / 100)
            let usage = throttle.usage(.visitors)
            largest = Throttle.Usage(entries: max(largest.entries, usage.entries), bytes: max(largest.bytes, usage.bytes))
        }
        #expect(largest.entries <= capacity.entries)
        #expect(largest.bytes <= capacity.bytes)
        #expect(throttle.usage(.visitors).entries > capacity.entries / 2, "eviction drops some keys, not all")
    }

    @Test func aKeyOfAnyLengthCostsTheSame() {
        let throttle = Throttle()
        attempt(throttle, "login:" + String(repeating: "x", count: 60_000), at: 1000)
        #expect(throttle.usage(.visitors).bytes < 300)
        #expect(wait(throttle, "login:" + String(repeating: "x", count: 60_000), at: 1000) == nil)
    }

    @Test func aFloodOfMadeUpKeysCannotEvictAnAccountUnderAttack() {
        let throttle = Throttle(visitors: Throttle.Capacity(entries: 500, bytes: 1 << 20))
        for time in [1000.0, 1001, 1002] { attempt(throttle, "login:ada", budget: .accounts, at: time) }
        for index in 0..<10_000 { attempt(throttle, "login:#flood\(index)", at: 1003) }
        #expect(wait(throttle, "login:ada", budget: .accounts, at: 1004) != nil)
    }

    @Test func theLeastRecentlyUsedKeysGoFirst() {
        let throttle = Throttle(visitors: Throttle.Capacity(entries: 500, bytes: 1 << 20))
        attempt(throttle, "address:192.0.2.7", at: 1000)
        attempt(throttle, "address:192.0.2.8", at: 1000)
        for index in 0..<10_000 {
            attempt(throttle, "login:#flood\(index)", at: 1001)
            // An address still attacking keeps its counter; one that went quiet may lose it.
            if index % 100 == 0 {
                attempt(throttle, "address:192.0.2.7", rules: [Throttle.Rule(limit: 1000, window: 60)], at: 1001)
            }
        }
        #expect(
            throttle.retryAfter("address:192.0.2.7", budget: .visitors, rule: Throttle.Rule(limit: 101, window: 60), now: 1002)
                != nil)
        #expect(
            throttle.retryAfter("address:192.0.2.8", budget: .visitors, rule: Throttle.Rule(limit: 1, window: 60), now: 1002)
                == nil)
    }
}

@Suite("Client addresses")
struct ClientAddressTests {
    @Test(arguments: [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
    ])
    func addressesAreGroupedAsOneClientCanSpreadItself(remote: String, key: String) {
        #expect(ClientAddress.throttleKey(remote) == key)
    }

    @Test func anythingElseIsKeptAsAShortHash() {
        let key = ClientAddress.throttleKey(String(repeating: "z", count: 10_000))
        #expect(key.hasPrefix("#") && key.utf8.count == 17)
        #expect(ClientAddress.auditText("not an address").hasPrefix("invalid:"))
        #expect(ClientAddress.auditText("2001:db8::1") == "2001:db8::1")
    }
}
