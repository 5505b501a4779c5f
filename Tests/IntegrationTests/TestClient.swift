import Foundation
import Logging
import NIOCore
import NIOPosix
import VishwaCore
import VishwaCrypto
import VishwaTransport
import VishwaWire

/// A device made in the test process: its own key and vault id, paired through the library.
struct TestDevice: Sendable {
    let keyPair = X25519KeyPair.generate()
    let vault = VaultID(high: UInt64.random(in: 0...UInt64.max), low: UInt64.random(in: 0...UInt64.max))

    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    static let logger = Logger(label: "test-client")

    /// Pairs with the host that printed `code` and returns the open connection.
    func pair(_ code: String) async throws -> (HostConnection, PairingCode) {
        let parsed = try PairingCode(parsing: code)
        let connection = try await HostConnection.connect(
            to: parsed.address, hostKey: parsed.hostKey, device: keyPair,
            hello: ClientHello(vaultID: vault, intent: .pair(secret: parsed.secret)),
            group: Self.group, logger: Self.logger)
        return (connection, parsed)
    }

    /// Opens a session with a host this device paired with.
    func connect(_ code: PairingCode, port: Int? = nil) async throws -> HostConnection {
        let address = port.map { HostAddress(host: code.address.host, port: $0) } ?? code.address
        return try await HostConnection.connect(
            to: address, hostKey: code.hostKey, device: keyPair,
            hello: ClientHello(vaultID: vault, intent: .session), group: Self.group, logger: Self.logger)
    }
}

func randomShard(_ size: Int) -> ByteBuffer {
    var buffer = ByteBuffer()
    buffer.writeBytes((0..<size).map { _ in UInt8.random(in: 0...255) })
    return buffer
}

func randomID() -> WireShardID {
    WireShardID(high: UInt64.random(in: 0...UInt64.max), low: UInt64.random(in: 0...UInt64.max))
}

/// Every regular file under `dir`, recursively.
func files(under dir: String) -> [String] {
    guard let walker = FileManager.default.enumerator(atPath: dir) else { return [] }
    return walker.compactMap { $0 as? String }.filter { path in
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: dir + "/" + path, isDirectory: &isDirectory) && !isDirectory.boolValue
    }
}
