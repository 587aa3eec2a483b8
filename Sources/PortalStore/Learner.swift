import GRDB

/// A learner account as stored.
public struct Learner: Sendable, Equatable, Codable, FetchableRecord {
    public var id: Int64
    public var username: String
    public var timeZone: String
    public var passwordHash: String?
    public var pepperID: String?
    public var disabled: Bool
    public var createdAt: Int64
    public var passwordSetAt: Int64?

    enum CodingKeys: String, CodingKey {
        case id, username, disabled
        case timeZone = "time_zone"
        case passwordHash = "password_hash"
        case pepperID = "pepper_id"
        case createdAt = "created_at"
        case passwordSetAt = "password_set_at"
    }

    public var hasPassword: Bool { passwordHash != nil }
}

/// A stored session joined with its learner.
public struct SessionRecord: Sendable, Equatable {
    public var tokenHash: String
    public var csrfToken: String
    public var expiresAt: Int64
    /// When activity on the session was last recorded (at most a minute behind the last request).
    public var lastSeenAt: Int64
    public var learner: Learner
    /// Where the learner's home page stood when the session was read.
    public var homeVersion: HomeVersion

    public init(
        tokenHash: String, csrfToken: String, expiresAt: Int64, lastSeenAt: Int64, learner: Learner, homeVersion: HomeVersion
    ) {
        self.tokenHash = tokenHash
        self.csrfToken = csrfToken
        self.expiresAt = expiresAt
        self.lastSeenAt = lastSeenAt
        self.learner = learner
        self.homeVersion = homeVersion
    }
}

/// The revisions behind a learner's home page (migration v6-home-revision): the learner's
/// `home_revision`, raised by every change to their cards, attempts, journal, name or time zone,
/// and the quiz catalog's revision. Equal versions on the same study day mean an equal page.
public struct HomeVersion: Sendable, Equatable, CustomStringConvertible {
    public var learner: Int64
    public var catalog: Int64

    public init(learner: Int64, catalog: Int64) {
        self.learner = learner
        self.catalog = catalog
    }

    public var description: String { "\(learner).\(catalog)" }
}

public enum AccountError: Error, Equatable, CustomStringConvertible {
    case usernameTaken(String)
    case noSuchLearner(String)

    public var description: String {
        switch self {
        case .usernameTaken(let name): "a learner named \(name) already exists (use `user reset \(name)` for a new setup code)"
        case .noSuchLearner(let name): "no learner named \(name) (see `user list`)"
        }
    }
}
