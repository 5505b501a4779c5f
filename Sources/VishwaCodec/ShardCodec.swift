import VishwaCore
import VishwaCrypto
import VishwaErasure

/// Turns a plaintext chunk into n self-describing, individually authenticated shards and back.
///
/// Code, then encrypt (DESIGN §3): the chunk is split into k equal pieces (the last zero-padded),
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
        let piece = parameters.pieceLength(forChunkLength: chunk.count)
        let shardLength = ShardFormat.overhead + piece
        let header = ShardFormat.headerLength

        let storage = [UInt8](unsafeUninitializedCapacity: n * shardLength) { buffer, initialized in
            let base = UnsafeMutableRawPointer(buffer.baseAddress!)
            // 1. Lay the plaintext out as k pieces, zero-padding the tail.
            for i in 0..<k {
                let destination = base + i * shardLength + header
                let start = i * piece
                let available = max(0, min(piece, chunk.count - start))
                if available > 0 { destination.copyMemory(from: chunk.baseAddress! + start, byteCount: available) }
                if available < piece { (destination + available).initializeMemory(as: UInt8.self, repeating: 0, count: piece - available) }
            }
            // 2. Parity pieces, straight into their shards.
            code.encode(
                length: piece,
                data: (0..<k).map { UnsafeRawPointer(base + $0 * shardLength + header) },
                parity: (k..<n).map { base + $0 * shardLength + header })
            // 3. Header, nonce, and in-place encryption of each piece.
            for i in 0..<n {
                seal(shard: base + i * shardLength, index: i, piece: piece, context: context, key: key, nonces: nonces)
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
        shard: UnsafeMutableRawPointer, index: Int, piece: Int, context: ShardContext, key: SecretBytes,
        nonces: (UnsafeMutableRawBufferPointer) -> Void
    ) {
        ShardFormat.writeAssociatedData(to: shard, context: context, parameters: parameters, index: index)
        let nonce = UnsafeMutableRawBufferPointer(start: shard + ShardFormat.nonceOffset, count: XChaCha20Poly1305.nonceLength)
        nonces(nonce)
        XChaCha20Poly1305.sealInPlace(
            UnsafeMutableRawBufferPointer(start: shard + ShardFormat.headerLength, count: piece),
            tag: UnsafeMutableRawBufferPointer(start: shard + ShardFormat.headerLength + piece, count: ShardFormat.tagLength),
            nonce: UnsafeRawBufferPointer(nonce),
            additionalData: UnsafeRawBufferPointer(start: shard, count: ShardFormat.associatedDataLength),
            key: key)
    }

    // MARK: Authentication

    /// Checks a shard's header against `context` and decrypts its piece into `output`
    /// (`pieceLength` bytes). Returns the shard's index, or why it was set aside.
    ///
    /// The associated data is rebuilt from `context` and the claimed index, so a shard from any
    /// other chunk, file, version, vault or position fails here even if its header was rewritten.
    func open(
        _ shard: UnsafeRawBufferPointer, into output: UnsafeMutableRawPointer, context: ShardContext, key: SecretBytes
    ) -> Result<Int, ShardRejection.Reason> {
        let piece = parameters.pieceLength(forChunkLength: context.chunkLength)
        guard shard.count == ShardFormat.overhead + piece, let header = ShardHeader(parsing: shard) else {
            return .failure(.malformed)
        }
        guard header.k == parameters.k, header.m == parameters.m, header.index < parameters.n,
              header.chunkLength == context.chunkLength, header.vaultID == context.vaultID,
              header.fileID == context.fileID, header.version == context.version,
              header.chunkIndex == context.chunkIndex
        else { return .failure(.wrongContext) }

        return withUnsafeTemporaryAllocation(byteCount: ShardFormat.associatedDataLength, alignment: 8) { ad in
            ShardFormat.writeAssociatedData(to: ad.baseAddress!, context: context, parameters: parameters, index: header.index)
            do {
                try XChaCha20Poly1305.open(
                    UnsafeRawBufferPointer(rebasing: shard[ShardFormat.headerLength..<ShardFormat.headerLength + piece]),
                    tag: UnsafeRawBufferPointer(rebasing: shard[(ShardFormat.headerLength + piece)...]),
                    into: UnsafeMutableRawBufferPointer(start: output, count: piece),
                    nonce: UnsafeRawBufferPointer(rebasing: shard[ShardFormat.nonceOffset..<ShardFormat.headerLength]),
                    additionalData: UnsafeRawBufferPointer(ad),
                    key: key)
                return .success(header.index)
            } catch {
                return .failure(.authenticationFailed)
            }
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
