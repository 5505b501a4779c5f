/// The n shards of one chunk, laid out back to back in one allocation (shard i at i·shardLength).
///
/// One buffer instead of n arrays keeps encoding to a single allocation the size of the shards.
public struct EncodedChunk: Sendable {
    /// All shards, concatenated.
    public let storage: [UInt8]
    /// Bytes per shard (header + piece + tag).
    public let shardLength: Int
    /// Number of shards (k + m).
    public let count: Int

    /// Shard `index` without copying.
    public func shard(_ index: Int) -> ArraySlice<UInt8> {
        precondition(index >= 0 && index < count)
        return storage[index * shardLength..<(index + 1) * shardLength]
    }

    /// Every shard, in index order, without copying.
    public var shards: [ArraySlice<UInt8>] { (0..<count).map(shard) }
}

/// Anything that can lend a shard's bytes contiguously: arrays, slices, and (in the transport) NIO buffers.
public protocol ShardBytes {
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}

extension Array: ShardBytes where Element == UInt8 {}
extension ArraySlice: ShardBytes where Element == UInt8 {}
