import FastCGI
import Foundation
import GRDB
import PortalStore

extension Portal {
    /// `/healthz`: 200 with status, database, audit, version, commit, backup ages and the
    /// operator's alerts (`[{"check", "message"}]`, empty when all is well), or 503 when the
    /// database cannot be read or audit events cannot be written. A client that is not on this
    /// machine's loopback gets the status alone: the version and commit, backup ages and the reasons are
    /// for the operator (`lynx-portal doctor` shows them too).
    func health(_ exchange: inout Exchange) throws -> Response {
        var body: [String: Any] = ["version": configuration.build.version, "commit": configuration.build.commit]
        var status = 200
        do {
            guard database.fileIsIntact else {
                throw HTTPError(503, "\(database.path) was deleted or replaced; restart the portal")
            }
            _ = try database.readStatement { db in try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM learner")) }
            body["status"] = "ok"
            body["database"] = "ok"
        } catch {
            status = 503
            body["status"] = "unavailable"
            body["database"] = database.fileIsIntact ? "unreadable" : "missing or replaced"
            logger.error("healthz: database unreadable", metadata: ["error": "\(error)"])
        }
        // A security event that cannot be written is an outage, not a detail.
        if let problem = audit.writeFailure(at: exchange.now) {
            status = 503
            body["status"] = "unavailable"
            body["audit"] = "unwritable: " + problem
        } else {
            body["audit"] = "ok"
        }
        body["backup"] = backupHealth(now: exchange.nowSeconds)
        // The operator's alert conditions (the same checks `doctor` fails on): listed, never a 503.
        body["alerts"] = OperatorChecks.run(
            dataDirectory: configuration.dataDirectory, thresholds: configuration.alertThresholds, now: exchange.nowSeconds
        )
        .filter { $0.level == .alert }.map { ["check": $0.check, "message": $0.message] }
        if !exchange.request.comesFromLoopback { body = ["status": body["status"] ?? "unavailable"] }
        let json = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data()
        return Response(status: status, headers: [("Content-Type", "application/json")], body: Array(json))
    }

    /// Ages of the last good backup and last verified restore (seconds, null when never), with a
    /// warning past 26 hours. Informational: a stale backup never turns `/healthz` into a 503.
    func backupHealth(now: Int64) -> [String: Any] {
        let status = BackupStatus.read(dataDirectory: configuration.dataDirectory)
        let warnings = status.warnings(now: now)
        var backup: [String: Any] = [
            "status": warnings.isEmpty ? "ok" : "warning",
            "last_good_backup_age_seconds": status.lastBackupAge(now: now).map { $0 as Any } ?? NSNull(),
            "last_verified_restore_age_seconds": status.lastVerifiedRestoreAge(now: now).map { $0 as Any } ?? NSNull(),
            "last_snapshot_age_seconds": status.lastSnapshotAge(now: now).map { $0 as Any } ?? NSNull(),
            "snapshot_interval_seconds": status.lastSnapshot?.intervalSeconds.map { $0 as Any } ?? NSNull(),
        ]
        if !warnings.isEmpty { backup["warning"] = warnings.joined(separator: "; ") }
        return backup
    }
}
