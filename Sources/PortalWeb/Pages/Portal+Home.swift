import FastCGI
import Foundation

extension Portal {
    func home(_ exchange: inout Exchange) throws -> Response {
        let session = try exchange.requireLearner()
        return page("home", title: "Home", ["username": session.learner.username], exchange: &exchange)
    }
}
