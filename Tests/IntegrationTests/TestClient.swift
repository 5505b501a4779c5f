import Foundation
import Logging
import NIOCore
import NIOPosix
import VishwaCore
import VishwaCrypto
import VishwaTransport
import VishwaWire

/// A device made in the test process: its own key, vault id and vault signing key, paired
/// through the library.
struct TestDevice: Sendable {
    let keyPair = X25519KeyPair.generate()
    let vault = VaultID(high: UInt64.random(in: 0...UInt64.max), low: UInt64.random(in: 0...UInt64.max))
    var vaultKey: Ed25519KeyPair { testVaultKey(vault) }

    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    static let logger = Logger(label: "test-client")

    /// Pairs with the host that printed `code` and returns the open connection.
    func pair(_ code: String) async throws -> (HostConnection, PairingCode) {
        let parsed = try PairingCode(parsing: code)
        let connection = try await HostConnection.connect(
            to: parsed.address, hostKey: parsed.hostKey, device: keyPair,
            hello: .pairing(vaultID: vault, secret: parsed.secret, hostKey: parsed.hostKey, device: keyPair, vaultKey: vaultKey),
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

/// The signing key the tests' vault `vault` pairs with: Ed25519 from the seed BLAKE2b-256 of
/// "interop vault key" and the vault id (`Interop/noise_peer.py` derives the same one).
func testVaultKey(_ vault: VaultID) -> Ed25519KeyPair {
    Ed25519KeyPair(seed: SecretBytes(copying: BLAKE2b.hash(Array("interop vault key".utf8) + vault.bytes, length: 32)))
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
