import FastCGI
import Foundation

extension Portal {
    /// `/healthz`: 200 with status, database and version, or 503 when the database cannot be read.
    func health(_ exchange: inout Exchange) throws -> Response {
        var body: [String: Any] = ["version": PortalVersion.current]
        var status = 200
        do {
            guard database.fileIsIntact else {
                throw HTTPError(503, "\(database.path) was deleted or replaced; restart the portal")
            }
            _ = try database.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM learner") }
            body["status"] = "ok"
            body["database"] = "ok"
        } catch {
            status = 503
            body["status"] = "unavailable"
            body["database"] = database.fileIsIntact ? "unreadable" : "missing or replaced"
            logger.error("healthz: database unreadable", metadata: ["error": "\(error)"])
        }
        let json = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data()
        return Response(status: status, headers: [("Content-Type", "application/json")], body: Array(json))
    }
}

import GRDB
