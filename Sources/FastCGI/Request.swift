/// One request as the web server passed it over FastCGI.
///
/// Works with the parameters Caddy's fastcgi transport sends and with nginx's `fastcgi_params`:
/// the path comes from `REQUEST_URI` (or `DOCUMENT_URI`, `SCRIPT_NAME` + `PATH_INFO`).
public struct Request: Sendable {
    /// The raw FastCGI parameters (CGI/1.1 meta-variables).
    public let params: Parameters
    /// The request body, at most the responder's body limit.
    public let body: [UInt8]
    /// A short random id for logs and error pages.
    public let id: String
    /// True when the client announced or sent more than the body limit; `body` is then empty.
    public let bodyTooLarge: Bool
    /// True when a parameter (path, header, cookie) was not valid UTF-8.
    public let hasInvalidParameterEncoding: Bool

    public init(
        params: Parameters, body: [UInt8], id: String, bodyTooLarge: Bool = false, hasInvalidParameterEncoding: Bool = false
    ) {
        self.params = params
        self.body = body
        self.id = id
        self.bodyTooLarge = bodyTooLarge
        self.hasInvalidParameterEncoding = hasInvalidParameterEncoding
    }

    public init(params: [String: String], body: [UInt8], id: String) {
        self.init(params: Parameters(params), body: body, id: id)
    }

    public var method: String { params["REQUEST_METHOD"] ?? "GET" }

    /// The raw (still percent-encoded) path, without the query.
    public var rawPath: String {
        if let uri = params["REQUEST_URI"], !uri.isEmpty {
            // Bytes, not Characters: a "?" after a prepended mark (U+0600) is one grapheme with it.
            if let question = uri.utf8.firstIndex(of: UInt8(ascii: "?")) {
                return String(decoding: uri.utf8[..<question], as: UTF8.self)
            }
            return uri
        }
        if let documentURI = params["DOCUMENT_URI"], !documentURI.isEmpty { return documentURI }
        return (params["SCRIPT_NAME"] ?? "") + (params["PATH_INFO"] ?? "")
    }

    /// The decoded path. Throws for bad percent-encoding or invalid UTF-8.
    public func path() throws(RequestDecodingError) -> String {
        let raw = rawPath
        // Parameters are valid UTF-8 already (`Parameters.read`): with nothing to decode (and no
        // NUL, which decoding refuses), the raw path is the path.
        if !raw.isEmpty, !raw.utf8.contains(where: { $0 == UInt8(ascii: "%") || $0 == 0 }) { return raw }
        let path = try URLEncoding.percentDecode(Array(raw.utf8), plusIsSpace: false)
        return path.isEmpty ? "/" : path
    }

    public var queryString: String { params["QUERY_STRING"] ?? "" }

    public func query() throws(RequestDecodingError) -> FormFields {
        let query = queryString
        return query.isEmpty ? FormFields() : try FormFields(urlencoded: Array(query.utf8))
    }

    /// The urlencoded form in the body; empty for other content types.
    public func form() throws(RequestDecodingError) -> FormFields {
        let type = (params["CONTENT_TYPE"] ?? "").lowercased()
        guard type.hasPrefix("application/x-www-form-urlencoded") else { return FormFields() }
        return try FormFields(urlencoded: body)
    }

    public var cookies: [String: String] { Cookies.parse(params["HTTP_COOKIE"] ?? "") }

    /// The `Cookie:` header, if the client sent one (`Cookies.value(_:in:)` finds one cookie).
    public var cookieHeader: String? { params["HTTP_COOKIE"] }

    public var remoteAddress: String { params["REMOTE_ADDR"] ?? "unknown" }

    /// A request header by its HTTP name, e.g. `header("User-Agent")`.
    public func header(_ name: String) -> String? {
        params["HTTP_" + name.uppercased().replacingOccurrences(of: "-", with: "_")]
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: Character, with replacement: Character) -> String {
        String(map { $0 == target ? replacement : $0 })
    }
}
