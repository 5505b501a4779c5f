/// Why a chunk could not be decoded. Names shard indices, never key material or plaintext.
public enum CodecError: Error, Equatable, CustomStringConvertible {
    /// Fewer than k shards authenticated; `rejected` says what was wrong with the others.
    case notEnoughShards(authentic: Int, needed: Int, rejected: [ShardRejection])
    /// A range decode needed data shard `index` and it was missing or failed authentication.
    case dataShardUnavailable(index: Int, reason: ShardRejection.Reason?)
    /// The requested range lies outside the chunk.
    case rangeOutOfBounds(offset: Int, length: Int, chunkLength: Int)
    /// The plaintext handed to the encoder is larger than a chunk.
    case chunkTooLarge(length: Int, chunkSize: Int)

    public var description: String {
        switch self {
        case .notEnoughShards(let authentic, let needed, let rejected):
            let why = rejected.isEmpty ? "" : "; rejected: " + rejected.map(\.description).joined(separator: ", ")
            return "only \(authentic) authentic shards, \(needed) needed\(why)"
        case .dataShardUnavailable(let index, let reason):
            return "data shard \(index) unavailable" + (reason.map { " (\($0))" } ?? " (missing)")
        case .rangeOutOfBounds(let offset, let length, let chunkLength):
            return "range \(offset)+\(length) outside chunk of \(chunkLength) bytes"
        case .chunkTooLarge(let length, let chunkSize):
            return "chunk of \(length) bytes exceeds the chunk size \(chunkSize)"
        }
    }
}

/// A shard the decoder set aside, and why; decoding treats it as missing.
public struct ShardRejection: Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Error, Sendable, Equatable, CustomStringConvertible {
        /// Not a shard of a known format, or its length does not fit the expected chunk.
        case malformed
        /// Its header names other coding parameters, vault, file, version, chunk or length.
        case wrongContext
        /// The tag does not verify: altered bytes, or a shard from elsewhere.
        case authenticationFailed
        /// Another shard with the same index was already accepted.
        case duplicate

        public var description: String {
            switch self {
            case .malformed: return "malformed"
            case .wrongContext: return "belongs elsewhere"
            case .authenticationFailed: return "failed authentication"
            case .duplicate: return "duplicate"
            }
        }
    }

    /// The shard's claimed index, or nil when the header could not be read.
    public let index: Int?
    /// Position in the list handed to the decoder.
    public let position: Int
    public let reason: Reason

    public var description: String {
        "shard \(index.map(String.init) ?? "?") (\(reason))"
    }
}
