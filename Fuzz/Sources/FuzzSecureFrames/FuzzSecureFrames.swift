import CLibFuzzer
import FuzzSupport
import Logging
import NIOCore
import NIOEmbedded
import VishwaCore
import VishwaCrypto
import VishwaWire

// This module holds VishwaTransport's own sources (Sources/FuzzSecureFrames/VishwaTransport is a
// symlink to them), so the internal SecureFrameHandler is in reach without changing its access.

/// A hostile host's byte stream into a device's `SecureFrameHandler` (docs/wire.md §1–3), in an
/// `EmbeddedChannel`: the whole inbound path a host's bytes take, i.e. length-prefixed Noise
/// messages, clear records (§1.1), frames cut across messages and records, and delivery in pieces.
///
/// The input's first byte chooses the frame body limit and how the stream is delivered (at marks
/// the script sets, or in pieces of 1, 7 or 1000 bytes). With its top bit set, the rest is fed raw
/// as the host's handshake message 2 stream: no session may be established and no frame delivered.
/// Otherwise the target completes a real handshake with a fixed host key and reads the rest as a
/// script the host side follows with its own Noise transport: sealed messages, clear records (any,
/// or holding exactly one frame so the handler's whole-frame path runs), raw bytes, bit flips and
/// delivery marks. What must hold besides "never traps":
///
/// - the frames delivered are, in order, a prefix of the frames the sent plaintext stream (sealed
///   plaintexts and clear bytes, in order) holds, byte for byte;
/// - when the script sent only well-formed records, every whole frame of that stream is delivered,
///   and the connection stays open exactly when the stream holds no frame over the limit or with an
///   impossible length;
/// - what the device then sends back (`echo`) reads, as wire.md says, as exactly the frames it sent.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSecureFrames(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var script = InputReader(Array(UnsafeBufferPointer(start: data, count: size)))
    let settings = script.byte()
    let maxBody = [64, 1024, 70_000, Frame.maxBodyLength][Int(settings & 3)]
    let pieces = [0, 1, 7, 1000][Int(settings >> 2 & 3)]
    let recorder = Recorder()
    let channel = EmbeddedChannel()
    defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
    let handler = SecureFrameHandler(role: .initiator(pinnedHostKey: Keys.host.publicKey, hello: Keys.hello),
                                     staticKeyPair: Keys.device, logger: quiet, maxFrameBody: maxBody)
    do {
        try channel.pipeline.syncOperations.addHandlers([handler, recorder])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 7070)).wait()
    } catch {
        Oracle.require(false, "setting up the channel failed: \(error)")
    }
    guard let message1 = readMessage(channel) else {
        Oracle.require(false, "the device sent no message 1")
        return 0
    }

    if settings & 0x80 != 0 {
        deliver(script.rest(), marks: [], pieces: pieces, to: channel)
        Oracle.require(!recorder.established && recorder.frames.isEmpty, "a raw message 2 stream established a session")
        return 0
    }

    let host = NoiseHandshake(role: .responder, staticKeyPair: Keys.host, prologue: noisePrologue)
    let transport: NoiseTransport
    do {
        _ = try host.readMessage(message1)
        deliver(prefixed(try host.writeMessage(payload: ServerHello.encode())), marks: [], pieces: 0, to: channel)
        guard let message3 = readMessage(channel) else {
            Oracle.require(false, "the device sent no message 3")
            return 0
        }
        Oracle.require(try ClientHello(decoding: try host.readMessage(message3)) == Keys.hello, "the device's hello changed")
        transport = try host.split()
    } catch {
        Oracle.require(false, "handshake with the device failed: \(error)")
        return 0
    }
    Oracle.require(recorder.established && channel.isActive, "no session after a real handshake")

    var stream = HostStream(transport: transport, maxBody: maxBody)
    stream.follow(&script)
    deliver(stream.wire, marks: stream.marks, pieces: pieces, to: channel)

    // What the sent plaintext stream holds, read by the same frame decoder with the same limit.
    var plaintext = ByteBuffer(bytes: stream.plaintext)
    var expected: [[UInt8]] = []
    var impossible = false
    while true {
        do {
            guard let frame = try Frame.decode(from: &plaintext, maxBodyLength: maxBody) else { break }
            expected.append(wireBytes(frame))
        } catch {
            impossible = true
            break
        }
    }
    // A frame a clear record completes is held to the limit by its whole body, not its clear part
    // alone (B5, Fuzz/README.md).
    let delivered = recorder.frames
    if let over = delivered.first(where: { $0.count - Frame.headerLength > maxBody }) {
        Oracle.require(false, "a frame with a \(over.count - Frame.headerLength)-byte body passed the \(maxBody)-byte limit")
    }
    Oracle.require(delivered.count <= expected.count, "\(delivered.count) frames delivered, the stream holds \(expected.count)")
    for (frame, sent) in zip(delivered, expected) {
        Oracle.require(frame == sent, "a delivered frame differs from the one sent")
    }
    if stream.wellFormed {
        Oracle.require(delivered.count == expected.count,
                       "\(delivered.count) of \(expected.count) frames delivered from well-formed records")
        Oracle.require(channel.isActive == !impossible,
                       impossible ? "a frame over the limit or impossible left the connection open"
                                  : "well-formed records closed the connection")
    }
    if channel.isActive { echo(recorder.received, settings: settings, channel: channel, transport: transport) }
    return 0
}

/// The outbound side: the device sends back every frame it received and one large frame (a
/// shard-like body: 84 header bytes, then segments), their bodies marked sealed from byte
/// `sealedFrom` on when bit 4 of the settings is set (bits 6-7 choose it for the echoed frames:
/// 0, 1, 84 or the body's length), flushed after each frame or once (bit 5). The host's transport,
/// reading the bytes as docs/wire.md describes them, must find exactly those frames, and only the
/// bytes past `sealedFrom` of a large enough body in clear (§1.1: never a frame's header,
/// arguments or shard header).
private func echo(_ frames: [Frame], settings: UInt8, channel: EmbeddedChannel, transport: NoiseTransport) {
    let sealedBodies = settings & 0x10 != 0, flushEach = settings & 0x20 != 0
    func sealedFrom(_ body: ByteBuffer) -> Int? {
        guard sealedBodies else { return nil }
        return [0, 1, Frame.shardHeaderLength, body.readableBytes][Int(settings >> 6)]
    }
    var sent = frames.map { Frame(id: $0.id, code: $0.code, body: $0.wholeBody, sealedFrom: sealedFrom($0.wholeBody)) }
    let large = ByteBuffer(bytes: (0..<(20_000 + Int(settings))).map { UInt8(truncatingIfNeeded: $0 &* 13) })
    sent.append(Frame(id: 99, code: 2, body: large, bodyPrefix: ByteBuffer(bytes: [UInt8](repeating: 0xEE, count: 16)),
                      sealedFrom: sealedBodies ? Frame.shardHeaderLength : nil))
    for frame in sent {
        channel.write(frame, promise: nil)
        if flushEach { channel.flush() }
    }
    channel.flush()
    var wire: [UInt8] = []
    while let buffer = try? channel.readOutbound(as: ByteBuffer.self) { wire += buffer.readableBytesView }
    guard let (plaintext, clearParts) = HostReader.read(wire, transport: transport) else {
        Oracle.require(false, "the host cannot read what the device sent")
        return
    }
    Oracle.require(plaintext == sent.flatMap(wireBytes), "the host reads other frames than the device sent")
    // The sender's rule (SecureFrameHandler): a record only for at least 16 KiB in clear, with at
    // most 4 KiB of body in the secret part.
    let expectedClear: [[UInt8]] = sent.compactMap { frame in
        guard let from = frame.sealedFrom, from >= 0, frame.body.readableBytes - from >= 16 << 10,
              (frame.bodyPrefix?.readableBytes ?? 0) + from <= 4096 else { return nil }
        return Array(frame.body.readableBytesView.dropFirst(from))
    }
    Oracle.require(clearParts == expectedClear,
                   "clear parts of \(clearParts.map(\.count)) bytes sent, the sealed segments are \(expectedClear.map(\.count))")
}

/// Reads a device's bytes as docs/wire.md §1 and §1.1 describe them: length-prefixed Noise
/// messages, and clear records (`u16 0`, `u32` clear length, `u16` message length, the message,
/// the clear bytes, bound into the message's tag). Returns the plaintext stream and the clear
/// parts in order, or nil.
private enum HostReader {
    static func read(_ wire: [UInt8], transport: NoiseTransport) -> ([UInt8], [[UInt8]])? {
        var input = InputReader(wire)
        var plaintext: [UInt8] = []
        var clearParts: [[UInt8]] = []
        while !input.isEmpty {
            let length = input.int(bytes: 2)
            var clear: [UInt8] = []
            var message: [UInt8]
            if length == 0 {
                let clearLength = input.int(bytes: 4), messageLength = input.int(bytes: 2)
                message = input.bytes(messageLength)
                clear = input.bytes(clearLength)
                guard message.count == messageLength, clear.count == clearLength, clearLength > 0 else { return nil }
            } else {
                message = input.bytes(length)
                guard message.count == length else { return nil }
            }
            guard message.count >= NoiseTransport.tagLength else { return nil }
            var opened = [UInt8](repeating: 0, count: message.count - NoiseTransport.tagLength)
            do {
                try message.withUnsafeBytes { message in
                    try clear.withUnsafeBytes { ad in
                        try opened.withUnsafeMutableBytes { out in _ = try transport.decrypt(message, ad: ad, into: out) }
                    }
                }
            } catch {
                return nil
            }
            plaintext += opened + clear
            if !clear.isEmpty { clearParts.append(clear) }
        }
        return (plaintext, clearParts)
    }
}

/// The host side of the script: what it sends, and the plaintext stream the device should see.
struct HostStream {
    let transport: NoiseTransport
    let maxBody: Int
    var wire: [UInt8] = []
    var plaintext: [UInt8] = []
    /// Where the wire is cut between deliveries.
    var marks: [Int] = []
    /// False once raw bytes or a flipped bit went out: from there on the device may close.
    var wellFormed = true

    init(transport: NoiseTransport, maxBody: Int) {
        self.transport = transport
        self.maxBody = maxBody
    }

    mutating func follow(_ script: inout InputReader) {
        var steps = 0
        while !script.isEmpty, steps < 64 {
            steps += 1
            switch script.byte() % 6 {
            case 0:
                sealed(script.bytes(script.int(bytes: 2) % (NoiseTransport.maxPlaintextLength + 1)))
            case 1:
                let secret = script.bytes(script.int(bytes: 1))
                clearRecord(secret: secret, clear: script.bytes(script.int(bytes: 2)))
            case 2:
                // One whole frame: header and arguments encrypted, its body in clear.
                let id = UInt32(script.int(bytes: 4)), code = script.byte()
                let prefix = script.bytes(script.int(bytes: 1) % 64)
                var clear = script.bytes(script.int(bytes: 2))
                if clear.isEmpty { clear = [0x5A] }
                var secret = be(UInt32(truncatingIfNeeded: 5 + prefix.count + clear.count)) + be(id) + [code]
                secret += prefix
                clearRecord(secret: secret, clear: clear)
            case 3:
                wire += script.bytes(Int(script.byte()))
                wellFormed = false
            case 4:
                guard !wire.isEmpty else { continue }
                wire[script.int(bytes: 2) % wire.count] ^= 1 << (script.byte() % 8)
                wellFormed = false
            default:
                marks.append(wire.count)
            }
        }
    }

    /// A Noise transport message carrying `bytes` (at most 65519).
    private mutating func sealed(_ bytes: [UInt8]) {
        guard let message = try? transport.encrypt(bytes) else {
            Oracle.require(false, "sealing \(bytes.count) bytes failed")
            return
        }
        wire += prefixed(message)
        plaintext += bytes
    }

    /// `u16 0`, `u32` clear length, `u16` message length, the message (`secret` sealed with `clear`
    /// as associated data), `clear`. An empty or oversized clear part is sent as it is and makes the
    /// stream ill-formed (the device must close).
    private mutating func clearRecord(secret: [UInt8], clear: [UInt8]) {
        var message = secret + [UInt8](repeating: 0, count: NoiseTransport.tagLength)
        do {
            try message.withUnsafeMutableBytes { message in
                try clear.withUnsafeBytes { ad in try transport.encryptInPlace(message, ad: ad) }
            }
        } catch {
            Oracle.require(false, "sealing a clear record failed: \(error)")
        }
        wire += [0, 0] + be(UInt32(clear.count)) + be(UInt16(message.count)) + message + clear
        plaintext += secret + clear
        if clear.isEmpty || clear.count > maxBody { wellFormed = false }
    }
}

/// Frames and the session event the handler passes up.
final class Recorder: ChannelInboundHandler {
    typealias InboundIn = Frame
    var received: [Frame] = []
    var frames: [[UInt8]] { received.map(wireBytes) }
    var established = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received.append(Self.unwrapInboundIn(data))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is SecureSessionEstablished { established = true }
    }
}

/// Writes `bytes` into the channel: cut at `marks`, or in pieces of `pieces` bytes when not 0.
/// Stops when the handler has closed the channel.
private func deliver(_ bytes: [UInt8], marks: [Int], pieces: Int, to channel: EmbeddedChannel) {
    var cuts = pieces > 0 ? Array(stride(from: pieces, to: bytes.count, by: pieces)) : marks.filter { $0 > 0 && $0 < bytes.count }
    cuts.append(bytes.count)
    var start = 0
    for end in cuts where end > start {
        guard channel.isActive else { return }
        do {
            try channel.writeInbound(ByteBuffer(bytes: bytes[start..<end]))
        } catch {
            return  // the handler closed the channel; what it delivered before is checked
        }
        start = end
    }
}

/// The next handshake message the device wrote, without its length prefix.
private func readMessage(_ channel: EmbeddedChannel) -> [UInt8]? {
    guard var out = try? channel.readOutbound(as: ByteBuffer.self),
          let length = out.readInteger(as: UInt16.self), out.readableBytes == Int(length) else { return nil }
    return out.readBytes(length: Int(length))
}

private func prefixed(_ message: [UInt8]) -> [UInt8] { be(UInt16(message.count)) + message }

private func be<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: value.bigEndian) { Array($0) }
}

private func wireBytes(_ frame: Frame) -> [UInt8] {
    var buffer = ByteBuffer()
    frame.encode(into: &buffer)
    return Array(buffer.readableBytesView)
}

private let quiet = Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() })

/// Fixed keys, so a saved input replays the same way.
private enum Keys {
    static let host = X25519KeyPair(secretKey: SecretBytes(copying: (0..<32).map { UInt8($0) &+ 1 }))
    static let device = X25519KeyPair(secretKey: SecretBytes(copying: (0..<32).map { UInt8($0) &+ 101 }))
    static let hello = ClientHello(vaultID: VaultID(high: 0x0102_0304_0506_0708, low: 0x1112_1314_1516_1718), intent: .session)
}

/// The program's main(): SwiftPM links `main` to `<Module>_main` (CLibFuzzer/shim.h).
@_cdecl("FuzzSecureFrames_main")
func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, fuzzSecureFrames)
}
