import Foundation
import PortalDomain

/// One event in the audit trail.
public struct AuditEvent: Sendable {
    public var event: String
    public var username: String?
    public var remoteAddress: String?
    public var requestID: String?
    public var outcome: String
    /// Extra non-secret details (e.g. quiz slug, card id, due date).
    public var details: [String: String]

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
}

/// The audit log: one JSON object per line in `audit/YYYY-MM-DD.log` (UTC date), appended
/// with `O_APPEND` and written with one `write(2)` per event. Callers never pass secrets.
public final class AuditLog: Sendable {
    public let directory: String
    private let lock = NSLock()

    public init(directory: String) {
        self.directory = directory
    }

    public func record(_ event: AuditEvent, at date: Date = Date()) {
        var object: [String: String] = [
            "timestamp": Self.timestamp(date), "event": event.event, "outcome": event.outcome,
        ]
        object["username"] = event.username
        object["remote_addr"] = event.remoteAddress
        object["request_id"] = event.requestID
        for (key, value) in event.details where object[key] == nil { object[key] = value }
        guard var line = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        else { return }
        line.append(UInt8(ascii: "\n"))
        let path = "\(directory)/\(Self.day(date)).log"
        lock.lock()
        defer { lock.unlock() }
        var descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        if descriptor < 0, errno == ENOENT {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        }
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        _ = line.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
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
