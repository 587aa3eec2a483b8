/// When a signed-in session ends (OWASP ASVS 4.0.3 level 2, V3.3.2): 12 hours after signing
/// in, or after 30 minutes without a request, whichever comes first. Either way the learner
/// signs in again.
public enum SessionLifetime {
    /// From signing in to the end of the session, however busy.
    public static let absoluteSeconds: Int64 = 12 * 3600
    /// Without a request for this long, the session ends.
    public static let idleSeconds: Int64 = 30 * 60
    /// A request records activity only when the last record is at least this old, so most page
    /// views write nothing. The idle timeout then ends a session between 29 and 30 minutes
    /// after its last request: never later.
    public static let activityIntervalSeconds: Int64 = 60

    /// The sentence pages show learners.
    public static let explanation =
        "You are signed out after \(idleSeconds / 60) minutes without activity and \(absoluteSeconds / 3600) hours after signing in."

    /// When a session opened at `now` ends at the latest.
    public static func expiry(openedAt now: Int64) -> Int64 { now + absoluteSeconds }

    /// Activity before this moment is too old to keep a session alive at `now`.
    public static func idleCutoff(now: Int64) -> Int64 { now - idleSeconds }

    /// True when a request at `now` should record activity last recorded at `lastSeenAt`.
    public static func shouldRecordActivity(lastSeenAt: Int64, now: Int64) -> Bool {
        now - lastSeenAt >= activityIntervalSeconds
    }
}
