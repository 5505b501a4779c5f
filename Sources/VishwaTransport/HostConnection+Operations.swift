import NIOCore
import VishwaWire

/// Typed forms of every operation (docs/wire.md §4). Each throws `TransportError`.
extension HostConnection {
    public func ping(timeout: TimeAmount = .seconds(5)) async throws(TransportError) {
        _ = try await send(.ping, timeout: timeout)
    }

    public func stat(timeout: TimeAmount = .seconds(10)) async throws(TransportError) -> StatReply {
        let body = try await send(.stat, timeout: timeout)
        return try decoding { () throws(WireError) in try StatReply(decoding: body) }
    }

    /// Stores a shard; returns once the host has it on disk (fsynced).
    public func put(_ id: WireShardID, _ data: ByteBuffer, timeout: TimeAmount = .seconds(60)) async throws(TransportError) {
        _ = try await send(.put(id: id, data: data), timeout: timeout)
    }

    /// A shard's bytes, whole or `offset..<offset+length`.
    public func get(_ id: WireShardID, offset: UInt64 = 0, length: UInt64? = nil,
                    timeout: TimeAmount = .seconds(60)) async throws(TransportError) -> ByteBuffer {
        try await send(.get(id: id, offset: offset, length: length), timeout: timeout)
    }

    /// The stored size of each shard, nil where absent.
    public func has(_ ids: [WireShardID], timeout: TimeAmount = .seconds(30)) async throws(TransportError) -> [Int?] {
        let body = try await send(.has(ids: ids), timeout: timeout)
        return try decoding { () throws(WireError) in try HasReply.decode(body, expected: ids.count) }
    }

    /// Removes shards; returns how many existed.
    public func delete(_ ids: [WireShardID], timeout: TimeAmount = .seconds(30)) async throws(TransportError) -> Int {
        let body = try await send(.delete(ids: ids), timeout: timeout)
        return try decoding { () throws(WireError) in try CountReply.decode(body) }
    }

    public func list(after: WireShardID?, limit: Int = 10_000, timeout: TimeAmount = .seconds(30)) async throws(TransportError) -> ListReply {
        let body = try await send(.list(after: after, limit: UInt32(max(1, min(limit, Request.maxBatch)))), timeout: timeout)
        return try decoding { () throws(WireError) in try ListReply(decoding: body) }
    }

    /// Asks the host to check the CRC of every shard of this vault.
    public func scrub(timeout: TimeAmount = .seconds(3600)) async throws(TransportError) -> ScrubReply {
        let body = try await send(.scrub, timeout: timeout)
        return try decoding { () throws(WireError) in try ScrubReply(decoding: body) }
    }

    public func putBackup(generation: UInt64, _ data: ByteBuffer, timeout: TimeAmount = .seconds(60)) async throws(TransportError) {
        _ = try await send(.backupPut(generation: generation, data: data), timeout: timeout)
    }

    /// A stored catalog backup: `generation` nil for the newest.
    public func getBackup(generation: UInt64?, timeout: TimeAmount = .seconds(60)) async throws(TransportError)
        -> (generation: UInt64, data: ByteBuffer) {
        let body = try await send(.backupGet(generation: generation), timeout: timeout)
        return try decoding { () throws(WireError) in try BackupReply.decode(body) }
    }

    public func listBackups(timeout: TimeAmount = .seconds(10)) async throws(TransportError) -> [UInt64] {
        let body = try await send(.backupList, timeout: timeout)
        return try decoding { () throws(WireError) in try BackupReply.decodeList(body) }
    }

    /// Asks the host to forget this device's pairing for the connection's vault; the host
    /// answers `unauthorized` to anything after it.
    public func unpair(timeout: TimeAmount = .seconds(10)) async throws(TransportError) {
        _ = try await send(.unpair, timeout: timeout)
    }

    private func decoding<T>(_ body: () throws(WireError) -> T) throws(TransportError) -> T {
        do {
            return try body()
        } catch {
            throw .malformedReply(address: address.description, reason: error.description)
        }
    }
}
