// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "lynx-portal",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "lynx-portal", targets: ["lynx-portal"])
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // C libraries from Debian, found through pkg-config. Only FastCGI and PasswordHashing import them.
        .systemLibrary(name: "CFastCGI", pkgConfig: "fcgi", providers: [.apt(["libfcgi-dev"])]),
        .systemLibrary(name: "CArgon2", pkgConfig: "libargon2", providers: [.apt(["libargon2-dev"])]),

        /// The fatal-signal handler and per-worker request slots behind the crash record: C, because
        /// a signal handler may only call async-signal-safe functions and touch preallocated memory.
        .target(name: "CCrashRecord"),

        /// The version and commit stamped into the binary (scripts/stamp-build.sh writes them;
        /// "dev"/"unknown" without the stamp). Only the executable links it.
        .target(name: "CBuildInfo"),

        /// FastCGI responder on libfcgi: accept loop, worker threads, request and response types.
        .target(
            name: "FastCGI",
            dependencies: ["CFastCGI", "CCrashRecord", .product(name: "Logging", package: "swift-log")]
        ),
        /// Argon2id password hashing with a pepper, PHC strings.
        .target(name: "PasswordHashing", dependencies: ["CArgon2"]),
        /// The portal's pure rules: SM-2, study days, passwords, quiz formats. No I/O.
        .target(name: "PortalDomain"),
        /// SQLite through GRDB: migrations, queries, snapshots.
        .target(
            name: "PortalStore",
            dependencies: [
                "PortalDomain", "PasswordHashing",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        /// Routes, handlers, sessions, CSRF, throttling, templates, audit log.
        .target(
            name: "PortalWeb",
            dependencies: [
                "FastCGI", "PasswordHashing", "PortalDomain", "PortalStore",
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "lynx-portal",
            dependencies: [
                "CBuildInfo", "FastCGI", "PortalWeb", "PortalStore", "PortalDomain", "PasswordHashing",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "FastCGITests", dependencies: ["FastCGI"]),
        .testTarget(name: "PasswordHashingTests", dependencies: ["PasswordHashing"]),
        .testTarget(name: "PortalDomainTests", dependencies: ["PortalDomain"]),
        .testTarget(name: "PortalStoreTests", dependencies: ["PortalStore", "PortalDomain"]),
        .testTarget(
            name: "PortalWebTests",
            dependencies: [
                "PortalWeb", "PortalStore", "PasswordHashing", .product(name: "Mustache", package: "swift-mustache"),
            ]),
    ]
)
