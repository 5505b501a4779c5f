import NIOCore
import VishwaCore

/// A host's answer to one request: a status and a body whose shape depends on the operation
/// (docs/wire.md §5). A failed status carries a one-line UTF-8 message.
public struct Response: Sendable, Equatable {
    public var status: Status
    public var body: ByteBuffer
    /// Where the body's sealed shard segments start: see `Frame.sealedFrom`. Not on the wire.
    public var sealedFrom: Int?

    public init(status: Status, body: ByteBuffer, sealedFrom: Int? = nil) {
        self.status = status
        self.body = body
        self.sealedFrom = sealedFrom
    }

    /// Responses are equal when they put the same frame on the wire.
    public static func == (a: Response, b: Response) -> Bool { a.status == b.status && a.body == b.body }

    /// The longest error message a host sends; longer ones are cut.
    public static let maxMessageLength = 1024

    public static func failure(_ status: Status, _ message: String) -> Response {
        var body = ByteBuffer()
        body.writeString(String(message.utf8.prefix(maxMessageLength)) ?? "error")
        return Response(status: status, body: body)
    }

    public func frame(id: UInt32) -> Frame { Frame(id: id, code: status.rawValue, body: body, sealedFrom: sealedFrom) }

    public init(frame: Frame) throws(WireError) {
        guard let status = Status(rawValue: frame.code) else { throw .unknownStatus(frame.code) }
        self.status = status
        self.body = frame.wholeBody
        self.sealedFrom = nil
    }

    /// The error message of a failed response.
    public var message: String {
        String(decoding: body.readableBytesView.prefix(Self.maxMessageLength), as: UTF8.self)
    }
}

/// STAT: the host's capacity and this vault's share of it.
public struct StatReply: Sendable, Equatable {
    public var capacityBytes: UInt64
    public var freeBytes: UInt64
    public var usedBytes: UInt64
    public var shardCount: UInt64
    /// nil: no quota.
    public var quotaBytes: UInt64?
    public var version: String

    public init(capacityBytes: UInt64, freeBytes: UInt64, usedBytes: UInt64, shardCount: UInt64, quotaBytes: UInt64?, version: String) {
        self.capacityBytes = capacityBytes
        self.freeBytes = freeBytes
        self.usedBytes = usedBytes
        self.shardCount = shardCount
        self.quotaBytes = quotaBytes
        self.version = version
    }

    public func encode() -> ByteBuffer {
        var b = ByteBuffer()
        b.writeInteger(capacityBytes)
        b.writeInteger(freeBytes)
        b.writeInteger(usedBytes)
        b.writeInteger(shardCount)
        b.writeInteger(quotaBytes ?? UInt64.max)
        let v = Array(version.utf8.prefix(255))
        b.writeInteger(UInt8(v.count))
        b.writeBytes(v)
        return b
    }

    public init(decoding body: ByteBuffer) throws(WireError) {
        var b = body
        guard let capacity = b.readInteger(as: UInt64.self), let free = b.readInteger(as: UInt64.self),
              let used = b.readInteger(as: UInt64.self), let count = b.readInteger(as: UInt64.self),
              let quota = b.readInteger(as: UInt64.self), let length = b.readInteger(as: UInt8.self),
              let version = b.readString(length: Int(length)), b.readableBytes == 0
        else { throw .malformedBody(operation: "STAT reply", reason: "wrong length") }
        self.init(capacityBytes: capacity, freeBytes: free, usedBytes: used, shardCount: count,
                  quotaBytes: quota == UInt64.max ? nil : quota, version: version)
    }
}

/// HAS: the stored size of each asked shard, nil when absent.
public enum HasReply {
    public static func encode(_ sizes: [Int?]) -> ByteBuffer {
        var b = ByteBuffer()
        b.writeInteger(UInt32(sizes.count))
        for size in sizes { b.writeInteger(Int64(size ?? -1)) }
        return b
    }

    public static func decode(_ body: ByteBuffer, expected: Int) throws(WireError) -> [Int?] {
        var b = body
        guard let count = b.readInteger(as: UInt32.self), Int(count) == expected, b.readableBytes == expected * 8 else {
            throw .malformedBody(operation: "HAS reply", reason: "expected \(expected) sizes")
        }
        return (0..<expected).map { _ in
            let size = b.readInteger(as: Int64.self)!
            return size < 0 ? nil : Int(size)
        }
    }
}

/// DELETE: how many of the shards existed and were removed.
public enum CountReply {
    public static func encode(_ count: Int) -> ByteBuffer {
        var b = ByteBuffer()
        b.writeInteger(UInt32(count))
        return b
    }

    public static func decode(_ body: ByteBuffer) throws(WireError) -> Int {
        var b = body
        guard let count = b.readInteger(as: UInt32.self), b.readableBytes == 0 else {
            throw .malformedBody(operation: "count reply", reason: "wrong length")
        }
        return Int(count)
    }
}

/// LIST: a page of shard ids in ascending order, and the cursor of the next page.
public struct ListReply: Sendable, Equatable {
    public var ids: [WireShardID]
    public var next: WireShardID?

    public init(ids: [WireShardID], next: WireShardID?) {
        self.ids = ids
        self.next = next
    }

    public func encode() -> ByteBuffer {
        var b = ByteBuffer()
        b.writeShardIDs(ids)
        b.writeInteger(UInt8(next == nil ? 0 : 1))
        if let next { b.writeShardID(next) }
        return b
    }

    public init(decoding body: ByteBuffer) throws(WireError) {
        var b = body
        guard let ids = b.readShardIDs(max: Request.maxBatch), let flag = b.readInteger(as: UInt8.self), flag <= 1 else {
            throw .malformedBody(operation: "LIST reply", reason: "bad id list")
        }
        var next: WireShardID?
        if flag == 1 {
            guard let id = b.readShardID() else { throw .malformedBody(operation: "LIST reply", reason: "no cursor") }
            next = id
        }
        guard b.readableBytes == 0 else { throw .malformedBody(operation: "LIST reply", reason: "trailing bytes") }
        self.init(ids: ids, next: next)
    }
}

/// SCRUB: how much the host checked and which shards failed their CRC.
public struct ScrubReply: Sendable, Equatable {
    public var checked: UInt64
    public var bytes: UInt64
    public var bad: [WireShardID]

    public init(checked: UInt64, bytes: UInt64, bad: [WireShardID]) {
        self.checked = checked
        self.bytes = bytes
        self.bad = bad
    }

    public func encode() -> ByteBuffer {
        var b = ByteBuffer()
        b.writeInteger(checked)
        b.writeInteger(bytes)
        b.writeShardIDs(Array(bad.prefix(Request.maxBatch)))
        return b
    }

    public init(decoding body: ByteBuffer) throws(WireError) {
        var b = body
        guard let checked = b.readInteger(as: UInt64.self), let bytes = b.readInteger(as: UInt64.self),
              let bad = b.readShardIDs(max: Request.maxBatch), b.readableBytes == 0
        else { throw .malformedBody(operation: "SCRUB reply", reason: "wrong length") }
        self.init(checked: checked, bytes: bytes, bad: bad)
    }
}

/// BACKUP_GET: the generation found and its bytes. BACKUP_LIST: generations held, ascending.
public enum BackupReply {
    public static func encode(generation: UInt64, data: ByteBuffer) -> ByteBuffer {
        var b = ByteBuffer()
        b.reserveCapacity(8 + data.readableBytes)
        b.writeInteger(generation)
        var data = data
        b.writeBuffer(&data)
        return b
    }

    public static func decode(_ body: ByteBuffer) throws(WireError) -> (generation: UInt64, data: ByteBuffer) {
        var b = body
        guard let generation = b.readInteger(as: UInt64.self) else {
            throw .malformedBody(operation: "BACKUP_GET reply", reason: "no generation")
        }
        return (generation, b)
    }

    public static func encodeList(_ generations: [UInt64]) -> ByteBuffer {
        var b = ByteBuffer()
        b.writeInteger(UInt32(generations.count))
        for g in generations { b.writeInteger(g) }
        return b
    }

    public static func decodeList(_ body: ByteBuffer) throws(WireError) -> [UInt64] {
        var b = body
        guard let count = b.readInteger(as: UInt32.self), count <= 1024, b.readableBytes == Int(count) * 8 else {
            throw .malformedBody(operation: "BACKUP_LIST reply", reason: "wrong length")
        }
        return (0..<Int(count)).map { _ in b.readInteger(as: UInt64.self)! }
    }
}
