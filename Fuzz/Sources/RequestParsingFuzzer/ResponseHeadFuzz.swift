import FastCGI

/// A response head carrying fuzzed header values (a handler echoing something a client sent)
/// is never split: CR and LF appear only as the line ends the head writes itself.
enum ResponseHeadFuzz {
    static func run(_ payload: ArraySlice<UInt8>) {
        let values = payload.split(separator: 0x00, maxSplits: 7, omittingEmptySubsequences: false)
            .map { String(decoding: $0, as: UTF8.self) }
        var response = Response(status: 200 + Int(payload.first ?? 0), contentType: "text/html", body: "x")
        for (index, value) in values.enumerated() {
            if index.isMultiple(of: 2) {
                response.addHeader("X-Fuzz-\(index)", value)
            } else {
                response.setHeader("Location", value)
            }
        }
        let lines = Array(response.head.utf8).split(separator: 0x0A, omittingEmptySubsequences: false)
        // Status, Content-Type, each X-Fuzz, at most one Location, Content-Length, then "" twice.
        let expected = 2 + (values.count + 1) / 2 + (values.count > 1 ? 1 : 0) + 1 + 2
        check(lines.count == expected, "head has \(lines.count) lines, expected \(expected): \(response.head.debugDescription)")
        for line in lines.dropLast() {
            check(line.last == 0x0D, "a head line does not end in CRLF: \(response.head.debugDescription)")
            check(!line.dropLast().contains(0x0D), "a stray CR inside a head line: \(response.head.debugDescription)")
        }
        check(
            response.header("location")
                == (values.count > 1 ? values[values.count - (values.count.isMultiple(of: 2) ? 1 : 2)] : nil),
            "setHeader did not replace Location")
    }
}
