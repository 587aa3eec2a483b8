/// libFuzzer's entry point. The first byte picks the parser, the rest is its input, so one
/// corpus exercises every parser; a selector is chosen from its low nibble so that hand-written
/// seeds can start with a digit ('0' percent-decoding, '1' urlencoded fields, '2' cookies,
/// '3' a whole request, '4' a response head).
///
/// Any broken invariant calls `violated(_:)`, which traps: libFuzzer then reports a deadly
/// signal and writes the input to a `crash-…` file.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let payload = bytes[1...]
    switch Int(bytes[0] & 0x0F) % 5 {
    case 0: PercentDecodingFuzz.run(payload)
    case 1: FormFieldsFuzz.run(payload)
    case 2: CookiesFuzz.run(payload)
    case 3: RequestFuzz.run(payload)
    default: ResponseHeadFuzz.run(payload)
    }
    return 0
}

/// Stops the run with a message naming the invariant; libFuzzer keeps the input that did it.
func violated(_ invariant: String, file: StaticString = #fileID, line: UInt = #line) -> Never {
    fatalError("fuzz invariant violated: \(invariant)", file: file, line: line)
}

func check(_ condition: Bool, _ invariant: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line) {
    if !condition { violated(invariant(), file: file, line: line) }
}
