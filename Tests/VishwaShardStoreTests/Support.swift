import Foundation
import Logging
import Synchronization
import Testing
import VishwaCore
@testable import VishwaShardStore

/// Runs `body` with a fresh directory under /tmp and removes it afterwards, whatever happens.
func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let path = "/tmp/vishwa-store-test-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}

/// Log lines a store wrote, for tests that check what it reported.
final class LogCapture: Sendable {
    let lines = Mutex<[String]>([])

    var logger: Logger {
        Logger(label: "test") { _ in CapturingHandler(capture: self) }
    }

    func contains(_ text: String) -> Bool { lines.withLock { $0.contains { $0.contains(text) } } }
}

struct CapturingHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let fields = (event.metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        capture.lines.withLock { $0.append("\(event.level) \(event.message) \(fields.joined(separator: " "))") }
    }
}

let quietLogger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

/// Opens a store in `directory` with no free-space reserve (test file systems are small).
func openStore(_ directory: String, logger: Logger = quietLogger) throws -> ShardStore {
    try ShardStore(directory: directory, freeSpaceReserve: 0, logger: logger)
}

let vaultA = VaultID(high: 0x0123_4567_89ab_cdef, low: 0x1111_2222_3333_4444)
let vaultB = VaultID(high: 0xfedc_ba98_7654_3210, low: 0x5555_6666_7777_8888)

/// A random shard id.
func randomID<G: RandomNumberGenerator>(using generator: inout G) -> ShardID {
    ShardID(bytes: (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })!
}

func randomID() -> ShardID {
    var generator = SystemRandomNumberGenerator()
    return randomID(using: &generator)
}

/// Deterministic bytes for a shard: `count` bytes derived from `seed`.
func payload(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    return (0..<count).map { _ in
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return UInt8(truncatingIfNeeded: state)
    }
}

/// Where the store keeps shard `id` of `vault` (docs/format.md §3).
func shardPath(_ root: String, _ vault: VaultID, _ id: ShardID) -> String {
    "\(root)/vaults/\(vault)/\(String(id.description.prefix(2)))/\(id)"
}

/// Every file under `root` whose name starts with `.tmp-`.
func temporaryFiles(under root: String) -> [String] {
    guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
    return walker.compactMap { $0 as? String }.filter { ($0 as NSString).lastPathComponent.hasPrefix(".tmp-") }
}

/// Overwrites one byte of a file in place.
func flipByte(at offset: Int, of path: String) throws {
    let handle = try #require(FileHandle(forUpdatingAtPath: path))
    defer { try? handle.close() }
    try handle.seek(toOffset: UInt64(offset))
    let old = try #require(try handle.read(upToCount: 1))
    try handle.seek(toOffset: UInt64(offset))
    try handle.write(contentsOf: [old[0] ^ 0x40])
}

/// Runs a program and returns its exit status.
@discardableResult
func run(_ program: String, _ arguments: [String]) throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: program)
    process.arguments = arguments
    try process.run()
    process.waitUntilExit()
    return process.terminationStatus
}
