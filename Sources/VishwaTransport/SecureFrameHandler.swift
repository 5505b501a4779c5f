import Logging
import NIOCore
import VishwaCrypto
import VishwaWire

/// What a host decides about a device once the handshake has proven the device's static key.
public enum Authorization: Sendable, Equatable {
    case accept
    case reject(String)
}

/// Fired inbound once the secure session is ready for frames.
public struct SecureSessionEstablished: Sendable {
    /// The peer's static X25519 key, authenticated by the handshake.
    public let remoteStaticKey: [UInt8]
    /// What the device said in the handshake (on the host side only).
    public let hello: ClientHello?
}

/// The Noise_XX session on one TCP connection, and the framing inside it (docs/wire.md §1–3).
///
/// Inbound it turns raw TCP bytes into `Frame`s: 2-byte length-prefixed Noise messages, decrypted
/// in order into one plaintext stream, cut into frames. Outbound it turns `Frame`s into sealed
/// Noise messages, packing frames together until a flush. Anything malformed, oversized or failing
/// authentication closes the connection with one log line; nothing reaches the handlers above.
///
/// The host (responder) decides about the device with `authorize` after the third handshake
/// message; until it accepts, no byte after the handshake is decrypted or read. Then it sends the
/// welcome frame (id 0). The device (initiator) checks the host's key against the pinned key
/// before it sends its own identity.
///
/// Lives on its channel's event loop; not thread-safe by design (NIO handler).
final class SecureFrameHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = Frame
    typealias OutboundIn = Frame
    typealias OutboundOut = ByteBuffer

    enum Role {
        case initiator(pinnedHostKey: [UInt8], hello: ClientHello)
        case responder(authorize: @Sendable ([UInt8], ClientHello) async -> Authorization)
    }

    private enum State {
        case handshaking(NoiseHandshake)
        case authorizing(NoiseTransport, remoteKey: [UInt8], hello: ClientHello)
        case established(NoiseTransport)
        case failed
    }

    private let role: Role
    private var state: State
    private let logger: Logger
    private let maxFrameBody: Int
    /// The host's receive budget for this connection (nil on a device): what `raw` and `plain`
    /// hold counts in it.
    private let account: ReceiveAccount?

    /// Raw bytes from the socket not yet forming a whole Noise message.
    private var raw = ByteBuffer()
    /// Decrypted bytes not yet forming a whole frame.
    private var plain = ByteBuffer()
    /// Sealed and unsealed outbound bytes since the last flush; `openMessage` marks an unsealed tail.
    private var outgoing = ByteBuffer()
    /// Buffers to write before `outgoing`: what it held before a clear record, and the clear
    /// bytes themselves, which go out as the caller's buffer (one writev), never copied.
    private var queued: [ByteBuffer] = []
    private var openMessage: (start: Int, plaintext: Int)?
    private var pendingPromises: [EventLoopPromise<Void>] = []

    init(role: Role, staticKeyPair: X25519KeyPair, logger: Logger, maxFrameBody: Int = Frame.maxBodyLength,
         account: ReceiveAccount? = nil) {
        self.role = role
        self.account = account
        let noiseRole: NoiseHandshake.Role
        switch role {
        case .initiator: noiseRole = .initiator
        case .responder: noiseRole = .responder
        }
        self.state = .handshaking(NoiseHandshake(role: noiseRole, staticKeyPair: staticKeyPair, prologue: noisePrologue))
        self.logger = logger
        self.maxFrameBody = maxFrameBody
    }

    // MARK: Connection life

    func channelActive(context: ChannelHandlerContext) {
        if case .initiator = role, case .handshaking(let handshake) = state {
            // -> e
            do {
                try sendHandshakeMessage(handshake.writeMessage(payload: []), context: context)
            } catch {
                fail(context: context, "handshake: \(error)")
            }
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        failPendingWrites(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context: context, "connection error: \(error)")
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = Self.unwrapInboundIn(data)
        if raw.readableBytes == 0 {
            raw = bytes
        } else {
            raw.writeBuffer(&bytes)
        }
        switch state {
        case .handshaking, .authorizing:
            // A device sends nothing but the handshake before the welcome: anything more is a
            // peer making the host buffer for it before it has proven a right to anything.
            guard raw.readableBytes <= HostLimits.preSessionBytes else {
                fail(context: context, "\(raw.readableBytes) bytes sent before the session was accepted")
                return
            }
        case .established, .failed:
            break
        }
        processInbound(context: context)
        accountBuffered(context: context)
    }

    /// Takes whole Noise messages off `raw` while the session can accept them.
    private func processInbound(context: ChannelHandlerContext) {
        while true {
            switch state {
            case .failed, .authorizing:
                return  // nothing is read before the host has decided about the device
            case .handshaking, .established:
                break
            }
            guard let length = raw.getInteger(at: raw.readerIndex, as: UInt16.self) else { break }
            if length == 0, case .established(let transport) = state {
                // No Noise message is shorter than its tag: a zero length opens a clear record.
                switch takeClearRecord(context: context) {
                case .incomplete: break
                case .failed: return
                case .record(let messageLength, let clearLength):
                    guard openClearRecord(messageLength: messageLength, clearLength: clearLength, transport: transport,
                                          context: context) else { return }
                    continue
                }
                break
            }
            guard raw.readableBytes >= 2 + Int(length) else { break }
            raw.moveReaderIndex(forwardBy: 2)
            let message = raw.readSlice(length: Int(length))!
            switch state {
            case .handshaking(let handshake):
                handleHandshake(message, handshake: handshake, context: context)
            case .established(let transport):
                if let error = message.withUnsafeReadableBytes({ decrypt($0, transport: transport) }) {
                    fail(context: context, error)
                    return
                }
                deliverFrames(context: context)
            case .authorizing, .failed:
                return
            }
        }
        // Keep leftovers compact so a long session does not grow the buffer.
        if raw.readableBytes == 0 { raw.clear() } else if raw.readerIndex > 65536 { raw.discardReadBytes() }
    }

    private enum ClearRecord {
        case incomplete
        case failed
        /// All there, at the front of `raw` (not consumed yet).
        case record(messageLength: Int, clearLength: Int)
    }

    /// Finds one clear record (docs/wire.md §1.1) at the front of `raw` once it is all there:
    /// `u16 0`, `u32` clear length, `u16` message length, the Noise message, the clear bytes.
    private func takeClearRecord(context: ChannelHandlerContext) -> ClearRecord {
        let start = raw.readerIndex
        guard let clearLength = raw.getInteger(at: start + 2, as: UInt32.self),
              let messageLength = raw.getInteger(at: start + 6, as: UInt16.self) else { return .incomplete }
        guard clearLength > 0, clearLength <= UInt32(maxFrameBody) else {
            fail(context: context, "clear record of \(clearLength) bytes is empty or exceeds the limit")
            return .failed
        }
        let total = Self.clearRecordHeader + Int(messageLength) + Int(clearLength)
        guard raw.readableBytes >= total else {
            // Room for a shard-sized record at once, instead of growing by doubling as it arrives;
            // no more than that on a peer's word alone (a larger record grows as it comes).
            let room = min(total, Self.clearRecordReserve) - raw.readableBytes
            if room > 0 { raw.reserveCapacity(minimumWritableBytes: room) }
            return .incomplete
        }
        return .record(messageLength: Int(messageLength), clearLength: Int(clearLength))
    }

    /// Authenticates the clear record at the front of `raw`, adds its secret part then its clear
    /// part to the frame stream, and hands up the frames that completes. False (and the
    /// connection closed) on failure.
    ///
    /// The common record is one whole frame, a shard in a put or in a response: its header,
    /// arguments and the shard's header travel in the secret part, the shard's segments in the
    /// clear part. The secret bytes after the frame header are then written back into `raw` just
    /// before the clear bytes, over the message that carried them, so the frame's body is one
    /// slice of the bytes received: the segments, most of the shard, are never copied.
    private func openClearRecord(messageLength: Int, clearLength: Int, transport: NoiseTransport,
                                 context: ChannelHandlerContext) -> Bool {
        let messageAt = Self.clearRecordHeader, clearAt = Self.clearRecordHeader + messageLength
        let streamWasEmpty = plain.readableBytes == 0
        let opened = raw.withUnsafeReadableBytes { bytes in
            decrypt(UnsafeRawBufferPointer(rebasing: bytes[messageAt..<clearAt]),
                    ad: UnsafeRawBufferPointer(rebasing: bytes[clearAt..<clearAt + clearLength]), transport: transport)
        }
        if let error = opened {
            fail(context: context, error)
            return false
        }
        if streamWasEmpty, let frame = frameJoining(clearAt: raw.readerIndex + clearAt, clearLength: clearLength) {
            // What follows the record moves to a buffer of its own, so appending to `raw` never
            // copies (or writes over) a body the layers above still hold.
            var rest = ByteBufferAllocator().buffer(capacity: raw.readableBytes)
            rest.writeBuffer(&raw)
            raw = rest
            context.fireChannelRead(Self.wrapInboundOut(frame))
            return true
        }
        plain.reserveCapacity(minimumWritableBytes: clearLength)
        plain.writeImmutableBuffer(raw.getSlice(at: raw.readerIndex + clearAt, length: clearLength)!)
        raw.moveReaderIndex(forwardBy: clearAt + clearLength)
        deliverFrames(context: context)
        if case .failed = state { return false }
        return true
    }

    /// The frame a clear record completes when `plain` holds just its secret part, a frame's
    /// header and the first bytes of its body, and the clear bytes (at `clearAt` in `raw`) are
    /// the rest of that body. Consumes the record from `raw`. Nil (nothing consumed) otherwise.
    /// A body over the limit is left to the general path, where `Frame.decode` refuses it: the
    /// clear part alone is within the limit, but the secret part adds up to a message to it.
    private func frameJoining(clearAt: Int, clearLength: Int) -> Frame? {
        let start = plain.readerIndex
        let secretBody = plain.readableBytes - Frame.headerLength
        guard secretBody >= 0, secretBody + clearLength <= maxFrameBody,
              plain.getInteger(at: start, as: UInt32.self) == UInt32(5 + secretBody + clearLength),
              let id = plain.getInteger(at: start + 4, as: UInt32.self),
              let code = plain.getInteger(at: start + 8, as: UInt8.self) else { return nil }
        // The message was at least the secret part and its tag long: these bytes lie within it.
        let bodyAt = clearAt - secretBody
        plain.withUnsafeReadableBytes { secret in
            _ = raw.setBytes(UnsafeRawBufferPointer(rebasing: secret[Frame.headerLength...]), at: bodyAt)
        }
        plain.clear()
        let body = raw.getSlice(at: bodyAt, length: secretBody + clearLength)!
        raw.moveReaderIndex(to: clearAt + clearLength)
        return Frame(id: id, code: code, body: body)
    }

    /// `u16 0`, `u32` clear length, `u16` message length.
    static let clearRecordHeader = 8
    /// The most reserved ahead for a clear record that has not arrived (a shard is ~700 KiB).
    static let clearRecordReserve = 2 << 20
    /// Sealed bodies shorter than this go encrypted with the rest: too small to be worth a record.
    static let clearBodyMinimum = 16 << 10
    /// The most body bytes (arguments and a shard's header) a clear record's secret part carries.
    static let secretPartMaximum = 4096

    private func handleHandshake(_ message: ByteBuffer, handshake: NoiseHandshake, context: ChannelHandlerContext) {
        do {
            let payload = try handshake.readMessage(Array(message.readableBytesView))
            switch role {
            case .initiator(let pinned, let hello):
                // <- e, ee, s, es: the host's static key is now known and must be the pinned one.
                do {
                    try ServerHello.decode(payload)
                } catch {
                    fail(context: context, "\(error)")
                    return
                }
                guard handshake.remoteStaticKey == pinned else {
                    fail(context: context, "host key does not match the pinned key")
                    return
                }
                try sendHandshakeMessage(handshake.writeMessage(payload: hello.encode()), context: context)
                let transport = try handshake.split()
                state = .established(transport)
                context.fireUserInboundEventTriggered(SecureSessionEstablished(remoteStaticKey: pinned, hello: nil))
            case .responder(let authorize):
                if !handshake.isComplete {
                    // -> e received; answer <- e, ee, s, es.
                    try sendHandshakeMessage(handshake.writeMessage(payload: ServerHello.encode()), context: context)
                    return
                }
                // -> s, se: the device's key and its hello.
                let hello = try ClientHello(decoding: payload)
                let transport = try handshake.split()
                let remote = transport.remoteStaticKey
                state = .authorizing(transport, remoteKey: remote, hello: hello)
                let promise = context.eventLoop.makePromise(of: Authorization.self)
                promise.completeWithTask { await authorize(remote, hello) }
                let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                promise.futureResult.whenComplete { result in
                    let (handler, context) = bound.value
                    handler.authorized(result, context: context)
                }
            }
        } catch {
            fail(context: context, "handshake failed: \(error)")
        }
    }

    private func authorized(_ result: Result<Authorization, any Error>, context: ChannelHandlerContext) {
        guard case .authorizing(let transport, let remote, let hello) = state else { return }
        switch result {
        case .success(.accept):
            state = .established(transport)
            context.fireUserInboundEventTriggered(SecureSessionEstablished(remoteStaticKey: remote, hello: hello))
            write(frame: Response(status: .ok, body: ByteBuffer()).frame(id: 0), promise: nil)
            flush(context: context)
            processInbound(context: context)
            accountBuffered(context: context)
        case .success(.reject(let reason)):
            state = .established(transport)
            write(frame: Response.failure(.unauthorized, reason).frame(id: 0), promise: nil)
            flush(context: context)
            logger.notice("refused device \(KeyFingerprint.short(remote)): \(reason)")
            state = .failed
            context.close(promise: nil)
        case .failure(let error):
            fail(context: context, "authorization failed: \(error)")
        }
    }

    /// Decrypts one transport message onto the end of `plain`, with `ad` bound into its tag (a clear
    /// record's clear bytes). Returns why it failed, or nil.
    private func decrypt(_ message: UnsafeRawBufferPointer, ad: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
                         transport: NoiseTransport) -> String? {
        let length = message.count
        guard length >= NoiseTransport.tagLength else {
            return "transport message of \(length) bytes is shorter than its tag"
        }
        if plain.readableBytes == 0 { plain.clear() }
        // Decrypt straight from the received bytes into the plaintext stream: no intermediate copy.
        let plaintextLength = length - NoiseTransport.tagLength
        do {
            _ = try plain.writeWithUnsafeMutableBytes(minimumWritableBytes: max(plaintextLength, 1)) { output in
                try transport.decrypt(message, ad: ad, into: UnsafeMutableRawBufferPointer(rebasing: output[0..<plaintextLength]))
            }
        } catch {
            return "transport message rejected: \(error)"
        }
        return nil
    }

    private func deliverFrames(context: ChannelHandlerContext) {
        var delivered = false
        do {
            while let frame = try Frame.decode(from: &plain, maxBodyLength: maxFrameBody) {
                delivered = true
                context.fireChannelRead(Self.wrapInboundOut(frame))
                if case .failed = state { return }
            }
        } catch {
            fail(context: context, "\(error)")
            return
        }
        if delivered {
            // Frames handed up share `plain`'s storage: start a fresh buffer for what follows so
            // appending never copies a frame body that is still in use.
            var rest = ByteBufferAllocator().buffer(capacity: max(plain.readableBytes, 4096))
            rest.writeBuffer(&plain)
            plain = rest
        }
    }

    // MARK: Outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .established = state else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        write(frame: Self.unwrapOutboundIn(data), promise: promise)
    }

    func flush(context: ChannelHandlerContext) {
        guard case .established(let transport) = state else { return }
        do {
            try sealOpenMessage(transport)
        } catch {
            fail(context: context, "sealing failed: \(error)")
            return
        }
        var buffers = queued
        queued = []
        if outgoing.readableBytes > 0 {
            buffers.append(outgoing)
            outgoing = ByteBufferAllocator().buffer(capacity: 0)
        }
        guard let last = buffers.popLast() else {
            context.flush()
            return
        }
        let promises = pendingPromises
        pendingPromises = []
        let promise: EventLoopPromise<Void>? = promises.isEmpty ? nil : context.eventLoop.makePromise()
        promise?.futureResult.whenComplete { result in promises.forEach { $0.completeWith(result) } }
        // Writes complete in order: the last one's outcome stands for all of them.
        for buffer in buffers { context.write(Self.wrapOutboundOut(buffer), promise: nil) }
        context.writeAndFlush(Self.wrapOutboundOut(last), promise: promise)
    }

    /// Appends a frame's bytes to the open Noise message, sealing each message as it fills.
    private func write(frame: Frame, promise: EventLoopPromise<Void>?) {
        guard case .established(let transport) = state else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        var header = ByteBuffer()
        header.reserveCapacity(Frame.headerLength)
        frame.encode(header: &header)
        do {
            if let sealedFrom = frame.sealedFrom, sealedFrom >= 0, frame.body.readableBytes - sealedFrom >= Self.clearBodyMinimum,
               (frame.bodyPrefix?.readableBytes ?? 0) + sealedFrom <= Self.secretPartMaximum {
                // Arguments and the body's first bytes (a shard's header) go in the secret part:
                // only the sealed segments travel in clear.
                if var prefix = frame.bodyPrefix { header.writeBuffer(&prefix) }
                var clear = frame.body
                var secret = clear.readSlice(length: sealedFrom)!
                header.writeBuffer(&secret)
                try appendClearRecord(header, clear: clear, transport: transport)
            } else {
                try append(&header, transport: transport)
                if var prefix = frame.bodyPrefix { try append(&prefix, transport: transport) }
                var body = frame.body
                try append(&body, transport: transport)
            }
        } catch {
            promise?.fail(error)
            return
        }
        if let promise { pendingPromises.append(promise) }
    }

    private func append(_ bytes: inout ByteBuffer, transport: NoiseTransport) throws {
        while bytes.readableBytes > 0 {
            if openMessage == nil {
                if outgoing.capacity == 0 {
                    outgoing.reserveCapacity(min(2 + NoiseTransport.maxMessageLength, 2 + bytes.readableBytes + 16) * 2)
                }
                openMessage = (outgoing.writerIndex, 0)
                outgoing.writeInteger(UInt16(0))  // length, filled in when sealed
            }
            let room = NoiseTransport.maxPlaintextLength - openMessage!.plaintext
            var part = bytes.readSlice(length: min(room, bytes.readableBytes))!
            openMessage!.plaintext += part.readableBytes
            outgoing.writeBuffer(&part)
            if openMessage!.plaintext == NoiseTransport.maxPlaintextLength { try sealOpenMessage(transport) }
        }
    }

    /// Appends a clear record (docs/wire.md §1.1): `secret` (a frame's header and arguments)
    /// encrypted in a Noise message whose tag also covers `clear` (the frame's sealed body), which
    /// follows it unencrypted. The open message is sealed first, so the stream keeps its order.
    private func appendClearRecord(_ secret: ByteBuffer, clear: ByteBuffer, transport: NoiseTransport) throws {
        try sealOpenMessage(transport)
        var secret = secret
        let messageLength = secret.readableBytes + NoiseTransport.tagLength
        outgoing.reserveCapacity(minimumWritableBytes: Self.clearRecordHeader + messageLength)
        outgoing.writeInteger(UInt16(0))
        outgoing.writeInteger(UInt32(clear.readableBytes))
        outgoing.writeInteger(UInt16(messageLength))
        let offset = outgoing.writerIndex - outgoing.readerIndex
        outgoing.writeBuffer(&secret)
        outgoing.writeRepeatingByte(0, count: NoiseTransport.tagLength)
        try outgoing.withUnsafeMutableReadableBytes { bytes in
            let message = UnsafeMutableRawBufferPointer(rebasing: bytes[offset..<offset + messageLength])
            try clear.withUnsafeReadableBytes { ad in try transport.encryptInPlace(message, ad: ad) }
        }
        queued += [outgoing, clear]
        outgoing = ByteBufferAllocator().buffer(capacity: 0)
    }

    private func sealOpenMessage(_ transport: NoiseTransport) throws {
        guard let (start, plaintext) = openMessage else { return }
        openMessage = nil
        outgoing.writeRepeatingByte(0, count: NoiseTransport.tagLength)
        let length = plaintext + NoiseTransport.tagLength
        outgoing.setInteger(UInt16(length), at: start)
        let offset = start + 2 - outgoing.readerIndex
        try outgoing.withUnsafeMutableReadableBytes { (bytes) throws(NoiseError) in
            try transport.encryptInPlace(UnsafeMutableRawBufferPointer(rebasing: bytes[offset..<offset + length]))
        }
    }

    private func sendHandshakeMessage(_ message: [UInt8], context: ChannelHandlerContext) throws {
        var out = context.channel.allocator.buffer(capacity: 2 + message.count)
        out.writeInteger(UInt16(message.count))
        out.writeBytes(message)
        context.writeAndFlush(Self.wrapOutboundOut(out), promise: nil)
    }

    // MARK: Receive budget

    /// Tells the host's receive budget what this connection buffers of frames not yet whole and
    /// how long the frame or clear record arriving says it is. A length past the connection's
    /// share of the budget could never be received whole: that closes the connection.
    private func accountBuffered(context: ChannelHandlerContext) {
        guard let account else { return }
        if case .failed = state { return }
        var announced = 0
        if let frameLength = plain.getInteger(at: plain.readerIndex, as: UInt32.self) {
            announced = 4 + Int(frameLength)
        }
        if case .established = state, raw.getInteger(at: raw.readerIndex, as: UInt16.self) == 0,
           let clearLength = raw.getInteger(at: raw.readerIndex + 2, as: UInt32.self),
           let messageLength = raw.getInteger(at: raw.readerIndex + 6, as: UInt16.self) {
            announced = max(announced, Self.clearRecordHeader + Int(messageLength) + Int(clearLength))
        }
        guard account.canEverHold(announced) else {
            fail(context: context, "a frame of \(announced) bytes is announced, more than this host's receive budget of \(account.budget.perConnection) bytes a connection")
            return
        }
        account.setBuffered(raw.readableBytes + plain.readableBytes, announced: announced)
    }

    // MARK: Failure

    private func fail(context: ChannelHandlerContext, _ reason: String) {
        if case .failed = state { return }
        if case .initiator = role, case .handshaking = state {
            // The device's user should read why (a wrong key, another wire version), not just "closed".
            context.fireErrorCaught(HandshakeFailure(description: reason))
        }
        state = .failed
        logger.notice("closing connection from \(context.remoteAddress?.description ?? "?"): \(reason)")
        failPendingWrites(ChannelError.ioOnClosedChannel)
        context.close(promise: nil)
    }

    private func failPendingWrites(_ error: any Error) {
        let promises = pendingPromises
        pendingPromises = []
        promises.forEach { $0.fail(error) }
    }
}

/// Why the device's side of a handshake gave up, for the handler that waits for the welcome.
struct HandshakeFailure: Error, CustomStringConvertible {
    let description: String
}

extension Frame {
    /// Writes the frame's 9-byte header (length, id, code) without its body.
    func encode(header buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(5 + bodyLength))
        buffer.writeInteger(id)
        buffer.writeInteger(code)
    }
}
