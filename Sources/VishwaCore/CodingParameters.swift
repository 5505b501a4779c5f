/// How a file's chunks are cut and coded: `k` data shards, `m` parity shards, and the chunk size.
///
/// Any `k` of the `n = k + m` shards rebuild a chunk. Limits come from the code itself:
/// GF(2^8) Reed-Solomon allows at most 255 shards, and the shard format stores `k`, `m` and the
/// shard index in one byte each (docs/format.md §2).
public struct CodingParameters: Sendable, Hashable, CustomStringConvertible {
    /// Number of data shards; at least 1.
    public let k: Int
    /// Number of parity shards; at least 0.
    public let m: Int
    /// Plaintext bytes per chunk; the last chunk of a file may be shorter.
    public let chunkSize: Int

    /// The default: 6 data + 4 parity shards over 4 MiB chunks (survives the loss of any 4 shards).
    public static let `default` = try! CodingParameters(k: 6, m: 4, chunkSize: 4 << 20)

    /// The largest chunk the shard format can describe (its length field is 32 bits); kept far lower
    /// in practice so one chunk and its shards fit comfortably in memory.
    public static let maxChunkSize = 256 << 20

    /// Total number of shards per chunk.
    public var n: Int { k + m }

    /// Throws `ParameterError` when the combination cannot be coded.
    public init(k: Int, m: Int, chunkSize: Int) throws(ParameterError) {
        guard k >= 1 else { throw .invalid("k must be at least 1 (got \(k))") }
        guard m >= 0 else { throw .invalid("m must be at least 0 (got \(m))") }
        guard k + m <= 255 else { throw .invalid("k + m must be at most 255 (got \(k + m))") }
        guard chunkSize >= 1, chunkSize <= Self.maxChunkSize else {
            throw .invalid("chunk size must be between 1 B and \(ByteCount(Self.maxChunkSize)) (got \(chunkSize))")
        }
        self.k = k
        self.m = m
        self.chunkSize = chunkSize
    }

    /// Bytes of plaintext carried by each shard of a chunk of `chunkLength` bytes:
    /// the chunk is split into `k` equal pieces, the last one zero-padded.
    public func pieceLength(forChunkLength chunkLength: Int) -> Int {
        (chunkLength + k - 1) / k
    }

    public var description: String { "\(k)+\(m), \(ByteCount(chunkSize)) chunks" }
}

/// A coding parameter that cannot be used; the message says which and why.
public enum ParameterError: Error, Equatable, CustomStringConvertible {
    case invalid(String)

    public var description: String {
        switch self {
        case .invalid(let message): return "invalid coding parameters: \(message)"
        }
    }
}
