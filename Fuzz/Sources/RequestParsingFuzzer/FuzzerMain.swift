internal import CLibFuzzer

/// The process entry point. SwiftPM links an executable target with `main` aliased to
/// `RequestParsingFuzzer_main` (so tests can import it), which keeps libFuzzer's own `main` out
/// of the link; this starts libFuzzer's driver with the same arguments instead.
@_cdecl("RequestParsingFuzzer_main")
public func fuzzerMain(
    _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzOneInput(data, size) }
}
