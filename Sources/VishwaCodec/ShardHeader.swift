import VishwaCore
import VishwaCrypto

/// Where a shard belongs: everything its authentication tag binds it to (docs/format.md §2).
///
/// A shard moved to another vault, file, version, chunk or position, or presented with other
/// coding parameters or chunk length, fails authentication because the decoder rebuilds the
/// associated data from the context it expects, never from the shard's own header.
public struct ShardContext: Sendable, Hashable {
    public var vaultID: VaultID
    public var fileID: FileID
    public var version: UInt64
    public var chunkIndex: UInt64
    /// Plaintext length of this chunk (the last chunk of a file is usually shorter).
    public var chunkLength: Int
    /// Which encoding of the chunk (format 3): random per seal and recorded with the chunk, so a
    /// shard of another encoding of the same chunk (sealed before a rewrite under the same
    /// version) fails authentication instead of mixing two contents. Nil for a chunk sealed once
    /// by construction (catalog backups) and for chunks written before format 3: their shards
    /// are formats 1 and 2, which carry no seal id.
    public var sealID: SealID?

    public init(vaultID: VaultID, fileID: FileID, version: UInt64, chunkIndex: UInt64, chunkLength: Int, sealID: SealID? = nil) {
        self.vaultID = vaultID
        self.fileID = fileID
        self.version = version
        self.chunkIndex = chunkIndex
        self.chunkLength = chunkLength
        self.sealID = sealID
    }

    /// The shard format version of this chunk's shards: 3 with a seal id, 2 without (1 is read too).
    var formatVersion: UInt8 { sealID == nil ? 2 : ShardFormat.version }

    /// Whether a shard of format `version` can belong to this chunk: format 3 exactly when the
    /// chunk has a seal id, so an older shard cannot stand in for a sealed one, nor the reverse.
    func accepts(formatVersion version: UInt8) -> Bool {
        sealID == nil ? version < ShardFormat.version : version == ShardFormat.version
    }
}

/// The fixed-size header in front of every shard (every format version).
///
///     offset size  field
///          0    4  magic "VWSH"
///          4    1  format version (3; 1 and 2 are still read)
///          5    1  k
///          6    1  m
///          7    1  shard index (0..<k data, k..<k+m parity)
///          8    4  chunk length, big-endian
///         12   16  vault id
///         28   16  file id
///         44    8  file version, big-endian
///         52    8  chunk index, big-endian
///         60   24  XChaCha20 nonce (random)
///         84    …  version 1: ciphertext of the piece (ceil(chunk length / k) bytes), then its tag
///                  versions 2 and 3: the piece in segments of 64 KiB (the last one shorter),
///                  each ciphertext followed by its own tag
///
/// The associated data of the AEAD is bytes 0..<60, and for version 3 the chunk's 16-byte seal id
/// after them (it is not stored in the shard: the reader takes it from its catalog). Versions 2
/// and 3 seal segment s under the nonce whose last 8 bytes are XORed with s (little-endian), so a
/// segment can be fetched and authenticated alone: a 4 KiB read costs one 64 KiB segment.
public enum ShardFormat {
    public static let magic: [UInt8] = Array("VWSH".utf8)
    /// The version written for a chunk with a seal id (every file chunk); 2 without one.
    public static let version: UInt8 = 3
    /// The versions read.
    public static let readableVersions: ClosedRange<UInt8> = 1...3
    /// Bytes 0..<60: the authenticated header.
    public static let associatedDataLength = 60
    /// Bytes of the seal id appended to the associated data (version 3).
    public static let sealIDLength = 16
    public static let nonceOffset = 60
    public static let headerLength = 84
    public static let tagLength = 16
    /// Plaintext bytes per segment (version 2).
    public static let segmentLength = 64 << 10

    /// Total bytes of one shard of a chunk of `chunkLength` bytes under `parameters` (version written).
    public static func shardLength(chunkLength: Int, parameters: CodingParameters) -> Int {
        SegmentLayout(piece: parameters.pieceLength(forChunkLength: chunkLength), version: version).shardLength
    }

    /// Writes the 60 authenticated header bytes for shard `index` of `context` at `out`.
    static func writeAssociatedData(
        to out: UnsafeMutableRawPointer, context: ShardContext, parameters: CodingParameters, index: Int, version: UInt8
    ) {
        var p = out
        func put(_ bytes: [UInt8]) {
            bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            p += bytes.count
        }
        func putBE<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.bigEndian) { p.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            p += MemoryLayout<T>.size
        }
        put(magic)
        putBE(version)
        putBE(UInt8(parameters.k))
        putBE(UInt8(parameters.m))
        putBE(UInt8(index))
        putBE(UInt32(context.chunkLength))
        putBE(context.vaultID.high)
        putBE(context.vaultID.low)
        putBE(context.fileID.high)
        putBE(context.fileID.low)
        putBE(context.version)
        putBE(context.chunkIndex)
        assert(p - out == associatedDataLength)
    }

    /// Room for the longest associated data: the header's 60 bytes and a seal id.
    static let maxAssociatedDataLength = associatedDataLength + sealIDLength

    /// Writes the associated data of shard `index` of `context` in format `version` at `out`
    /// (`maxAssociatedDataLength` bytes of room): the 60 header bytes, then for version 3 the
    /// chunk's seal id. Returns its length.
    static func writeFullAssociatedData(
        to out: UnsafeMutableRawPointer, context: ShardContext, parameters: CodingParameters, index: Int, version: UInt8
    ) -> Int {
        writeAssociatedData(to: out, context: context, parameters: parameters, index: index, version: version)
        guard version == ShardFormat.version, let seal = context.sealID else { return associatedDataLength }
        withUnsafeBytes(of: seal.high.bigEndian) { (out + associatedDataLength).copyMemory(from: $0.baseAddress!, byteCount: 8) }
        withUnsafeBytes(of: seal.low.bigEndian) { (out + associatedDataLength + 8).copyMemory(from: $0.baseAddress!, byteCount: 8) }
        return maxAssociatedDataLength
    }

    /// The nonce of segment `segment`: the shard's nonce with its last 8 bytes XORed with the
    /// segment number (little-endian). Segment 0 uses the shard's nonce itself.
    static func segmentNonce(_ base: UnsafeRawPointer, segment: Int, into out: UnsafeMutableRawPointer) {
        out.copyMemory(from: base, byteCount: XChaCha20Poly1305.nonceLength)
        var s = UInt64(segment)
        for i in 0..<8 {
            out.storeBytes(of: out.load(fromByteOffset: 16 + i, as: UInt8.self) ^ UInt8(truncatingIfNeeded: s),
                           toByteOffset: 16 + i, as: UInt8.self)
            s >>= 8
        }
    }
}

/// Where a piece's bytes lie in a shard: one segment (version 1, the whole piece under one tag)
/// or 64 KiB segments each followed by its tag (versions 2 and 3).
public struct SegmentLayout: Sendable, Equatable {
    /// Plaintext bytes of the piece.
    public let piece: Int
    /// Plaintext bytes per segment.
    public let segmentLength: Int
    /// Segments in the shard; at least one, so even an empty piece carries a tag.
    public let count: Int

    public init(piece: Int, version: UInt8) {
        self.piece = piece
        segmentLength = version == 1 ? max(piece, 1) : ShardFormat.segmentLength
        count = max(1, (piece + segmentLength - 1) / segmentLength)
    }

    public var shardLength: Int { ShardFormat.headerLength + piece + count * ShardFormat.tagLength }

    /// The piece bytes segment `s` holds.
    public func plaintext(_ s: Int) -> Range<Int> {
        (s * segmentLength)..<min(piece, (s + 1) * segmentLength)
    }

    /// The shard bytes of segment `s`: ciphertext then tag.
    public func sealed(_ s: Int) -> Range<Int> {
        let start = ShardFormat.headerLength + s * (segmentLength + ShardFormat.tagLength)
        return start..<(start + plaintext(s).count + ShardFormat.tagLength)
    }

    /// The segments that hold piece bytes `range` (empty range: none).
    public func segments(covering range: Range<Int>) -> Range<Int> {
        guard !range.isEmpty else { return 0..<0 }
        return (range.lowerBound / segmentLength)..<((range.upperBound - 1) / segmentLength + 1)
    }

    /// The shard bytes to fetch for piece bytes `range` (besides the header, which holds the nonce).
    public func shardBytes(covering range: Range<Int>) -> Range<Int> {
        let segments = segments(covering: range)
        guard let first = segments.first, let last = segments.last else { return ShardFormat.headerLength..<ShardFormat.headerLength }
        return sealed(first).lowerBound..<sealed(last).upperBound
    }
}

/// What a shard's own header claims, read without trusting it (nothing here is authenticated yet).
public struct ShardHeader: Sendable, Hashable {
    public let formatVersion: UInt8
    public let k: Int
    public let m: Int
    public let index: Int
    public let chunkLength: Int
    public let vaultID: VaultID
    public let fileID: FileID
    public let version: UInt64
    public let chunkIndex: UInt64

    /// Parses the header at the front of `bytes`; nil when too short, the magic is wrong, or the
    /// format version is unknown.
    public init?(parsing bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= ShardFormat.headerLength,
              bytes.prefix(4).elementsEqual(ShardFormat.magic) else { return nil }
        func be<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T {
            var value: T = 0
            for i in 0..<MemoryLayout<T>.size { value = value << 8 | T(bytes[offset + i]) }
            return value
        }
        formatVersion = bytes[4]
        guard ShardFormat.readableVersions.contains(formatVersion) else { return nil }
        k = Int(bytes[5])
        m = Int(bytes[6])
        index = Int(bytes[7])
        chunkLength = Int(be(8, UInt32.self))
        vaultID = VaultID(high: be(12, UInt64.self), low: be(20, UInt64.self))
        fileID = FileID(high: be(28, UInt64.self), low: be(36, UInt64.self))
        version = be(44, UInt64.self)
        chunkIndex = be(52, UInt64.self)
    }
}
