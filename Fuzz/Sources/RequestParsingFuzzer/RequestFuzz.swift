import FastCGI

/// A `Request` built from fuzzed FastCGI parameters and body: every accessor either works or
/// throws a `RequestDecodingError`, and agrees with the parsers it is built on.
///
/// Input: `NAME=VALUE` lines, a blank line, then the body (as a CGI request would look written
/// out). Each parameter is cut at its first NUL and decoded leniently, as `Responder` does with
/// libfcgi's C strings.
enum RequestFuzz {
    static func run(_ payload: ArraySlice<UInt8>) {
        let (params, body) = split(payload)
        let request = Request(params: params, body: body, id: "fuzz")

        check(!request.method.isEmpty || params["REQUEST_METHOD"] == "", "empty method without REQUEST_METHOD")
        let rawPath = request.rawPath
        if let uri = params["REQUEST_URI"], !uri.isEmpty {
            // Bytes: a `?` right after U+0600 is one Character with it, and must still end the path.
            check(!rawPath.utf8.contains(UInt8(ascii: "?")), "rawPath \(rawPath.debugDescription) keeps the query")
            check(uri.hasPrefix(rawPath), "rawPath \(rawPath.debugDescription) is not a prefix of REQUEST_URI")
        }
        let path = Result { () throws(RequestDecodingError) in try request.path() }
        let decodedRawPath = ReferenceDecoder.percentDecode(Array(rawPath.utf8), plusIsSpace: false)
        check(path == decodedRawPath.map { $0.isEmpty ? "/" : $0 }, "path() = \(path) for rawPath \(rawPath.debugDescription)")

        let query = Result { () throws(RequestDecodingError) in try request.query() }.map(FormFieldsFuzz.fields)
        check(query == ReferenceDecoder.parseFields(Array(request.queryString.utf8)), "query() disagrees with the reference")
        if case .success(let pairs) = query {
            check(pairs.count <= URLEncoding.maximumFieldCount, "query() returned \(pairs.count) fields")
        }

        let form = Result { () throws(RequestDecodingError) in try request.form() }.map(FormFieldsFuzz.fields)
        let contentType = (params["CONTENT_TYPE"] ?? "").lowercased()
        if contentType.hasPrefix("application/x-www-form-urlencoded") {
            check(form == ReferenceDecoder.parseFields(body), "form() disagrees with the reference")
        } else {
            check(form == .success([]), "form() of a \(contentType.debugDescription) body is not empty")
        }

        check(request.cookies == Cookies.parse(params["HTTP_COOKIE"] ?? ""), "cookies differ from Cookies.parse")
        _ = request.remoteAddress
        for (key, value) in params where key.hasPrefix("HTTP_") && key.utf8.count > 5 && isHeaderKey(key) {
            let name = String(key.dropFirst(5)).lowercased().split(separator: "_", omittingEmptySubsequences: false)
                .joined(separator: "-")
            check(request.header(name) == value, "header(\(name.debugDescription)) does not find \(key)")
        }
        _ = request.header(String(decoding: payload.prefix(16), as: UTF8.self))
    }

    /// `HTTP_` plus upper-case letters, digits and `_` only: the names that `header(_:)` maps to
    /// one-to-one (a `-` in the key would map back to `_`).
    private static func isHeaderKey(_ key: String) -> Bool {
        key.utf8.allSatisfy { (0x41...0x5A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F }
    }

    private static func split(_ payload: ArraySlice<UInt8>) -> ([String: String], [UInt8]) {
        var params: [String: String] = [:]
        var rest = payload
        while !rest.isEmpty {
            let end = rest.firstIndex(of: 0x0A) ?? rest.endIndex
            let line = rest[rest.startIndex..<end]
            rest = end == rest.endIndex ? [] : rest[(end + 1)...]
            if line.isEmpty { break }
            let cString = line.prefix { $0 != 0 }
            let pair = String(decoding: cString, as: UTF8.self)
            if let equals = pair.firstIndex(of: "=") {
                params[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
            }
        }
        return (params, Array(rest))
    }
}
