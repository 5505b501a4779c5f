import VishwaCore

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

    public init(vaultID: VaultID, fileID: FileID, version: UInt64, chunkIndex: UInt64, chunkLength: Int) {
        self.vaultID = vaultID
        self.fileID = fileID
        self.version = version
        self.chunkIndex = chunkIndex
        self.chunkLength = chunkLength
    }
}

/// The fixed-size header in front of every shard, format version 1.
///
///     offset size  field
///          0    4  magic "VWSH"
///          4    1  format version (1)
///          5    1  k
///          6    1  m
///          7    1  shard index (0..<k data, k..<k+m parity)
///          8    4  chunk length, big-endian
///         12   16  vault id
///         28   16  file id
///         44    8  file version, big-endian
///         52    8  chunk index, big-endian
///         60   24  XChaCha20 nonce (random)
///         84    …  ciphertext of the piece (ceil(chunk length / k) bytes)
///          …   16  Poly1305 tag
///
/// The associated data of the AEAD is bytes 0..<60.
public enum ShardFormat {
    public static let magic: [UInt8] = Array("VWSH".utf8)
    public static let version: UInt8 = 1
    /// Bytes 0..<60: the authenticated header.
    public static let associatedDataLength = 60
    public static let nonceOffset = 60
    public static let headerLength = 84
    public static let tagLength = 16
    /// Header plus tag: what each shard adds to its piece.
    public static let overhead = headerLength + tagLength

    /// Total bytes of one shard of a chunk of `chunkLength` bytes under `parameters`.
    public static func shardLength(chunkLength: Int, parameters: CodingParameters) -> Int {
        overhead + parameters.pieceLength(forChunkLength: chunkLength)
    }

    /// Writes the 60 authenticated header bytes for shard `index` of `context` at `out`.
    static func writeAssociatedData(
        to out: UnsafeMutableRawPointer, context: ShardContext, parameters: CodingParameters, index: Int
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
        guard formatVersion == ShardFormat.version else { return nil }
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
