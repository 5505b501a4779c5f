// swift-tools-version: 6.2
// libFuzzer targets for the byte parsers of Vishwarupa: wire frames and bodies, the Noise handshake
// and transport, pairing codes and host addresses. Built and run by scripts/fuzz.sh, never by CI.
//
// The main package exports neither VishwaWire nor VishwaTransport as a library product, so this
// package does not depend on it: it compiles the same module sources itself, through the symlinks
// Sources/<Module> -> ../../Sources/<Module> (see README.md). Nothing is copied, so the fuzzers
// always test the code in ../Sources as it is in the work tree.
import PackageDescription

let fuzzTarget: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

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
        .target(name: "VishwaCore"),
        .target(name: "VishwaCrypto", dependencies: ["CSodium", "VishwaCore"]),
        .target(name: "VishwaWire", dependencies: ["VishwaCore", .product(name: "NIOCore", package: "swift-nio")]),
        .target(name: "VishwaTransport",
                dependencies: ["VishwaCore", "VishwaCrypto", "VishwaWire",
                               .product(name: "NIOCore", package: "swift-nio"),
                               .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                               .product(name: "NIOPosix", package: "swift-nio"),
                               .product(name: "Logging", package: "swift-log")]),

        // One executable per fuzz target. Each exports LLVMFuzzerTestOneInput and defines the
        // `<Target>_main` SwiftPM links as main(), which calls libFuzzer's LLVMFuzzerRunDriver
        // (declared by CLibFuzzer). Sources have no top-level code: `-parse-as-library` keeps the
        // compiler from making an entry point of its own out of a single-file module.
        // FuzzSupport holds the checks that turn a wrong result into a crash libFuzzer records.
        .systemLibrary(name: "CLibFuzzer"),
        .target(name: "FuzzSupport"),
        .executableTarget(name: "FuzzFrames",
                          dependencies: ["CLibFuzzer", "FuzzSupport", "VishwaCore", "VishwaWire",
                                         .product(name: "NIOCore", package: "swift-nio")],
                          swiftSettings: fuzzTarget),
        .executableTarget(name: "FuzzHandshake",
                          dependencies: ["CLibFuzzer", "FuzzSupport", "VishwaCore", "VishwaCrypto", "VishwaWire"],
                          swiftSettings: fuzzTarget),
        .executableTarget(name: "FuzzPairingCode",
                          dependencies: ["CLibFuzzer", "FuzzSupport", "VishwaCore", "VishwaTransport"],
                          swiftSettings: fuzzTarget),
    ]
)
