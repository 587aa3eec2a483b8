import Testing

@testable import FastCGI

@Suite("Percent-decoding")
struct PercentDecodingTests {
    @Test(
        "well-formed escapes decode",
        arguments: [
            ("abc", "abc"),
            ("a%20b", "a b"),
            ("%41%42%43", "ABC"),
            ("%e2%82%ac", "€"),
            ("%E2%82%AC", "€"),
            ("%2B", "+"),
            ("%25", "%"),
            ("caf%C3%A9", "café"),
            ("", ""),
        ])
    func wellFormedEscapesDecode(encoded: String, decoded: String) throws {
        #expect(try URLEncoding.percentDecode(Array(encoded.utf8), plusIsSpace: false) == decoded)
    }

    @Test(
        "a percent sign without two hex digits is rejected", arguments: ["%", "%4", "%zz", "%g0", "%0g", "abc%", "a%2", "%%41"])
    func badPercentEncodingIsRejected(encoded: String) {
        #expect(throws: RequestDecodingError.badPercentEncoding) {
            try URLEncoding.percentDecode(Array(encoded.utf8), plusIsSpace: true)
        }
    }

    @Test(
        "bytes that are not UTF-8 once decoded are rejected", arguments: ["%ff", "%c3%28", "%80", "%e2%82", "%ed%a0%80", "ok%fe"])
    func invalidUTF8AfterDecodingIsRejected(encoded: String) {
        #expect(throws: RequestDecodingError.invalidUTF8) {
            try URLEncoding.percentDecode(Array(encoded.utf8), plusIsSpace: false)
        }
    }

    @Test func plusIsASpaceOnlyWhenAsked() throws {
        #expect(try URLEncoding.percentDecode(Array("a+b".utf8), plusIsSpace: true) == "a b")
        #expect(try URLEncoding.percentDecode(Array("a+b".utf8), plusIsSpace: false) == "a+b")
        #expect(try URLEncoding.percentDecode(Array("a%2Bb".utf8), plusIsSpace: true) == "a+b")
    }

    @Test func encodedNULIsRefused() throws {
        // SQLite's C string binding would cut text at a NUL, silently losing the rest.
        #expect(throws: RequestDecodingError.nulCharacter) {
            try URLEncoding.percentDecode(Array("a%00b".utf8), plusIsSpace: false)
        }
    }

    @Test func slicesWithAnOffsetStartIndexDecode() throws {
        let bytes = Array("xx%41%42".utf8)
        #expect(try URLEncoding.percentDecode(bytes[2...], plusIsSpace: false) == "AB")
    }

    @Test func encodingThenDecodingGivesBackTheText() throws {
        let text = "Grüße & 50% off = +1/2 ✓"
        let encoded = URLEncoding.encode(text)
        #expect(encoded.utf8.allSatisfy { $0 < 0x80 && $0 != UInt8(ascii: "&") && $0 != UInt8(ascii: "+") })
        #expect(try URLEncoding.percentDecode(Array(encoded.utf8), plusIsSpace: true) == text)
    }
}

@Suite("Urlencoded fields")
struct FormFieldsTests {
    private func fields(_ text: String) throws(RequestDecodingError) -> FormFields {
        try FormFields(urlencoded: Array(text.utf8))
    }

    private func pairs(_ form: FormFields) -> [String] {
        form.pairs.map { "\($0.name)=\($0.value)" }
    }

    @Test func fieldsKeepTheirOrder() throws {
        let form = try fields("b=2&a=1&c=3")
        #expect(pairs(form) == ["b=2", "a=1", "c=3"])
        #expect(form["a"] == "1")
        #expect(form["missing"] == nil)
    }

    @Test(
        "empty segments are skipped",
        arguments: [
            ("a=1&&b=2", ["a=1", "b=2"]),
            ("&a=1&", ["a=1"]),
            ("&&&", []),
            ("", []),
        ])
    func emptySegmentsAreSkipped(text: String, expected: [String]) throws {
        #expect(pairs(try fields(text)) == expected)
    }

    @Test func aFieldWithoutEqualsHasAnEmptyValue() throws {
        let form = try fields("remember&a=1")
        #expect(form["remember"] == "")
        #expect(form["a"] == "1")
    }

    @Test func onlyTheFirstEqualsSeparatesNameFromValue() throws {
        #expect(try fields("expr=1=2")["expr"] == "1=2")
        #expect(try fields("empty=")["empty"] == "")
    }

    @Test func duplicateNamesAreAllKeptInOrder() throws {
        let form = try fields("tag=x&other=1&tag=y&tag=z")
        #expect(form["tag"] == "x")
        #expect(form.all("tag") == ["x", "y", "z"])
        #expect(form.all("none").isEmpty)
    }

    @Test func plusIsASpaceInNamesAndValues() throws {
        let form = try fields("full+name=Ada+Lovelace&sum=1%2B1")
        #expect(form["full name"] == "Ada Lovelace")
        #expect(form["sum"] == "1+1")
    }

    @Test func encodedNULInAValueRejectsTheForm() throws {
        #expect(throws: RequestDecodingError.nulCharacter) { try fields("note=a%00b") }
    }

    @Test(
        "a malformed name or value rejects the whole form",
        arguments: [
            ("a=%zz", RequestDecodingError.badPercentEncoding),
            ("%=1", .badPercentEncoding),
            ("a=1&b=%4", .badPercentEncoding),
            ("a=%ff", .invalidUTF8),
            ("%c3%28=1", .invalidUTF8),
        ])
    func malformedFieldRejectsTheForm(text: String, error: RequestDecodingError) {
        #expect(throws: error) { try fields(text) }
    }

    @Test func theMaximumNumberOfFieldsIsAccepted() throws {
        let text = (0..<URLEncoding.maximumFieldCount).map { "f\($0)=\($0)" }.joined(separator: "&")
        let form = try fields(text + "&&&")
        #expect(form.pairs.count == URLEncoding.maximumFieldCount)
        #expect(form["f999"] == "999")
    }

    @Test func oneFieldMoreThanTheMaximumIsRejected() {
        let text = (0...URLEncoding.maximumFieldCount).map { "f\($0)=\($0)" }.joined(separator: "&")
        #expect(throws: RequestDecodingError.tooManyFields) { try fields(text) }
    }

    @Test func manyEmptyFieldsStillCountTowardsTheLimit() {
        let text = String(repeating: "x&", count: URLEncoding.maximumFieldCount + 1)
        #expect(throws: RequestDecodingError.tooManyFields) { try fields(text) }
    }
}

@Suite("Cookie header")
struct CookieParsingTests {
    @Test func pairsSeparatedBySemicolonsAreParsed() {
        #expect(Cookies.parse("lynx_session=abc; lynx_form=def") == ["lynx_session": "abc", "lynx_form": "def"])
    }

    @Test(
        "odd cookies are tolerated",
        arguments: [
            ("a=\"quoted\"", ["a": "quoted"]),
            ("a=\"\"", ["a": ""]),
            ("a=\"", ["a": "\""]),
            ("  a = 1 ;\tb=2\t", ["a": "1", "b": "2"]),
            ("flag; a=1", ["a": "1"]),
            ("=orphan; a=1", ["a": "1"]),
            ("a=b=c", ["a": "b=c"]),
            ("a=", ["a": ""]),
            (";;;", [:]),
            ("", [:]),
        ])
    func oddCookiesAreTolerated(header: String, expected: [String: String]) {
        #expect(Cookies.parse(header) == expected)
        for name in Array(expected.keys) + ["missing", "b=", " a"] {
            #expect(Cookies.value(name, in: header) == expected[name], "\(name)")
        }
    }

    @Test func aSeparatorAfterAPrependedMarkStillSplitsCookies() {
        // U+0600 joins the following ";" into one Character; found by the fuzzer.
        #expect(Cookies.parse("theme=x\u{600}; lynx_session=abc") == ["theme": "x\u{600}", "lynx_session": "abc"])
    }

    @Test func theFirstOfTwoCookiesWithTheSameNameWins() {
        #expect(Cookies.parse("lynx_session=first; other=1; lynx_session=second")["lynx_session"] == "first")
        #expect(Cookies.value("lynx_session", in: "lynx_session=first; other=1; lynx_session=second") == "first")
        #expect(Cookies.value("lynx_session", in: "lynx_session_old=x; lynx_sessio=y; lynx_session=z") == "z")
    }
}

@Suite("Request")
struct RequestTests {
    private func request(_ params: [String: String], body: String = "") -> Request {
        Request(params: params, body: Array(body.utf8), id: "test")
    }

    @Test(
        "the path comes from whichever parameters the web server sends",
        arguments: [
            (["REQUEST_URI": "/quiz/intro"], "/quiz/intro"),
            (["REQUEST_URI": "/quiz/intro?page=2&x=y"], "/quiz/intro"),
            (["REQUEST_URI": "/review?"], "/review"),
            (["REQUEST_URI": "/?next=/review"], "/"),
            (["REQUEST_URI": "", "DOCUMENT_URI": "/journal"], "/journal"),
            (["DOCUMENT_URI": "/journal", "SCRIPT_NAME": "/ignored"], "/journal"),
            (["SCRIPT_NAME": "/journal", "PATH_INFO": ""], "/journal"),
            (["SCRIPT_NAME": "", "PATH_INFO": "/journal/3"], "/journal/3"),
            (["SCRIPT_NAME": "/portal", "PATH_INFO": "/quiz/intro"], "/portal/quiz/intro"),
            (["REQUEST_URI": "/quiz/caf%C3%A9"], "/quiz/café"),
            (["REQUEST_URI": "/a+b"], "/a+b"),
            ([:], "/"),
        ])
    func pathComesFromTheServerParameters(params: [String: String], expected: String) throws {
        #expect(try request(params).path() == expected)
    }

    @Test func rawPathStaysEncodedAndDropsTheQuery() {
        #expect(request(["REQUEST_URI": "/quiz/caf%C3%A9?x=%41"]).rawPath == "/quiz/caf%C3%A9")
    }

    @Test(
        "a badly encoded path is rejected",
        arguments: [
            ("/quiz/%", RequestDecodingError.badPercentEncoding),
            ("/quiz/%zz", .badPercentEncoding),
            ("/quiz/%ff", .invalidUTF8),
            ("/quiz/%c3%28", .invalidUTF8),
        ])
    func badlyEncodedPathIsRejected(uri: String, error: RequestDecodingError) {
        #expect(throws: error) { try request(["REQUEST_URI": uri]).path() }
    }

    @Test func encodedNULInThePathIsRefused() throws {
        #expect(throws: RequestDecodingError.nulCharacter) { try request(["REQUEST_URI": "/quiz/a%00b"]).path() }
        #expect(throws: RequestDecodingError.nulCharacter) { try request(["REQUEST_URI": "/quiz/a\u{0}b"]).path() }
    }

    @Test(
        "a path with nothing to decode is the raw path",
        arguments: [("/quiz/intro", "/quiz/intro"), ("/quiz/caf\u{e9}", "/quiz/caf\u{e9}"), ("", "/"), ("/a+b", "/a+b")])
    func aPathWithNothingToDecodeIsTheRawPath(uri: String, path: String) throws {
        #expect(try request(["REQUEST_URI": uri]).path() == path)
    }

    @Test func aQuestionMarkAfterAPrependedMarkStillEndsThePath() {
        #expect(request(["REQUEST_URI": "/quiz/x\u{600}?page=2"]).rawPath == "/quiz/x\u{600}")
    }

    @Test func queryIsParsedFromQueryString() throws {
        let query = try request(["REQUEST_URI": "/review?page=2", "QUERY_STRING": "page=2&sort=due+date"]).query()
        #expect(query["page"] == "2")
        #expect(query["sort"] == "due date")
        #expect(try request([:]).query().pairs.isEmpty)
    }

    @Test func badlyEncodedQueryIsRejected() {
        #expect(throws: RequestDecodingError.badPercentEncoding) { try request(["QUERY_STRING": "a=%zz"]).query() }
    }

    @Test(
        "the form is read from urlencoded bodies",
        arguments: [
            "application/x-www-form-urlencoded",
            "application/x-www-form-urlencoded; charset=UTF-8",
            "Application/X-WWW-Form-Urlencoded;charset=utf-8",
        ])
    func formIsReadFromUrlencodedBodies(contentType: String) throws {
        let form = try request(["REQUEST_METHOD": "POST", "CONTENT_TYPE": contentType], body: "username=ada&csrf=t0k").form()
        #expect(form["username"] == "ada")
        #expect(form["csrf"] == "t0k")
    }

    @Test(
        "other bodies give an empty form", arguments: ["multipart/form-data; boundary=x", "text/plain", "application/json", ""])
    func otherBodiesGiveAnEmptyForm(contentType: String) throws {
        let form = try request(["REQUEST_METHOD": "POST", "CONTENT_TYPE": contentType], body: "username=ada").form()
        #expect(form.pairs.isEmpty)
    }

    @Test func aBodyWithoutContentTypeGivesAnEmptyForm() throws {
        #expect(try request(["REQUEST_METHOD": "POST"], body: "username=ada").form().pairs.isEmpty)
    }

    @Test func badlyEncodedFormIsRejected() {
        let post = request(["CONTENT_TYPE": "application/x-www-form-urlencoded"], body: "password=%ff")
        #expect(throws: RequestDecodingError.invalidUTF8) { try post.form() }
    }

    @Test func headersAreLookedUpByTheirHTTPName() {
        let incoming = request([
            "HTTP_USER_AGENT": "Browser/1.0", "HTTP_X_REQUEST_ID": "abc", "HTTP_X_EMPTY": "",
        ])
        #expect(incoming.header("User-Agent") == "Browser/1.0")
        #expect(incoming.header("user-agent") == "Browser/1.0")
        #expect(incoming.header("X-Request-Id") == "abc")
        #expect(incoming.header("X-Empty") == "")
        #expect(incoming.header("Accept") == nil)
    }

    @Test func cookiesComeFromTheCookieHeader() {
        #expect(request(["HTTP_COOKIE": "a=1; b=2"]).cookies == ["a": "1", "b": "2"])
        #expect(request([:]).cookies.isEmpty)
    }

    @Test func methodAndAddressHaveDefaults() {
        #expect(request([:]).method == "GET")
        #expect(request([:]).remoteAddress == "unknown")
        #expect(request(["REQUEST_METHOD": "POST", "REMOTE_ADDR": "192.0.2.7"]).method == "POST")
        #expect(request(["REMOTE_ADDR": "192.0.2.7"]).remoteAddress == "192.0.2.7")
    }
}

@Suite("Response head")
struct ResponseHeadTests {
    @Test func headHasStatusLineHeadersAndContentLength() {
        let response = Response(status: 200, contentType: "text/html; charset=utf-8", body: "héllo")
        #expect(response.head == "Status: 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 6\r\n\r\n")
    }

    @Test(
        "status lines carry the reason phrase",
        arguments: [
            (303, "Status: 303 See Other\r\n"),
            (400, "Status: 400 Bad Request\r\n"),
            (404, "Status: 404 Not Found\r\n"),
            (405, "Status: 405 Method Not Allowed\r\n"),
            (413, "Status: 413 Content Too Large\r\n"),
            (429, "Status: 429 Too Many Requests\r\n"),
            (503, "Status: 503 Service Unavailable\r\n"),
            (418, "Status: 418 Status 418\r\n"),
        ])
    func statusLinesCarryTheReasonPhrase(status: Int, line: String) {
        #expect(Response(status: status).head.hasPrefix(line))
    }

    @Test func emptyBodyHasContentLengthZero() {
        #expect(Response(status: 204).head == "Status: 204 No Content\r\nContent-Length: 0\r\n\r\n")
    }

    @Test(arguments: [1, 9, 10, 99, 100, 65_536, 1_234_567])
    func contentLengthIsTheBodySizeInDecimal(size: Int) {
        let head = Response(status: 200, body: [UInt8](repeating: 0x61, count: size)).head
        #expect(head.hasSuffix("Content-Length: \(size)\r\n\r\n"))
    }

    @Test(
        "carriage returns and line feeds are stripped from header values",
        arguments: [
            "/next\nSet-Cookie: stolen=1", "/next\rSet-Cookie: stolen=1", "/next\r\nSet-Cookie: stolen=1",
            "/next\n\rSet-Cookie: stolen=1",
        ])
    func carriageReturnsAndLineFeedsAreStrippedFromHeaderValues(value: String) {
        var response = Response(status: 303)
        response.setHeader("Location", value)
        let head = response.head
        #expect(head == "Status: 303 See Other\r\nLocation: /nextSet-Cookie: stolen=1\r\nContent-Length: 0\r\n\r\n")
        let lines = head.utf8.split(separator: UInt8(ascii: "\n")).map { String(decoding: $0, as: UTF8.self) }
        #expect(!lines.contains { $0.hasPrefix("Set-Cookie") }, "the value split the head into a new header line")
    }

    @Test func fixedHeadersFollowTheOthersWithLineBreaksStripped() {
        var response = Response(status: 200, headers: [("Content-Type", "text/plain")], body: Array("ok".utf8))
        response.fixedHeaders = HeaderBlock([("X-Frame-Options", "DENY"), ("X-Evil", "a\r\nSet-Cookie: b=1")])
        response.addHeader("X-Request-Id", "abc")
        #expect(
            response.head
                == "Status: 200 OK\r\nContent-Type: text/plain\r\nX-Request-Id: abc\r\nX-Frame-Options: DENY\r\n"
                + "X-Evil: aSet-Cookie: b=1\r\nContent-Length: 2\r\n\r\n")
        #expect(response.header("x-frame-options") == "DENY")
        #expect(response.header("Content-Type") == "text/plain")
    }

    @Test func removeHeadersDropsEveryNamedHeaderInAnyCase() {
        var response = Response(
            status: 200, headers: [("x-frame-options", "SAMEORIGIN"), ("Location", "/"), ("X-Request-Id", "1")])
        response.removeHeaders(named: ["X-Frame-Options", "X-Request-Id"])
        #expect(response.headers.map(\.name) == ["Location"])
    }

    @Test func setHeaderReplacesRegardlessOfCaseAndAddHeaderAppends() {
        var response = Response(status: 200, headers: [("content-type", "text/plain")])
        response.setHeader("Content-Type", "text/html")
        response.addHeader("Set-Cookie", "a=1")
        response.addHeader("Set-Cookie", "b=2")
        #expect(response.header("CONTENT-TYPE") == "text/html")
        #expect(response.headers.filter { $0.name == "Set-Cookie" }.map(\.value) == ["a=1", "b=2"])
        #expect(response.headers.count == 3)
    }
}

@Suite("Parameters")
struct ParametersTests {
    /// `Parameters.read` over a C array of "NAME=value" strings, as libfcgi hands them over.
    private func read(_ entries: [[UInt8]]) -> (Parameters, invalidEncoding: Bool) {
        let strings = entries.map { bytes -> UnsafeMutablePointer<CChar>? in
            let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
            for (index, byte) in bytes.enumerated() { pointer[index] = CChar(bitPattern: byte) }
            pointer[bytes.count] = 0
            return pointer
        }
        defer { strings.forEach { $0?.deallocate() } }
        var envp = strings + [nil]
        return envp.withUnsafeMutableBufferPointer { Parameters.read($0.baseAddress) }
    }

    @Test func valuesAreFoundByExactName() {
        let (parameters, invalid) = read([
            Array("REQUEST_METHOD=GET".utf8), Array("REQUEST_URI=/quiz/x?a=b=c".utf8), Array("EMPTY=".utf8),
            Array("NO_EQUALS_SIGN".utf8), Array("HTTP_X=1".utf8), Array("HTTP_X=2".utf8),
        ])
        #expect(!invalid)
        #expect(parameters["REQUEST_METHOD"] == "GET")
        #expect(parameters["REQUEST_URI"] == "/quiz/x?a=b=c")
        #expect(parameters["EMPTY"] == "")
        #expect(parameters["NO_EQUALS_SIGN"] == nil)
        #expect(parameters["request_method"] == nil)
        #expect(parameters["REQUEST"] == nil)
        #expect(parameters["HTTP_X"] == "2", "the last of a repeated name wins")
        #expect(parameters.all == ["REQUEST_METHOD": "GET", "REQUEST_URI": "/quiz/x?a=b=c", "EMPTY": "", "HTTP_X": "2"])
    }

    @Test func invalidUTF8IsFlaggedAndRepaired() {
        let (parameters, invalid) = read([Array("HTTP_COOKIE=a=".utf8) + [0xFF, 0x41], Array("OK=café".utf8)])
        #expect(invalid)
        #expect(parameters["HTTP_COOKIE"] == "a=\u{FFFD}A")
        #expect(parameters["OK"] == "café")
        #expect(!read([Array("OK=café ☃".utf8)]).invalidEncoding, "valid UTF-8 beyond ASCII is not flagged")
        #expect(read([[0xC3, 0x28] + Array("=x".utf8)]).invalidEncoding, "a bad name counts too")
    }
}

@Suite("ASCII check")
struct ASCIICheckTests {
    @Test func aNonASCIIByteAnywhereIsFound() {
        for length in 0...20 {
            let ascii = [UInt8](repeating: UInt8(ascii: "a"), count: length)
            #expect(ascii.withUnsafeBytes(ASCII.check))
            for position in 0..<length {
                var bytes = ascii
                bytes[position] = 0x80
                #expect(!bytes.withUnsafeBytes(ASCII.check), "length \(length), byte \(position)")
            }
        }
    }
}

@Suite("Request ids")
struct RequestIDTests {
    @Test func idsAreTwelveHexDigitsAndDistinct() {
        var ids = RequestIDs()
        let made = (0..<10_000).map { _ in ids.next() }
        #expect(made.allSatisfy { $0.utf8.count == 12 && $0.utf8.allSatisfy { Array("0123456789abcdef".utf8).contains($0) } })
        #expect(Set(made).count == made.count)
    }

    @Test func aSeedGivesItsSequenceAndWorkersSeedApart() {
        // SplitMix64's first output for seed 0 is 0xe220a8397b1dcdaf; an id is its low 48 bits.
        var seeded = RequestIDs(seed: 0)
        #expect(seeded.next() == "a8397b1dcdaf")
        var first = RequestIDs()
        var second = RequestIDs()
        #expect(first.next() != second.next())
    }
}
