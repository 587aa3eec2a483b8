// swift-tools-version:6.0
// The libFuzzer targets: one over the FastCGI request-parsing layer, one over the whole portal
// (router and every handler). Kept out of the root package so the fuzz entry points are never
// part of the normal build or the product: scripts/fuzz.sh builds them with
// `-sanitize=fuzzer,address` into .build-fuzz.
//
// `Sources/FastCGI`, `Sources/PortalWeb` and the other library folders are symlinks to the root
// package's folders, so the fuzzers compile exactly the sources the portal ships, with coverage
// instrumentation. (A path dependency on the root package would need it to export them as
// library products.)
import PackageDescription

let package = Package(
    name: "lynx-portal-fuzz",
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        .systemLibrary(name: "CFastCGI", pkgConfig: "fcgi", providers: [.apt(["libfcgi-dev"])]),
        .systemLibrary(name: "CArgon2", pkgConfig: "libargon2", providers: [.apt(["libargon2-dev"])]),
        /// The declaration of libFuzzer's `LLVMFuzzerRunDriver`; no library to link of its own.
        .systemLibrary(name: "CLibFuzzer"),
        .target(name: "CCrashRecord"),
        .target(
            name: "FastCGI",
            dependencies: ["CFastCGI", "CCrashRecord", .product(name: "Logging", package: "swift-log")]
        ),
        .target(name: "PasswordHashing", dependencies: ["CArgon2"]),
        .target(name: "PortalDomain"),
        .target(
            name: "PortalStore",
            dependencies: [
                "PortalDomain", "PasswordHashing",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "PortalWeb",
            dependencies: [
                "FastCGI", "PasswordHashing", "PortalDomain", "PortalStore",
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        /// `LLVMFuzzerTestOneInput` over percent-decoding, urlencoded fields, cookies, `Request`
        /// and the response head. `-parse-as-library`: the entry point is `RequestParsingFuzzer_main`,
        /// which hands over to libFuzzer's driver.
        .executableTarget(
            name: "RequestParsingFuzzer",
            dependencies: ["CLibFuzzer", "FastCGI"],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
        /// `LLVMFuzzerTestOneInput` over `Portal.handle`: a fuzzed method, path, query, form and
        /// cookie against a portal on a temporary database with a signed-in learner.
        .executableTarget(
            name: "PortalFuzzer",
            dependencies: [
                "CLibFuzzer", "FastCGI", "PortalWeb", "PortalStore", "PortalDomain",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
    ]
)
