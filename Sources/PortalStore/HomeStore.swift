import GRDB
import PortalDomain

/// Everything the home page shows, read in one transaction.
public struct HomeSummary: Sendable {
    public var dueToday: Int
    /// The next due day when nothing is due today.
    public var nextDue: StudyDay?
    public var quizzes: [QuizSummary]
    public var recentEntries: [JournalListing]
}

/// The home page's reads. One read transaction instead of one per query: the home page is the
/// most visited page, and each transaction costs more than these indexed queries.
public struct HomeStore: Sendable {
    public let database: PortalDatabase

    public init(database: PortalDatabase) {
        self.database = database
    }

    public func summary(learnerID: Int64, on day: StudyDay, recent: Int = 3) throws -> HomeSummary {
        try database.read { db in
            let queue = try StudyStore.queueOutlook(db, learnerID: learnerID, day: day)
            return HomeSummary(
                dueToday: queue.due, nextDue: queue.nextDue,
                quizzes: try QuizStore.summaries(db, learnerID: learnerID),
                recentEntries: try JournalStore.entries(db, learnerID: learnerID, page: 1, perPage: recent).entries)
        }
    }
}
