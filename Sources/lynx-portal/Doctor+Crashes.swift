import FastCGI
import Foundation

extension Doctor {
    /// How far back a crash still counts as recent.
    static let crashWindow: TimeInterval = 7 * 24 * 3600

    /// Adds the crash check: the crash record's lines from the last 7 days as a warning, with
    /// systemd's restart count when it runs the portal. A crash is not a failure of the
    /// installation (the portal is back), but the operator should know which request caused it.
    static func reportCrashes(into report: inout DoctorReport, dataDirectory: String, now: Date = Date()) {
        let file = CrashRecord.file(inDataDirectory: dataDirectory)
        let recent = recentCrashes(in: [file + ".1", file], now: now)
        var systemd = ""
        if ServerLayout.systemdIsRunning,
            let shown = run(["systemctl", "show", "lynx-portal.service", "-p", "NRestarts", "-p", "Result"])
        {
            var properties: [Substring: Substring] = [:]
            for line in shown.split(separator: "\n") {
                let pair = line.split(separator: "=", maxSplits: 1)
                if pair.count == 2 { properties[pair[0]] = pair[1] }
            }
            systemd = "; systemd: NRestarts=\(properties["NRestarts"] ?? "?"), Result=\(properties["Result"] ?? "?")"
        }
        guard !recent.isEmpty else {
            report.pass("crashes", "none in the last 7 days (\(file))\(systemd)")
            return
        }
        let shown = recent.suffix(5)
        report.warn(
            "crashes",
            "\(recent.count) in the last 7 days (\(file); the journal has the rest: journalctl -u lynx-portal.service)"
                + "\(systemd); the latest \(shown.count):",
            more: Array(shown))
    }

    /// Crash lines (as `CrashRecord` writes them) whose time is within `crashWindow` of `now`,
    /// oldest first. Files that do not exist or cannot be read contribute nothing.
    static func recentCrashes(in files: [String], now: Date) -> [String] {
        let format = ISO8601DateFormatter()
        var lines: [String] = []
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else { continue }
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
                guard let at = line.range(of: ") at ") else { continue }
                let stamp = line[at.upperBound...].prefix(20)
                guard let time = format.date(from: String(stamp)) else { continue }
                if now.timeIntervalSince(time) <= crashWindow { lines.append(String(line)) }
            }
        }
        return lines
    }
}
