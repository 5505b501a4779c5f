// swift-tools-version: 6.2
// libFuzzer targets for the byte parsers of Vishwarupa: wire frames and bodies, the Noise handshake
// and transport, the secure frame handler, pairing codes and host addresses, shards, catalog
// backup blobs, the vault key file and recovery codes, and the host's registry files. Built and run
// by scripts/fuzz.sh (a short run is part of scripts/test.sh).
//
// The main package exports none of these modules as a library product, so this package does not
// depend on it: it compiles the same module sources itself, through the symlinks
// Sources/<Module> -> ../../Sources/<Module> (see README.md). Nothing is copied, so the fuzzers
// always test the code in ../Sources as it is in the work tree.
import PackageDescription

let fuzzTarget: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]
let nioCore = Target.Dependency.product(name: "NIOCore", package: "swift-nio")
let nioPosix = Target.Dependency.product(name: "NIOPosix", package: "swift-nio")
let nioHelpers = Target.Dependency.product(name: "NIOConcurrencyHelpers", package: "swift-nio")
let logging = Target.Dependency.product(name: "Logging", package: "swift-log")

let package = Package(
    name: "VishwarupaFuzz",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
    ],
    targets: [
        // The modules under test: the main package's sources, through symlinks. Keep their dependency
        // lists in step with ../Package.swift: a missing one may even go unnoticed, since SwiftPM lets
        // a module import what its dependencies depend on.
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CISAL", pkgConfig: "libisal", providers: [.apt(["libisal-dev"])]),
        .target(name: "VishwaCore"),
        .target(name: "VishwaCrypto", dependencies: ["CSodium", "COpenSSL", "VishwaCore"]),
        .target(name: "VishwaErasure", dependencies: ["CISAL"]),
        .target(name: "VishwaCodec", dependencies: ["VishwaCore", "VishwaCrypto", "VishwaErasure"]),
        .target(name: "VishwaVault", dependencies: ["VishwaCore", "VishwaCrypto"]),
        .target(name: "VishwaShardStore", dependencies: ["VishwaCore", "VishwaErasure", logging]),
        .target(name: "VishwaWire", dependencies: ["VishwaCore", nioCore]),
        .target(name: "VishwaTransport",
                dependencies: ["VishwaCore", "VishwaCrypto", "VishwaWire", nioCore, nioHelpers, nioPosix, logging]),
        .target(name: "VishwaShardHost",
                dependencies: ["VishwaCore", "VishwaCrypto", "VishwaShardStore", "VishwaWire",
                               "VishwaTransport", nioCore, nioPosix, logging]),

        // One executable per fuzz target. Each exports LLVMFuzzerTestOneInput and defines the
        // `<Target>_main` SwiftPM links as main(), which calls libFuzzer's LLVMFuzzerRunDriver
        // (declared by CLibFuzzer). Sources have no top-level code: `-parse-as-library` keeps the
        // compiler from making an entry point of its own out of a single-file module.
        // FuzzSupport holds the checks that turn a wrong result into a crash libFuzzer records.
        .systemLibrary(name: "CLibFuzzer"),
        .target(name: "FuzzSupport"),
        .executableTarget(name: "FuzzFrames",
                          dependencies: ["CLibFuzzer", "FuzzSupport", "VishwaCore", "VishwaWire", nioCore],
                          swiftSettings: fuzzTarget),
        .executableTarget(name: "FuzzHandshake",
                          dependencies: ["CLibFuzzer", "FuzzSupport", "VishwaCore", "VishwaCrypto", "VishwaWire"],
                          swiftSettings: fuzzTarget),
        .executableTarget(name: "FuzzPairingCode",
                          dependencies: ["CLibFuzzer", "FuzzSupport", "VishwaCore", "VishwaTransport"],
                          swiftSettings: fuzzTarget),
        // Compiles VishwaTransport's sources into itself (Sources/FuzzSecureFrames/VishwaTransport is
        // a symlink) to reach the internal SecureFrameHandler; so its dependencies are
        // VishwaTransport's, plus NIOEmbedded for the EmbeddedChannel that drives the handler.
        .executableTarget(name: "FuzzSecureFrames",
                          dependencies: ["CLibFuzzer", "FuzzSupport", "VishwaCore", "VishwaCrypto", "VishwaWire",
                                         nioCore, nioHelpers, nioPosix, logging,
                                         .product(name: "NIOEmbedded", package: "swift-nio")],
                          swiftSettings: fuzzTarget),
        .executableTarget(name: "FuzzShardCodec",
                          dependencies: ["CLibFuzzer", "FuzzSupport", "VishwaCore", "VishwaCrypto", "VishwaCodec"],
                          swiftSettings: fuzzTarget),
        // Compiles ../Sources/VishwaClient/CatalogBackup+Blob.swift (the blob and host directory
        // parsers, internal to VishwaClient) and ClientError.swift into itself, through file symlinks:
        // VishwaClient as a whole would bring the catalog (GRDB) and the network into this package.
        .executableTarget(name: "FuzzBackupBlob",
                          dependencies: ["CLibFuzzer", "FuzzSupport", "VishwaCore", "VishwaCrypto", "VishwaCodec", nioCore],
                          swiftSettings: fuzzTarget),
        .executableTarget(name: "FuzzVaultKey",
                          dependencies: ["CLibFuzzer", "FuzzSupport", "VishwaCore", "VishwaCrypto", "VishwaVault"],
                          swiftSettings: fuzzTarget),
        .executableTarget(name: "FuzzHostRegistry",
                          dependencies: ["CLibFuzzer", "FuzzSupport", "VishwaCore", "VishwaCrypto", "VishwaShardHost"],
                          swiftSettings: fuzzTarget),
    ]
)
