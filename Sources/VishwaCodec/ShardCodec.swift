import VishwaCore
import VishwaCrypto
import VishwaErasure

/// Turns a plaintext chunk into n self-describing, individually authenticated shards and back.
///
/// Code, then encrypt (docs/architecture.md §3): the chunk is split into k equal pieces (the last zero-padded),
/// ISA-L computes m parity pieces, and each of the n pieces is encrypted on its own with
/// XChaCha20-Poly1305 under the file key, a random nonce, and the chunk's context as associated
/// data. Any k authentic shards rebuild the chunk; a shard that fails its tag is simply an erasure.
///
/// Pure computation, no I/O; immutable and safe to share across threads.
public struct ShardCodec: Sendable {
    public let parameters: CodingParameters
    let code: ReedSolomon

    public init(parameters: CodingParameters = .default) {
        self.parameters = parameters
        self.code = ReedSolomon(k: parameters.k, m: parameters.m)
    }

    // MARK: Encoding

    /// Encodes one chunk (at most `chunkSize` bytes; `context.chunkLength` must equal its length).
    ///
    /// Allocates exactly one buffer, the n shards; the plaintext is copied once into it, coded and
    /// encrypted in place. `nonces` fills each shard's 24-byte nonce; leave it alone outside tests.
    public func encode(
        _ chunk: UnsafeRawBufferPointer,
        context: ShardContext,
        key: SecretBytes,
        nonces: (UnsafeMutableRawBufferPointer) -> Void = Random.fill
    ) throws(CodecError) -> EncodedChunk {
        guard chunk.count <= parameters.chunkSize else {
            throw .chunkTooLarge(length: chunk.count, chunkSize: parameters.chunkSize)
        }
        precondition(context.chunkLength == chunk.count, "context.chunkLength must equal the chunk's length")
        let (k, n) = (parameters.k, parameters.n)
        let layout = SegmentLayout(piece: parameters.pieceLength(forChunkLength: chunk.count), version: context.formatVersion)
        let shardLength = layout.shardLength

        let storage = [UInt8](unsafeUninitializedCapacity: n * shardLength) { buffer, initialized in
            let base = UnsafeMutableRawPointer(buffer.baseAddress!)
            for s in 0..<layout.count {
                let span = layout.plaintext(s)
                let at = layout.sealed(s).lowerBound
                // 1. This segment of each of the k pieces, zero-padding past the chunk's end.
                for i in 0..<k {
                    let destination = base + i * shardLength + at
                    let start = i * layout.piece + span.lowerBound
                    let available = max(0, min(span.count, chunk.count - start))
                    if available > 0 { destination.copyMemory(from: chunk.baseAddress! + start, byteCount: available) }
                    if available < span.count {
                        (destination + available).initializeMemory(as: UInt8.self, repeating: 0, count: span.count - available)
                    }
                }
                // 2. Parity, straight into the parity shards' segments (the code works bytewise,
                // so coding segment by segment equals coding whole pieces).
                code.encode(
                    length: span.count,
                    data: (0..<k).map { UnsafeRawPointer(base + $0 * shardLength + at) },
                    parity: (k..<n).map { base + $0 * shardLength + at })
            }
            // 3. Header, nonce, and in-place encryption of each segment.
            for i in 0..<n {
                seal(shard: base + i * shardLength, index: i, layout: layout, context: context, key: key, nonces: nonces)
            }
            initialized = n * shardLength
        }
        return EncodedChunk(storage: storage, shardLength: shardLength, count: n)
    }

    /// Encodes a chunk held in an array.
    public func encode(_ chunk: [UInt8], context: ShardContext, key: SecretBytes) throws(CodecError) -> EncodedChunk {
        do {
            return try chunk.withUnsafeBytes { try encode($0, context: context, key: key) }
        } catch let error as CodecError { throw error } catch { fatalError("unreachable: \(error)") }
    }

    private func seal(
        shard: UnsafeMutableRawPointer, index: Int, layout: SegmentLayout, context: ShardContext, key: SecretBytes,
        nonces: (UnsafeMutableRawBufferPointer) -> Void
    ) {
        let version = context.formatVersion
        ShardFormat.writeAssociatedData(to: shard, context: context, parameters: parameters, index: index, version: version)
        let nonce = UnsafeMutableRawBufferPointer(start: shard + ShardFormat.nonceOffset, count: XChaCha20Poly1305.nonceLength)
        nonces(nonce)
        withUnsafeTemporaryAllocation(byteCount: XChaCha20Poly1305.nonceLength + ShardFormat.maxAssociatedDataLength,
                                      alignment: 8) { scratch in
            let segmentNonce = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<XChaCha20Poly1305.nonceLength])
            let ad = scratch.baseAddress! + XChaCha20Poly1305.nonceLength
            let adLength = ShardFormat.writeFullAssociatedData(to: ad, context: context, parameters: parameters, index: index,
                                                               version: version)
            for s in 0..<layout.count {
                let sealed = layout.sealed(s)
                let length = sealed.count - ShardFormat.tagLength
                ShardFormat.segmentNonce(nonce.baseAddress!, segment: s, into: segmentNonce.baseAddress!)
                XChaCha20Poly1305.sealInPlace(
                    UnsafeMutableRawBufferPointer(start: shard + sealed.lowerBound, count: length),
                    tag: UnsafeMutableRawBufferPointer(start: shard + sealed.lowerBound + length, count: ShardFormat.tagLength),
                    nonce: UnsafeRawBufferPointer(segmentNonce),
                    additionalData: UnsafeRawBufferPointer(start: ad, count: adLength),
                    key: key)
            }
        }
    }

    // MARK: Authentication

    /// Checks a shard's header against `context` and decrypts its piece into `output`
    /// (`pieceLength` bytes). Returns the shard's index, or why it was set aside.
    ///
    /// The associated data is rebuilt from `context` and the claimed index, so a shard from any
    /// other chunk, file, version, vault, position or encoding (seal id) fails here even if its
    /// header was rewritten.
    func open(
        _ shard: UnsafeRawBufferPointer, into output: UnsafeMutableRawPointer, context: ShardContext, key: SecretBytes
    ) -> Result<Int, ShardRejection.Reason> {
        let piece = parameters.pieceLength(forChunkLength: context.chunkLength)
        guard let header = ShardHeader(parsing: shard),
              shard.count == SegmentLayout(piece: piece, version: header.formatVersion).shardLength
        else { return .failure(.malformed) }
        return open(header, of: shard, body: shard, at: 0, piece: 0..<piece, into: output, context: context, key: key).map(\.index)
    }

    /// Checks a shard's parsed `header` against `context` and decrypts the segments that hold
    /// piece bytes `piece` from `body`, the shard's bytes from offset `at` (`shard` is at least
    /// its first bytes, for the nonce): whole segments, written to `output` from the first one's
    /// start. Returns the shard's index and the piece offset `output` starts at, or why it was
    /// set aside (`.malformed` when `body` does not hold those segments).
    func open(
        _ header: ShardHeader, of shard: UnsafeRawBufferPointer, body: UnsafeRawBufferPointer, at start: Int,
        piece range: Range<Int>, into output: UnsafeMutableRawPointer, context: ShardContext, key: SecretBytes
    ) -> Result<(index: Int, start: Int), ShardRejection.Reason> {
        let layout = SegmentLayout(piece: parameters.pieceLength(forChunkLength: context.chunkLength), version: header.formatVersion)
        // A range inside an empty piece still opens its one segment, so its tag is checked.
        let segments = range.isEmpty ? 0..<1 : layout.segments(covering: range)
        guard range.upperBound <= layout.piece, let first = segments.first, let last = segments.last,
              start <= layout.sealed(first).lowerBound, layout.sealed(last).upperBound - start <= body.count
        else { return .failure(.malformed) }
        guard context.accepts(formatVersion: header.formatVersion),
              header.k == parameters.k, header.m == parameters.m, header.index < parameters.n,
              header.chunkLength == context.chunkLength, header.vaultID == context.vaultID,
              header.fileID == context.fileID, header.version == context.version,
              header.chunkIndex == context.chunkIndex
        else { return .failure(.wrongContext) }

        return withUnsafeTemporaryAllocation(byteCount: ShardFormat.maxAssociatedDataLength + XChaCha20Poly1305.nonceLength,
                                             alignment: 8) { scratch in
            let ad = scratch.baseAddress!, nonce = scratch.baseAddress! + ShardFormat.maxAssociatedDataLength
            let adLength = ShardFormat.writeFullAssociatedData(to: ad, context: context, parameters: parameters,
                                                               index: header.index, version: header.formatVersion)
            let shardNonce = shard.baseAddress! + ShardFormat.nonceOffset
            var out = output
            for s in segments {
                let sealed = layout.sealed(s)
                let length = sealed.count - ShardFormat.tagLength
                let ciphertext = UnsafeRawBufferPointer(start: body.baseAddress! + (sealed.lowerBound - start), count: length)
                ShardFormat.segmentNonce(shardNonce, segment: header.formatVersion == 1 ? 0 : s, into: nonce)
                do {
                    try XChaCha20Poly1305.open(
                        ciphertext,
                        tag: UnsafeRawBufferPointer(start: body.baseAddress! + (sealed.lowerBound - start + length), count: ShardFormat.tagLength),
                        into: UnsafeMutableRawBufferPointer(start: out, count: length),
                        nonce: UnsafeRawBufferPointer(start: nonce, count: XChaCha20Poly1305.nonceLength),
                        additionalData: UnsafeRawBufferPointer(start: ad, count: adLength),
                        key: key)
                } catch {
                    return .failure(.authenticationFailed)
                }
                out += length
            }
            return .success((header.index, layout.plaintext(first).lowerBound))
        }
    }

    /// Reads the shard index a shard claims, without authenticating it (for routing and reports).
    public static func claimedIndex(of shard: some ShardBytes) -> Int? {
        shard.withUnsafeBytes { ShardHeader(parsing: $0)?.index }
    }
}

extension ShardCodec {
    /// Authenticates one shard against the chunk it should belong to, without decoding the chunk.
    /// Returns its index, or why it was rejected. For fsck --deep; decrypts into scratch memory.
    public func verify(_ shard: some ShardBytes, context: ShardContext, key: SecretBytes) -> Result<Int, ShardRejection.Reason> {
        let piece = parameters.pieceLength(forChunkLength: context.chunkLength)
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: max(piece, 1), alignment: 64)
        defer { scratch.deallocate() }
        return shard.withUnsafeBytes { open($0, into: scratch, context: context, key: key) }
    }
}
