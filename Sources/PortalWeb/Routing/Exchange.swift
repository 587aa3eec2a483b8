import FastCGI
import Foundation
import PortalStore

/// One request in flight: the request, what the portal learned about it (route captures,
/// session, form) and the cookies to set on the way out.
struct Exchange {
    let request: Request
    let path: String
    var captures: [String: String] = [:]
    /// The numbers the route declares: the only ones `number(_:)` reads.
    var numbers: [any DeclaredNumber] = []
    var session: SessionRecord?
    var form = FormFields()
    var query = FormFields()
    /// The anonymous form cookie's value, for CSRF on pages without a session.
    var formCookie: String?
    var setCookies: [String] = []
    let now: Date

    var learner: Learner? { session?.learner }
    var nowSeconds: Int64 { Int64(now.timeIntervalSince1970) }

    /// The signed-in learner, or an HTTP redirect to `/login`.
    func requireLearner() throws -> SessionRecord {
        guard let session else {
            throw HTTPError(303, headers: [("Location", "/login")])
        }
        return session
    }

    func capture(_ name: String) -> String { captures[name] ?? "" }
}
