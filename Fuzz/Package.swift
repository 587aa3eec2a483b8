// swift-tools-version:6.0
// The libFuzzer target over the FastCGI request-parsing layer. Kept out of the root package so
// the fuzz entry point is never part of the normal build or the product: scripts/fuzz.sh builds
// it with `-sanitize=fuzzer,address` into .build-fuzz.
//
// `Sources/FastCGI` and `Sources/CFastCGI` are symlinks to the root package's folders, so the
// fuzzer compiles exactly the sources the portal ships, with coverage instrumentation. (A path
// dependency on the root package would need it to export FastCGI as a library product.)
import PackageDescription

let package = Package(
    name: "lynx-portal-fuzz",
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2")
    ],
    targets: [
        .systemLibrary(name: "CFastCGI", pkgConfig: "fcgi", providers: [.apt(["libfcgi-dev"])]),
        /// The declaration of libFuzzer's `LLVMFuzzerRunDriver`; no library to link of its own.
        .systemLibrary(name: "CLibFuzzer"),
        .target(
            name: "FastCGI",
            dependencies: ["CFastCGI", .product(name: "Logging", package: "swift-log")]
        ),
        /// `LLVMFuzzerTestOneInput` over percent-decoding, urlencoded fields, cookies, `Request`
        /// and the response head. `-parse-as-library`: the entry point is `RequestParsingFuzzer_main`,
        /// which hands over to libFuzzer's driver.
        .executableTarget(
            name: "RequestParsingFuzzer",
            dependencies: ["CLibFuzzer", "FastCGI"],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
    ]
)
