import NIOCore

/// One application frame inside the Noise-encrypted stream (docs/wire.md §3):
///
///     u32 length of what follows (id + code + body), big-endian
///     u32 request id
///     u8  code: the operation (client → host) or the status (host → client)
///     …   body
///
/// Frames are carried in Noise transport messages; a frame may span several messages and one
/// message may carry several frames.
public struct Frame: Sendable, Equatable {
    /// Frames are equal when they put the same bytes on the wire (a prefix is part of the body).
    public static func == (a: Frame, b: Frame) -> Bool {
        a.id == b.id && a.code == b.code && a.wholeBody == b.wholeBody
    }

    public var id: UInt32
    public var code: UInt8
    public var body: ByteBuffer
    /// Bytes sent before `body` as part of it, so a large payload (a shard) goes out without being
    /// copied behind its small arguments first. Frames received have none.
    public var bodyPrefix: ByteBuffer?
    /// Where in `body` the bytes sealed by the vault begin (shard segments: ciphertext and tags
    /// under keys no host has): from there on the transport may carry the body authenticated but
    /// not encrypted a second time (docs/wire.md §1.1). Everything before it (the shard's header,
    /// with its ids, versions and lengths) and the frame's arguments travel encrypted. nil: the
    /// whole body is encrypted. A hint to the sender only: the receiver sees the same frame.
    public var sealedFrom: Int?

    public init(id: UInt32, code: UInt8, body: ByteBuffer, bodyPrefix: ByteBuffer? = nil, sealedFrom: Int? = nil) {
        self.id = id
        self.code = code
        self.body = body
        self.bodyPrefix = bodyPrefix
        self.sealedFrom = sealedFrom
    }

    /// Length of the body on the wire, prefix included.
    public var bodyLength: Int { (bodyPrefix?.readableBytes ?? 0) + body.readableBytes }

    /// The body with its prefix joined (copies only when there is a prefix).
    public var wholeBody: ByteBuffer {
        guard var joined = bodyPrefix else { return body }
        var rest = body
        joined.writeBuffer(&rest)
        return joined
    }

    /// Bytes before the body: length, id and code.
    public static let headerLength = 9

    /// The largest body a frame may carry: the largest shard (64 MiB) plus room for its arguments.
    public static let maxBodyLength = (64 << 20) + 4096

    /// The header in front of every shard (docs/format.md §2: magic, version, k, m, index, length,
    /// vault id, file id, version, chunk index, nonce): never sent in clear.
    public static let shardHeaderLength = 84

    /// Where the sealed segments start in `length` bytes of a shard read from offset `offset`:
    /// past whatever part of the shard's header they hold.
    public static func sealedFrom(shardOffset offset: UInt64) -> Int {
        offset >= UInt64(shardHeaderLength) ? 0 : shardHeaderLength - Int(offset)
    }

    /// Appends the frame to `buffer`.
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(5 + bodyLength))
        buffer.writeInteger(id)
        buffer.writeInteger(code)
        if var prefix = bodyPrefix { buffer.writeBuffer(&prefix) }
        var body = body
        buffer.writeBuffer(&body)
    }

    /// Reads one whole frame from the front of `buffer`, or returns nil (consuming nothing) when
    /// the frame is not complete yet. Throws when the announced length is impossible, so a hostile
    /// peer cannot make us buffer more than `maxBodyLength`.
    public static func decode(from buffer: inout ByteBuffer, maxBodyLength: Int = Frame.maxBodyLength) throws(WireError) -> Frame? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        guard length >= 5 else { throw .malformedFrame("frame length \(length) is shorter than its header") }
        guard Int(length) - 5 <= maxBodyLength else {
            throw .frameTooLarge(length: Int(length) - 5, limit: maxBodyLength)
        }
        guard buffer.readableBytes >= 4 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        let id = buffer.readInteger(as: UInt32.self)!
        let code = buffer.readInteger(as: UInt8.self)!
        let body = buffer.readSlice(length: Int(length) - 5)!
        return Frame(id: id, code: code, body: body)
    }
}

/// What is wrong with bytes received from a peer. Any of these closes the connection.
public enum WireError: Error, Equatable, CustomStringConvertible {
    case malformedFrame(String)
    case frameTooLarge(length: Int, limit: Int)
    case unknownOperation(UInt8)
    case unknownStatus(UInt8)
    case malformedBody(operation: String, reason: String)
    case malformedHandshakePayload(String)
    /// The peer speaks another version of the protocol.
    case wireVersion(String)

    public var description: String {
        switch self {
        case .malformedFrame(let reason): return "malformed frame: \(reason)"
        case .frameTooLarge(let length, let limit): return "frame body of \(length) bytes exceeds the limit of \(limit)"
        case .unknownOperation(let code): return "unknown operation code \(code)"
        case .unknownStatus(let code): return "unknown status code \(code)"
        case .malformedBody(let operation, let reason): return "malformed \(operation) body: \(reason)"
        case .malformedHandshakePayload(let reason): return "malformed handshake payload: \(reason)"
        case .wireVersion(let reason): return reason
        }
    }
}
