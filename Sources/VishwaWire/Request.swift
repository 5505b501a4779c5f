import NIOCore
import VishwaCore

/// A shard's id on the wire and on hosts: 16 bytes chosen by the client, printed as 32 hex digits.
public typealias WireShardID = Identifier128

/// A request from a device to a host, decoded and bounds-checked (docs/wire.md §4).
public enum Request: Sendable, Equatable {
    case ping
    case stat
    case put(id: WireShardID, data: ByteBuffer)
    /// `length` nil reads to the end of the shard.
    case get(id: WireShardID, offset: UInt64, length: UInt64?)
    case has(ids: [WireShardID])
    case delete(ids: [WireShardID])
    case list(after: WireShardID?, limit: UInt32)
    case scrub
    case backupPut(generation: UInt64, data: ByteBuffer)
    /// `generation` nil asks for the newest.
    case backupGet(generation: UInt64?)
    case backupList
    /// Asks the host to forget this device's pairing for the connection's vault.
    case unpair

    /// The most ids a HAS or DELETE may carry, and the most a LIST may return.
    public static let maxBatch = 65_536

    public var operation: Operation {
        switch self {
        case .ping: return .ping
        case .stat: return .stat
        case .put: return .put
        case .get: return .get
        case .has: return .has
        case .delete: return .delete
        case .list: return .list
        case .scrub: return .scrub
        case .backupPut: return .backupPut
        case .backupGet: return .backupGet
        case .backupList: return .backupList
        case .unpair: return .unpair
        }
    }

    /// The frame carrying this request under `id`.
    public func frame(id: UInt32, allocator: ByteBufferAllocator = ByteBufferAllocator()) -> Frame {
        var body: ByteBuffer
        switch self {
        case .ping, .stat, .scrub, .backupList, .unpair:
            body = allocator.buffer(capacity: 0)
        case .put(let shard, let data):
            // The shard goes out as the body itself; its id travels as the body's prefix.
            var prefix = allocator.buffer(capacity: 16)
            prefix.writeShardID(shard)
            return Frame(id: id, code: operation.rawValue, body: data, bodyPrefix: prefix,
                         sealedFrom: Frame.shardHeaderLength)
        case .get(let shard, let offset, let length):
            body = allocator.buffer(capacity: 32)
            body.writeShardID(shard)
            body.writeInteger(offset)
            body.writeInteger(length ?? UInt64.max)
        case .has(let ids), .delete(let ids):
            body = allocator.buffer(capacity: 4 + 16 * ids.count)
            body.writeShardIDs(ids)
        case .list(let after, let limit):
            body = allocator.buffer(capacity: 21)
            body.writeInteger(UInt8(after == nil ? 0 : 1))
            if let after { body.writeShardID(after) }
            body.writeInteger(limit)
        case .backupPut(let generation, let data):
            body = allocator.buffer(capacity: 8 + data.readableBytes)
            body.writeInteger(generation)
            var data = data
            body.writeBuffer(&data)
        case .backupGet(let generation):
            body = allocator.buffer(capacity: 8)
            body.writeInteger(generation ?? 0)
        }
        return Frame(id: id, code: operation.rawValue, body: body)
    }

    /// Decodes a request frame. Throws on an unknown operation or a body that does not parse
    /// exactly (trailing bytes included): the caller closes the connection.
    public init(frame: Frame) throws(WireError) {
        guard let operation = Operation(rawValue: frame.code) else { throw .unknownOperation(frame.code) }
        // A put whose prefix is just its shard id keeps the shard as received, not joined behind it.
        if operation == .put, var prefix = frame.bodyPrefix, prefix.readableBytes == 16, let id = prefix.readShardID() {
            self = .put(id: id, data: frame.body)
            return
        }
        var body = frame.wholeBody
        let name = operation.description
        func fail(_ reason: String) -> WireError { .malformedBody(operation: name, reason: reason) }
        switch operation {
        case .ping: self = .ping
        case .stat: self = .stat
        case .scrub: self = .scrub
        case .backupList: self = .backupList
        case .unpair: self = .unpair
        case .put:
            guard let id = body.readShardID() else { throw fail("no shard id") }
            self = .put(id: id, data: body)
            body.moveReaderIndex(to: body.writerIndex)
        case .get:
            guard let id = body.readShardID(), let offset = body.readInteger(as: UInt64.self),
                  let length = body.readInteger(as: UInt64.self) else { throw fail("too short") }
            self = .get(id: id, offset: offset, length: length == UInt64.max ? nil : length)
        case .has, .delete:
            guard let ids = body.readShardIDs(max: Self.maxBatch) else { throw fail("bad id list") }
            self = operation == .has ? .has(ids: ids) : .delete(ids: ids)
        case .list:
            guard let flag = body.readInteger(as: UInt8.self), flag <= 1 else { throw fail("bad cursor flag") }
            var after: WireShardID?
            if flag == 1 {
                guard let id = body.readShardID() else { throw fail("no cursor") }
                after = id
            }
            guard let limit = body.readInteger(as: UInt32.self), limit >= 1, limit <= Self.maxBatch else {
                throw fail("limit must be 1...\(Self.maxBatch)")
            }
            self = .list(after: after, limit: limit)
        case .backupPut:
            guard let generation = body.readInteger(as: UInt64.self), generation > 0 else { throw fail("no generation") }
            self = .backupPut(generation: generation, data: body)
            body.moveReaderIndex(to: body.writerIndex)
        case .backupGet:
            guard let generation = body.readInteger(as: UInt64.self) else { throw fail("no generation") }
            self = .backupGet(generation: generation == 0 ? nil : generation)
        }
        guard body.readableBytes == 0 else { throw fail("\(body.readableBytes) trailing bytes") }
    }
}

extension ByteBuffer {
    public mutating func writeShardID(_ id: WireShardID) {
        writeInteger(id.high)
        writeInteger(id.low)
    }

    public mutating func readShardID() -> WireShardID? {
        guard let high = readInteger(as: UInt64.self), let low = readInteger(as: UInt64.self) else { return nil }
        return WireShardID(high: high, low: low)
    }

    mutating func writeShardIDs(_ ids: [WireShardID]) {
        writeInteger(UInt32(ids.count))
        for id in ids { writeShardID(id) }
    }

    /// A u32 count then that many ids; nil if the count exceeds `max` or the bytes run out.
    mutating func readShardIDs(max: Int) -> [WireShardID]? {
        guard let count = readInteger(as: UInt32.self), Int(count) <= max, readableBytes >= Int(count) * 16 else {
            return nil
        }
        return (0..<Int(count)).map { _ in readShardID()! }
    }
}
