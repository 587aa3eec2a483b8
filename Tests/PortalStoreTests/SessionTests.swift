import Foundation
import PortalDomain
import Testing

@testable import PortalStore

/// Sessions end 12 hours after sign-in or 30 minutes after the last request; password changes
/// and rehashes never undo a reset that came between verifying a password and writing.
@Suite struct SessionTests {
    let now: Int64 = 1_800_000_000

    func session(_ token: String, at now: Int64) -> AccountStore.NewSession {
        AccountStore.NewSession(tokenHash: token, csrfToken: "c-" + token, expiresAt: SessionLifetime.expiry(openedAt: now))
    }

    /// A learner who has set the password whose hash is "verified", with session "first".
    func learnerWithPassword(_ temporary: TemporaryDatabase) throws -> Learner {
        _ = try temporary.addLearner("ana", now: now)
        let accounts = temporary.accounts
        let learner = try #require(try accounts.learner(username: "ana"))
        #expect(
            try accounts.setFirstPassword(
                learnerID: learner.id, codeHash: "ana", passwordHash: "verified", pepperID: "1", now: now,
                session: session("first", at: now)))
        return try #require(try accounts.learner(username: "ana"))
    }

    @Test func aRehashAfterAResetDoesNotOverwriteTheReset() throws {
        let temporary = try TemporaryDatabase()
        defer { temporary.remove() }
        let accounts = temporary.accounts
        let verifiedAccount = try learnerWithPassword(temporary)
        // Login verified "verified"; the operator resets the account before the rehash lands.
        try accounts.resetLearner(username: "ana", codeHash: "new-code", now: now + 1, codeExpiresAt: now + 100)
        let rehashed = try accounts.rehashPassword(
            learnerID: verifiedAccount.id, verifiedHash: "verified", passwordHash: "rehashed", pepperID: "2")
        #expect(!rehashed)
        let after = try #require(try accounts.learner(username: "ana"))
        #expect(after.passwordHash == nil && after.pepperID == nil)
        // Nor does the login that verified the old password get a session.
        let opened = try accounts.openSession(
            session("late", at: now + 2), learnerID: verifiedAccount.id, now: now + 2,
            ifPasswordSetAt: verifiedAccount.passwordSetAt)
        #expect(!opened)
        #expect(try accounts.session(tokenHash: "late", now: now + 2) == nil)
    }

    @Test func aRehashOfAnUnchangedPasswordReplacesTheHashAndKeepsItsDate() throws {
        let temporary = try TemporaryDatabase()
        defer { temporary.remove() }
        let accounts = temporary.accounts
        let verifiedAccount = try learnerWithPassword(temporary)
        #expect(
            try accounts.rehashPassword(
                learnerID: verifiedAccount.id, verifiedHash: "verified", passwordHash: "rehashed", pepperID: "2"))
        let after = try #require(try accounts.learner(username: "ana"))
        #expect(after.passwordHash == "rehashed" && after.pepperID == "2")
        #expect(after.passwordSetAt == verifiedAccount.passwordSetAt)
        #expect(
            try accounts.openSession(
                session("next", at: now + 5), learnerID: after.id, now: now + 5, ifPasswordSetAt: verifiedAccount.passwordSetAt))
    }

    @Test func aPasswordChangeEndsTheOtherSessionsInTheSameStep() throws {
        let temporary = try TemporaryDatabase()
        defer { temporary.remove() }
        let accounts = temporary.accounts
        let learner = try learnerWithPassword(temporary)
        try accounts.openSession(session("second", at: now + 10), learnerID: learner.id, now: now + 10)
        // A change checked against a hash that is no longer stored changes nothing at all.
        #expect(
            !(try accounts.changePassword(
                learnerID: learner.id, verifiedHash: "stale", passwordHash: "new", pepperID: "1", now: now + 20,
                keepingSession: "first")))
        #expect(try accounts.learner(username: "ana")?.passwordHash == "verified")
        #expect(try accounts.session(tokenHash: "second", now: now + 20) != nil)

        #expect(
            try accounts.changePassword(
                learnerID: learner.id, verifiedHash: "verified", passwordHash: "new", pepperID: "1", now: now + 20,
                keepingSession: "first"))
        #expect(try accounts.learner(username: "ana")?.passwordHash == "new")
        #expect(try accounts.session(tokenHash: "first", now: now + 20) != nil)
        #expect(try accounts.session(tokenHash: "second", now: now + 20) == nil)
    }

    @Test func anIdleSessionEndsAfterThirtyMinutesAndActivityKeepsItAlive() throws {
        let temporary = try TemporaryDatabase()
        defer { temporary.remove() }
        let accounts = temporary.accounts
        let learner = try temporary.addLearner("ana", now: now)
        try accounts.openSession(session("idle", at: now), learnerID: learner.id, now: now)
        try accounts.openSession(session("busy", at: now), learnerID: learner.id, now: now)
        let idle = SessionLifetime.idleSeconds
        #expect(try accounts.session(tokenHash: "idle", now: now + idle - 1) != nil)
        #expect(try accounts.session(tokenHash: "idle", now: now + idle) == nil)

        try accounts.recordActivity(tokenHash: "busy", now: now + idle - 60)
        #expect(try accounts.session(tokenHash: "busy", now: now + idle + 60)?.lastSeenAt == now + idle - 60)
        #expect(try accounts.session(tokenHash: "busy", now: now + 2 * idle - 60) == nil)
    }

    @Test func activityIsRecordedAtMostOnceAMinute() throws {
        let temporary = try TemporaryDatabase()
        defer { temporary.remove() }
        let accounts = temporary.accounts
        let learner = try temporary.addLearner("ana", now: now)
        try accounts.openSession(session("s", at: now), learnerID: learner.id, now: now)
        try accounts.recordActivity(tokenHash: "s", now: now + 59)
        #expect(try accounts.session(tokenHash: "s", now: now + 59)?.lastSeenAt == now)
        try accounts.recordActivity(tokenHash: "s", now: now + 60)
        #expect(try accounts.session(tokenHash: "s", now: now + 60)?.lastSeenAt == now + 60)
    }

    @Test func aBusySessionEndsTwelveHoursAfterSignIn() throws {
        let temporary = try TemporaryDatabase()
        defer { temporary.remove() }
        let accounts = temporary.accounts
        let learner = try temporary.addLearner("ana", now: now)
        try accounts.openSession(session("s", at: now), learnerID: learner.id, now: now)
        let end = now + SessionLifetime.absoluteSeconds
        var moment = now
        while moment < end - 600 {
            moment += 600
            #expect(try accounts.session(tokenHash: "s", now: moment) != nil)
            try accounts.recordActivity(tokenHash: "s", now: moment)
        }
        #expect(try accounts.session(tokenHash: "s", now: end - 1) != nil)
        #expect(try accounts.session(tokenHash: "s", now: end) == nil)
    }
}
