internal import CLibFuzzer
import Foundation

/// The process entry point (see RequestParsingFuzzer's). With `LYNX_FUZZ_WRITE_SEEDS=DIR` it
/// writes one seed input per route and method of the routing table into DIR and exits, so the
/// seeds follow the table: a new route is fuzzed from its first run.
@_cdecl("PortalFuzzer_main")
public func fuzzerMain(
    _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
    if let directory = ProcessInfo.processInfo.environment["LYNX_FUZZ_WRITE_SEEDS"], !directory.isEmpty {
        do {
            let count = try RouteSeeds.write(into: directory)
            print("PortalFuzzer: wrote \(count) seeds from the routing table into \(directory)")
            return 0
        } catch {
            print("PortalFuzzer: writing seeds into \(directory) failed: \(error)")
            return 1
        }
    }
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzOneInput(data, size) }
}

/// libFuzzer's entry point: one fuzzed request through `Portal.handle`.
///
/// The portal must answer every request without trapping, and never with a 500: each input
/// is a request a client could send, and a 500 means a handler failed on it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let fixture = FuzzPortal.shared
    let request = FuzzedRequest(bytes, session: fixture.currentSession())
    let response = fixture.portal.handle(request.request)
    if response.status >= 500 && response.status != 503 {
        fatalError("fuzz invariant violated: \(response.status) for \(request)")
    }
    return 0
}
