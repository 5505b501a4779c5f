// swift-tools-version: 6.2
// Vishwarupa: a personal, decentralized, erasure-coded and encrypted storage system.
// Module map and dependency direction: docs/architecture.md §2 (each C library has exactly one Swift importer).
import PackageDescription

// Our own targets treat every warning as an error (dependencies are built with warnings suppressed).
let strict: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny"), .treatAllWarnings(as: .error)]
let testSettings: [SwiftSetting] = [.treatAllWarnings(as: .error)]

let package = Package(
    name: "Vishwarupa",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "vishwa", targets: ["vishwa"]),
        .executable(name: "vishwa-shard", targets: ["vishwa-shard"]),
        .executable(name: "vishwafs", targets: ["vishwafs"]),
        .library(name: "VishwaCodec", targets: ["VishwaCodec"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        // System libraries: a module map and a tiny shim header each, nothing else.
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium",
                       providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto",
                       providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CISAL", pkgConfig: "libisal",
                       providers: [.apt(["libisal-dev"])]),
        .systemLibrary(name: "CFuse3", pkgConfig: "fuse3",
                       providers: [.apt(["libfuse3-dev"])]),

        .target(name: "VishwaCore", swiftSettings: strict),
        .target(name: "VishwaCrypto", dependencies: ["CSodium", "COpenSSL", "VishwaCore"], swiftSettings: strict),
        .target(name: "VishwaErasure", dependencies: ["CISAL"], swiftSettings: strict),
        .target(name: "VishwaCodec", dependencies: ["VishwaCore", "VishwaCrypto", "VishwaErasure"],
                swiftSettings: strict),
        .target(name: "VishwaVault", dependencies: ["VishwaCore", "VishwaCrypto"], swiftSettings: strict),
        .target(name: "VishwaShardStore",
                dependencies: ["VishwaCore", "VishwaErasure", .product(name: "Logging", package: "swift-log")],
                swiftSettings: strict),
        .target(name: "VishwaWire",
                dependencies: ["VishwaCore", .product(name: "NIOCore", package: "swift-nio")],
                swiftSettings: strict),
        .target(name: "VishwaTransport",
                dependencies: ["VishwaCore", "VishwaCrypto", "VishwaWire",
                               .product(name: "NIOCore", package: "swift-nio"),
                               .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                               .product(name: "NIOPosix", package: "swift-nio"),
                               .product(name: "Logging", package: "swift-log")],
                swiftSettings: strict),
        .target(name: "VishwaShardHost",
                dependencies: ["VishwaCore", "VishwaCrypto", "VishwaShardStore", "VishwaWire",
                               "VishwaTransport",
                               .product(name: "NIOCore", package: "swift-nio"),
                               .product(name: "NIOPosix", package: "swift-nio"),
                               .product(name: "Logging", package: "swift-log")],
                swiftSettings: strict),
        .target(name: "VishwaCatalog",
                dependencies: [.product(name: "GRDB", package: "GRDB.swift")],
                swiftSettings: strict),
        .target(name: "VishwaClient",
                dependencies: ["VishwaCore", "VishwaCrypto", "VishwaCodec", "VishwaVault", "VishwaCatalog",
                               "VishwaWire", "VishwaTransport",
                               .product(name: "NIOCore", package: "swift-nio"),
                               .product(name: "NIOPosix", package: "swift-nio"),
                               .product(name: "Logging", package: "swift-log")],
                swiftSettings: strict),
        // Filesystem logic for the mount, testable without FUSE.
        .target(name: "VishwaFS",
                dependencies: ["VishwaCore", "VishwaCrypto", "VishwaCatalog", "VishwaClient", "VishwaTransport",
                               .product(name: "Logging", package: "swift-log")],
                swiftSettings: strict),
        // The thin libfuse3 bridge (the only importer of CFuse3).
        .target(name: "VishwaFUSE",
                dependencies: ["CFuse3", "VishwaCore", "VishwaFS", "VishwaCatalog", .product(name: "Logging", package: "swift-log")],
                swiftSettings: strict),

        // Benchmarks live outside Sources/ and, alone, call the C libraries directly:
        // their job is to compare our layer with the raw primitives on the same buffers.
        .target(name: "VishwaBench",
                dependencies: ["VishwaCore", "VishwaCodec", "VishwaCrypto", "VishwaWire", "VishwaTransport",
                               "VishwaVault", "VishwaCatalog", "VishwaClient", "CSodium", "CISAL",
                               .product(name: "NIOCore", package: "swift-nio"),
                               .product(name: "NIOPosix", package: "swift-nio"),
                               .product(name: "Logging", package: "swift-log")],
                path: "Benchmarks/VishwaBench", swiftSettings: strict),

        .executableTarget(
            name: "vishwa",
            dependencies: [
                "VishwaCore", "VishwaCrypto", "VishwaVault", "VishwaBench", "VishwaClient", "VishwaCatalog", "VishwaTransport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),

        // The mount daemon; argument handling is by hand because mount(8) helpers call it as
        // `vishwafs SOURCE MOUNTPOINT -o options`, and it must fork before any thread starts.
        .executableTarget(
            name: "vishwafs",
            dependencies: [
                "VishwaCore", "VishwaVault", "VishwaCatalog", "VishwaClient", "VishwaFS", "VishwaFUSE",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),

        .executableTarget(
            name: "vishwa-shard",
            dependencies: [
                "VishwaCore", "VishwaCrypto", "VishwaShardStore", "VishwaShardHost", "VishwaTransport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),

        // Helpers shared by test targets (seeded randomness); never part of a product.
        .target(name: "TestSupport", path: "Tests/TestSupport", swiftSettings: testSettings),
        .testTarget(name: "VishwaCryptoTests", dependencies: ["TestSupport", "VishwaCore", "VishwaCrypto"], swiftSettings: testSettings),
        .testTarget(name: "VishwaNoiseTests", dependencies: ["VishwaCrypto"], resources: [.copy("Vectors")], swiftSettings: testSettings),
        .testTarget(name: "VishwaErasureTests", dependencies: ["VishwaErasure", "TestSupport"], swiftSettings: testSettings),
        .testTarget(name: "VishwaCodecTests",
                    dependencies: ["VishwaCore", "VishwaCrypto", "VishwaCodec", "TestSupport", .product(name: "PropertyBased", package: "swift-property-based")],
                    exclude: ["Fixtures"], swiftSettings: testSettings),
        .testTarget(name: "VishwaShardStoreTests",
                    dependencies: ["VishwaCore", "VishwaShardStore", "TestSupport", .product(name: "Logging", package: "swift-log")],
                    swiftSettings: testSettings),
        .testTarget(name: "VishwaCatalogTests",
                    dependencies: ["VishwaCatalog", "TestSupport", .product(name: "GRDB", package: "GRDB.swift")], swiftSettings: testSettings),
        .testTarget(name: "VishwaFSTests",
                    dependencies: ["TestSupport", "VishwaCore", "VishwaFS", "VishwaCatalog", "VishwaClient", "VishwaCrypto", "VishwaVault",
                                   .product(name: "Logging", package: "swift-log")],
                    swiftSettings: testSettings),
        .testTarget(name: "VishwaFUSETests", dependencies: ["VishwaFUSE", "VishwaFS"], swiftSettings: testSettings),
        .testTarget(name: "VishwaVaultTests", dependencies: ["TestSupport", "VishwaVault", "VishwaCrypto"], swiftSettings: testSettings),
        .testTarget(name: "VishwaClientTests",
                    dependencies: ["TestSupport", "VishwaClient", "VishwaCodec", "VishwaCore", "VishwaCrypto", "VishwaVault", "VishwaWire",
                                   .product(name: "NIOCore", package: "swift-nio")],
                    swiftSettings: testSettings),
        .testTarget(name: "CLITests", dependencies: ["TestSupport"], swiftSettings: testSettings),
        .testTarget(name: "VishwaShardHostTests",
                    dependencies: ["TestSupport", "VishwaShardHost", "VishwaCore", "VishwaCrypto", "VishwaTransport", "VishwaWire"],
                    swiftSettings: testSettings),
        .testTarget(name: "VishwaWireTests",
                    dependencies: ["VishwaCore", "VishwaWire", "VishwaTransport",
                                   .product(name: "NIOCore", package: "swift-nio"),
                                   .product(name: "NIOPosix", package: "swift-nio")],
                    swiftSettings: testSettings),
        // Real vishwa-shard processes on 127.0.0.1, driven through the CLI and the client library.
        .testTarget(name: "IntegrationTests",
                    dependencies: ["VishwaCore", "VishwaCrypto", "VishwaWire", "VishwaTransport", "TestSupport",
                                   .product(name: "NIOCore", package: "swift-nio"),
                                   .product(name: "NIOPosix", package: "swift-nio"),
                                   .product(name: "Logging", package: "swift-log")],
                    exclude: ["Interop", "Mount/posix_checks.py"],
                    swiftSettings: testSettings),
    ]
)
