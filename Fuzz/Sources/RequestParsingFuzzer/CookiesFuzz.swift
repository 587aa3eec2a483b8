import FastCGI

/// `Cookies.parse` splits on the bytes `;` and `=` whatever characters surround them (a `;`
/// after U+0600 is still a separator), never keeps an empty or padded name, never returns more
/// cookies than `;`-separated parts, and a jar written back as a header parses to itself.
/// `Cookies.value`, the one-cookie lookup the portal uses per request, agrees with `parse` for
/// every name found and for names that are not there.
enum CookiesFuzz {
    static func run(_ payload: ArraySlice<UInt8>) {
        // Headers reach the portal decoded leniently (see Responder.params), so do the same here.
        let header = String(decoding: payload, as: UTF8.self)
        let cookies = Cookies.parse(header)
        let parts = header.utf8.split(separator: UInt8(ascii: ";")).count
        check(cookies.count <= parts, "\(cookies.count) cookies from \(parts) parts of \(header.debugDescription)")
        for (name, value) in cookies {
            check(!name.isEmpty, "an empty cookie name from \(header.debugDescription)")
            check(!name.utf8.contains(UInt8(ascii: ";")), "cookie name \(name.debugDescription) holds a ';'")
            check(!name.utf8.contains(UInt8(ascii: "=")), "cookie name \(name.debugDescription) holds a '='")
            check(!value.utf8.contains(UInt8(ascii: ";")), "cookie value \(value.debugDescription) holds a ';'")
            check(!isPadded(name), "cookie name \(name.debugDescription) keeps its padding")
        }
        for name in Array(cookies.keys) + ["lynx_session", "lynx_form", "", " "] {
            let found = Cookies.value(name, in: header)
            check(
                found == cookies[name],
                "value(\(name.debugDescription)) is \(found.debugDescription), parse says \(cookies[name].debugDescription)")
        }
        // Values that parse to themselves: not in quotes, not padded.
        let plain = cookies.filter { !$0.value.hasPrefix("\"") && !isPadded($0.value) }
        let written = plain.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")
        let reparsed = Cookies.parse(written)
        check(reparsed == plain, "cookie jar \(written.debugDescription) parses to \(reparsed)")
    }

    private static func isPadded(_ text: String) -> Bool {
        let edges: [UInt8] = [UInt8(ascii: " "), UInt8(ascii: "\t")]
        guard let first = text.utf8.first, let last = text.utf8.last else { return false }
        return edges.contains(first) || edges.contains(last)
    }
}
