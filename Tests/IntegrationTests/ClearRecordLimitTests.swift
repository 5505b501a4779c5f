import Foundation
import NIOCore
import TestSupport
import Testing
import VishwaCore
import VishwaCrypto
import VishwaTransport
import VishwaWire

/// A device that abuses clear records (docs/wire.md §1.1) against our `HostServer`: the limit on a
/// frame's body holds for a frame a clear record completes as for any other.
@Suite(.ownThreads, .serialized) struct ClearRecordLimitTests {
    /// The record's clear part is within the limit, but the frame's arguments, sealed in front of
    /// it, carry the body past it. The host must close the connection as for any oversized frame,
    /// and the request must never reach the service.
    @Test func aFrameOverTheLimitCompletedByAClearRecordClosesTheConnection() async throws {
        let liar = try await LyingHost.start()
        let device = TestDevice()
        let peer = try RawPeer(port: liar.server.localAddress.port)
        let transport = try Self.openSession(peer, device: device, hostKey: liar.service.keyPair.publicKey)

        let clear = [UInt8](repeating: 0x5a, count: Frame.maxBodyLength)
        var secret = ByteBuffer()
        secret.writeInteger(UInt32(5 + 16 + clear.count))  // a PUT: the shard id, then the shard
        secret.writeInteger(UInt32(1))
        secret.writeInteger(Operation.put.rawValue)
        secret.writeShardID(randomID())
        var message = Array(secret.readableBytesView) + [UInt8](repeating: 0, count: NoiseTransport.tagLength)
        try message.withUnsafeMutableBytes { text in
            try clear.withUnsafeBytes { ad in try transport.encryptInPlace(text, ad: ad) }
        }
        var record = ByteBuffer()
        record.writeInteger(UInt16(0))
        record.writeInteger(UInt32(clear.count))
        record.writeInteger(UInt16(message.count))
        record.writeBytes(message)
        // The host may close before it has read everything: that is the answer this test wants.
        try? peer.send(Array(record.readableBytesView) + clear, timeout: 30)

        #expect(peer.closedByHost(within: 10), "the host kept the connection after a frame over the limit")
        #expect(liar.service.state.withLock { $0.puts } == 0, "a frame over the limit reached the service")
        await liar.server.stop()
    }

    /// The handshake as `device` of its vault, then the welcome; returns the session's transport.
    /// Reads wait up to 30 s: the host runs in this test process, which shares two cores with
    /// every suite starting at once, and being slow to admit is not what this test is about.
    static func openSession(_ peer: RawPeer, device: TestDevice, hostKey: [UInt8]) throws -> NoiseTransport {
        let noise = NoiseHandshake(role: .initiator, staticKeyPair: device.keyPair, prologue: noisePrologue)
        try peer.send(RawPeer.prefixed(try noise.writeMessage()), timeout: 30)
        var length = try peer.read(2, timeout: 30)
        _ = try noise.readMessage(try peer.read(Int(length[0]) << 8 | Int(length[1]), timeout: 30))
        guard noise.remoteStaticKey == hostKey else { throw TestFailure("not the host started") }
        let hello = ClientHello(vaultID: device.vault, intent: .session)
        try peer.send(RawPeer.prefixed(try noise.writeMessage(payload: hello.encode())), timeout: 30)
        let transport = try noise.split()
        length = try peer.read(2, timeout: 30)
        let welcome = try transport.decrypt(try peer.read(Int(length[0]) << 8 | Int(length[1]), timeout: 30))
        guard welcome.count >= 9, welcome[8] == Status.ok.rawValue else { throw TestFailure("not welcomed") }
        return transport
    }
}
