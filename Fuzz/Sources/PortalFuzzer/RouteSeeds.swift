import Foundation
import PortalWeb

/// Seed inputs from the routing table: one per route and method, in `FuzzedRequest`'s format,
/// with the quiz `phase-0` for a slug and a number slot for every capture and declared number,
/// filled with a value that exists in the fuzzer's database (record 1 of each table).
enum RouteSeeds {
    static func write(into directory: String) throws -> Int {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var count = 0
        for route in Portal.routeTable {
            for method in route.methods {
                var values: [Int64] = []
                let path = route.pattern.split(separator: "/").map { segment -> String in
                    if segment == ":slug" { return "phase-0" }
                    guard segment.hasPrefix(":") else { return String(segment) }
                    values.append(1)
                    return slot
                }
                let numbers = route.numbers.filter { $0.methods.contains(method) && $0.source != "path" }
                let query = numbers.filter { $0.source == "query" }.map { number in
                    values.append(value(number))
                    return "\(number.name)=\(slot)"
                }
                var form = numbers.filter { $0.source == "form" }.map { number in
                    values.append(value(number))
                    return "\(number.name)\(number.nameSuffix == nil ? "" : "1")=\(slot)"
                }
                if method == "POST" && route.pattern.hasPrefix("/journal") { form += ["title=Seed", "body=Seed+entry"] }
                let uri = "/" + path.joined(separator: "/") + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
                let mode = method == "POST" ? "1" : "0"
                var seed = Array((mode + uri + "\n" + form.joined(separator: "&") + "\n\n\n").utf8)
                for value in values { withUnsafeBytes(of: value.littleEndian) { seed += $0 } }
                let name =
                    "route-\(method.lowercased())"
                    + route.pattern.replacingOccurrences(of: "/", with: "-")
                    .replacingOccurrences(of: ":", with: "")
                try Data(seed).write(to: URL(fileURLWithPath: directory).appendingPathComponent(name))
                count += 1
            }
        }
        return count
    }

    private static let slot = String(UnicodeScalar(NumberSlots.slot))

    /// A value the number accepts: its smallest, but 2 for a page (page 1 is the default).
    private static func value(_ number: NumberDescription) -> Int64 {
        number.type == "page" ? number.minimum + 1 : number.minimum
    }
}
