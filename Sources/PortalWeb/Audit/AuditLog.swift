import Foundation
import Logging
import PortalDomain

/// One event in the audit trail.
public struct AuditEvent: Sendable {
    public var event: String
    /// As typed or stored; the log writes it only when it is a valid `Username`.
    public var username: String?
    public var remoteAddress: String?
    public var requestID: String?
    public var outcome: String
    /// Extra non-secret details (e.g. quiz slug, card id, due date).
    public var details: [String: String]
    /// For a throttled attempt: the throttle key that refused it and how long it stays refused.
    /// Within that window the log writes the first such event and counts the rest.
    public var throttled: (key: String, seconds: Int)?
    /// A throttle key this event concerns: any count still pending for it is written on this line.
    public var throttleKey: String?

    public init(
        _ event: String, username: String?, remoteAddress: String? = nil, requestID: String? = nil,
        outcome: String, details: [String: String] = [:]
    ) {
        self.event = event
        self.username = username
        self.remoteAddress = remoteAddress
        self.requestID = requestID
        self.outcome = outcome
        self.details = details
    }

    /// Failed and throttled attempts: what a flood produces, and what the log stops writing
    /// (counting it instead) once the directory is over its byte cap.
    var isRefusal: Bool { outcome == "failed" || outcome == "throttled" }
}

/// The audit log: one JSON object per line in `audit/YYYY-MM-DD.log` (UTC date), appended
/// with `O_APPEND` and written with one `write(2)` per event. Callers never pass secrets.
///
/// Every field is bounded: a username that is not a valid `Username` is written as its length
/// and a keyed hash, addresses that are not IP addresses as a hash, other values cut at
/// `maximumFieldBytes`. Repeated throttled attempts collapse into one line per key and
/// window. On the first event of a new day, files older than the retention are deleted; while
/// the directory is over its byte cap, refusals are counted instead of written. An event that
/// cannot be written is logged through `logger`, and `writeFailure` says so until a write
/// succeeds again (the next line written is an `audit_gap` with the number lost).
public final class AuditLog: Sendable {
    /// How long files are kept and how large the directory may grow.
    public struct Policy: Sendable, Equatable {
        /// Days of files kept, today included; 0 keeps every file.
        public var retentionDays: Int
        /// Bytes above which refusals are no longer written; 0 for no cap.
        public var maximumBytes: Int64

        public init(retentionDays: Int, maximumBytes: Int64) {
            self.retentionDays = retentionDays
            self.maximumBytes = maximumBytes
        }

        /// The portal's defaults (LYNX_AUDIT_RETENTION_DAYS, LYNX_AUDIT_MAX_BYTES).
        public static let standard = Policy(retentionDays: 180, maximumBytes: 256 << 20)
        /// Deletes nothing and caps nothing: for the command-line tools, which leave the
        /// retention to the portal (they may not see its settings).
        public static let keepEverything = Policy(retentionDays: 0, maximumBytes: 0)
    }

    public let directory: String
    public let policy: Policy
    static let maximumFieldBytes = 200
    static let maximumDetails = 16
    /// Throttled keys whose count is pending; past this, expired windows are written out.
    static let maximumCollapsed = 1024

    private struct Collapsed {
        var line: [String: String]
        var until: Date
        var repeats: Int
    }

    private struct State {
        var day: String?
        var directoryBytes: Int64 = 0
        var droppedRefusals = 0
        var collapsed: [String: Collapsed] = [:]
        var recordsSincePurge = 0
        var failure: String?
        var failedSince: Date?
        var lost = 0
        var lastFailureLog: Date?
    }

    private let state = Locked(State())
    private let nameKey: [UInt8]
    private let logger: Logger

    /// `nameKey` keys the hash written for invalid usernames (so what someone typed, maybe a
    /// password, cannot be recovered from the log); without one, a random key per process.
    public init(
        directory: String, policy: Policy = .keepEverything, nameKey: [UInt8]? = nil,
        logger: Logger = Logger(label: "lynx-portal.audit")
    ) {
        self.directory = directory
        self.policy = policy
        self.nameKey = nameKey ?? Array(Tokens.random().utf8)
        self.logger = logger
    }

    public func record(_ event: AuditEvent, at date: Date = Date()) {
        var object = fields(of: event, at: date)
        state.withLock { state in
            if let throttled = event.throttled {
                let key = throttled.key
                if var pending = state.collapsed[key], date < pending.until {
                    pending.repeats += 1
                    state.collapsed[key] = pending
                    return
                }
                if let pending = state.collapsed.removeValue(forKey: key), pending.repeats > 0 {
                    Self.addRepeats(pending, to: &object)
                }
                state.collapsed[key] = Collapsed(
                    line: object, until: date.addingTimeInterval(TimeInterval(throttled.seconds)), repeats: 0)
            } else if let key = event.throttleKey, let pending = state.collapsed.removeValue(forKey: key),
                pending.repeats > 0
            {
                Self.addRepeats(pending, to: &object)
            }
            append(object, refusal: event.isRefusal, at: date, state: &state)
            purgeCollapsed(at: date, state: &state)
        }
    }

    /// Why the last event could not be written, while writes are failing; nil when they work.
    /// When failing, tries to write the `audit_gap` line first, so a fixed directory reports
    /// healthy again without waiting for the next event.
    public func writeFailure(at date: Date = Date()) -> String? {
        state.withLock { state in
            guard state.failure != nil else { return nil }
            _ = resume(at: date, state: &state)
            return state.failure
        }
    }

    // MARK: Fields

    private func fields(of event: AuditEvent, at date: Date) -> [String: String] {
        var object: [String: String] = [
            "timestamp": Self.timestamp(date), "event": Self.bounded(event.event), "outcome": Self.bounded(event.outcome),
        ]
        if let typed = event.username {
            if let username = Self.validUsername(typed) {
                object["username"] = username
            } else {
                object["username_invalid"] = String(Tokens.mac("username:" + typed, key: nameKey).prefix(16))
                object["username_bytes"] = String(typed.utf8.count)
            }
        }
        object["remote_addr"] = event.remoteAddress.map(ClientAddress.auditText)
        object["request_id"] = event.requestID.map(Self.bounded)
        for (key, value) in event.details.sorted(by: { $0.key < $1.key }).prefix(Self.maximumDetails) {
            let key = Self.bounded(key)
            if object[key] == nil { object[key] = Self.bounded(value) }
        }
        return object
    }

    static func validUsername(_ typed: String) -> String? {
        guard typed.utf8.count <= 32, let username = Username(typed) else { return nil }
        return username.value
    }

    /// `text` cut to at most `maximumFieldBytes` UTF-8 bytes, on a character boundary, with a
    /// marker saying how long it was.
    static func bounded(_ text: String) -> String {
        guard text.utf8.count > maximumFieldBytes else { return text }
        var kept = ""
        var bytes = 0
        for character in text {
            let size = character.utf8.count
            if bytes + size > maximumFieldBytes - 24 { break }
            kept.append(character)
            bytes += size
        }
        return kept + "…(\(text.utf8.count) bytes)"
    }

    private static func addRepeats(_ pending: Collapsed, to object: inout [String: String]) {
        object["throttled_repeats"] = String(pending.repeats)
        object["throttled_since"] = pending.line["timestamp"]
    }

    // MARK: Writing

    private static func encode(_ object: [String: String]) -> Data {
        var line =
            (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        line.append(UInt8(ascii: "\n"))
        return line
    }

    private func append(_ object: [String: String], refusal: Bool, at date: Date, state: inout State) {
        rollOver(to: Self.day(date), at: date, state: &state)
        let line = Self.encode(object)
        if refusal, policy.maximumBytes > 0, state.directoryBytes + Int64(line.count) > policy.maximumBytes {
            if state.droppedRefusals == 0 {
                logger.warning(
                    "audit directory is over LYNX_AUDIT_MAX_BYTES; failed and throttled attempts are counted, not written",
                    metadata: ["directory": "\(directory)", "bytes": "\(state.directoryBytes)"])
            }
            state.droppedRefusals += 1
            return
        }
        _ = write(line, at: date, state: &state)
    }

    /// Appends one line, after the `audit_gap` line if writes were failing; when it cannot,
    /// counts the event as lost and logs why (at most once a minute).
    private func write(_ line: Data, at date: Date, state: inout State) -> Bool {
        let problem = resume(at: date, state: &state) ? openAndWrite(line, at: date) : state.failure
        if let problem {
            failed(problem, at: date, state: &state)
            return false
        }
        state.directoryBytes += Int64(line.count)
        return true
    }

    /// While writes are failing, tries the `audit_gap` line (how many events were lost since
    /// when); true when writes work.
    private func resume(at date: Date, state: inout State) -> Bool {
        guard state.failure != nil else { return true }
        let gap = Self.encode([
            "timestamp": Self.timestamp(date), "event": "audit_gap", "outcome": "resumed", "lost": String(state.lost),
            "since": state.failedSince.map(Self.timestamp) ?? "",
        ])
        if let problem = openAndWrite(gap, at: date) {
            state.failure = problem
            return false
        }
        logger.notice("audit log writable again", metadata: ["directory": "\(directory)", "lost_events": "\(state.lost)"])
        state.directoryBytes += Int64(gap.count)
        state.failure = nil
        state.failedSince = nil
        state.lost = 0
        return true
    }

    private func failed(_ problem: String, at date: Date, state: inout State) {
        if state.failure == nil { state.failedSince = date }
        state.failure = problem
        state.lost += 1
        if state.lastFailureLog.map({ date.timeIntervalSince($0) >= 60 }) ?? true {
            state.lastFailureLog = date
            logger.error(
                "audit event not written",
                metadata: ["directory": "\(directory)", "error": "\(problem)", "lost_events": "\(state.lost)"])
        }
    }

    /// One `write(2)` of `line` to the day's file; the problem when it fails.
    private func openAndWrite(_ line: Data, at date: Date) -> String? {
        let path = "\(directory)/\(Self.day(date)).log"
        var descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        if descriptor < 0, errno == ENOENT {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        }
        guard descriptor >= 0 else { return "cannot open today's file: \(String(cString: strerror(errno)))" }
        defer { close(descriptor) }
        let written = line.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        guard written == line.count else {
            return "cannot append to today's file: " + (written < 0 ? String(cString: strerror(errno)) : "short write")
        }
        return nil
    }

    // MARK: Retention

    /// On the first event of a day: deletes files past the retention, re-measures the
    /// directory, and writes how many refusals the byte cap kept out of the day before.
    private func rollOver(to day: String, at date: Date, state: inout State) {
        guard state.day != day else { return }
        let previous = state.day
        state.day = day
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let logs = names.filter { $0.count == 14 && $0.hasSuffix(".log") }
        if policy.retentionDays > 0, let today = StudyDay(day) {
            let oldestKept = StudyDay(daysSinceEpoch: today.daysSinceEpoch - Int64(policy.retentionDays) + 1).description
            for name in logs where StudyDay(String(name.prefix(10))) != nil && String(name.prefix(10)) < oldestKept {
                do {
                    try FileManager.default.removeItem(atPath: "\(directory)/\(name)")
                } catch {
                    logger.error("cannot delete an expired audit file", metadata: ["file": "\(name)", "error": "\(error)"])
                }
            }
        }
        state.directoryBytes = 0
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where name.hasSuffix(".log") {
            let attributes = try? FileManager.default.attributesOfItem(atPath: "\(directory)/\(name)")
            state.directoryBytes += (attributes?[.size] as? NSNumber)?.int64Value ?? 0
        }
        if state.droppedRefusals > 0 {
            let dropped = state.droppedRefusals
            state.droppedRefusals = 0
            _ = write(
                Self.encode([
                    "timestamp": Self.timestamp(date), "event": "audit_refusals_dropped", "outcome": "counted",
                    "count": String(dropped), "day": previous ?? "",
                ]), at: date, state: &state)
        }
    }

    /// Writes out the counts of windows that have ended, every so often or when too many keys
    /// are pending (then the oldest windows too), so the table stays bounded.
    private func purgeCollapsed(at date: Date, state: inout State) {
        state.recordsSincePurge += 1
        guard state.recordsSincePurge >= 64 || state.collapsed.count > Self.maximumCollapsed else { return }
        state.recordsSincePurge = 0
        var ended = state.collapsed.filter { $0.value.until <= date }.map(\.key)
        if state.collapsed.count - ended.count > Self.maximumCollapsed {
            let open = state.collapsed.filter { $0.value.until > date }.sorted { $0.value.until < $1.value.until }
            ended += open.prefix(state.collapsed.count - ended.count - Self.maximumCollapsed * 7 / 8).map(\.key)
        }
        for key in ended {
            guard let pending = state.collapsed.removeValue(forKey: key), pending.repeats > 0 else { continue }
            var line = pending.line
            line["timestamp"] = Self.timestamp(date)
            Self.addRepeats(pending, to: &line)
            line["request_id"] = nil
            append(line, refusal: true, at: date, state: &state)
        }
    }

    /// UTC with milliseconds, e.g. "2026-11-29T09:52:34.946Z" (as ISO8601DateFormatter with
    /// fractional seconds writes it, without building a formatter per event).
    static func timestamp(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let days = milliseconds >= 0 ? milliseconds / 86_400_000 : (milliseconds - 86_399_999) / 86_400_000
        let ofDay = Int(milliseconds - days * 86_400_000)
        let (hour, minute) = (ofDay / 3_600_000, ofDay / 60_000 % 60)
        let (second, millisecond) = (ofDay / 1000 % 60, ofDay % 1000)
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return StudyDay(daysSinceEpoch: days).description + "T" + pad(hour, 2) + ":" + pad(minute, 2) + ":"
            + pad(second, 2) + "." + pad(millisecond, 3) + "Z"
    }

    static func day(_ date: Date) -> String {
        String(timestamp(date).prefix(10))
    }
}
