import ArgumentParser
import Foundation
import PortalWeb

struct Routes: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the routing table as JSON: patterns, methods and the numbers each route reads.",
        discussion: """
            Each number names where it comes from ("in": path, query or form), its type (record-id, page
            or grade) and the values it accepts (minimum...maximum, canonical ASCII decimal only).
            Tests read this table to probe every route.
            """)

    func run() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(Portal.routeTable), as: UTF8.self))
    }
}
