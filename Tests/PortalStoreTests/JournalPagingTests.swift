import Testing

@testable import PortalStore

/// Paging the journal never traps, whatever page number reaches the store.
@Suite struct JournalPagingTests {
    @Test(arguments: [Int.max, Int.max / 20 + 1, 500_000_000_000_000_000, Int.min, 0, -1])
    func aPageFarPastTheEndIsEmptyInsteadOfATrap(page: Int) throws {
        let temporary = try TemporaryDatabase()
        defer { temporary.remove() }
        let learner = try temporary.addLearner("ana", now: 1_000)
        _ = try temporary.journal.create(learnerID: learner.id, title: "t", body: "b", now: 1_000)
        let (entries, hasMore) = try temporary.journal.entries(learnerID: learner.id, page: page, perPage: 20)
        // Pages below 1 read as the first page; the others lie past the only entry.
        #expect(entries.count == (page < 1 ? 1 : 0))
        #expect(!hasMore)
    }
}
