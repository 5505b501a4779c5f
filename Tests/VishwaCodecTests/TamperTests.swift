import TestSupport
import Testing
import VishwaCore
import VishwaCrypto
@testable import VishwaCodec

@Suite(.ownThreads) struct TamperTests {
    let codec = ShardCodec(parameters: parameters(6, 4, chunk: 4096))
    let chunk = (0..<600).map { UInt8(truncatingIfNeeded: $0 &* 31) }

    func open(_ shard: [UInt8], _ ctx: ShardContext, codec: ShardCodec? = nil) -> Result<Int, ShardRejection.Reason> {
        let c = codec ?? self.codec
        let piece = c.parameters.pieceLength(forChunkLength: ctx.chunkLength)
        let out = UnsafeMutableRawPointer.allocate(byteCount: max(piece, 1), alignment: 16)
        defer { out.deallocate() }
        return shard.withUnsafeBytes { c.open($0, into: out, context: ctx, key: testKey) }
    }

    /// Every single-bit flip anywhere in any shard (header, nonce, ciphertext, tag) is caught.
    @Test func everyFlippedBitIsCaught() throws {
        let ctx = context(length: chunk.count)
        let shards = try codec.encode(chunk, context: ctx, key: testKey).arrays
        for (index, shard) in shards.enumerated() {
            #expect(open(shard, ctx) == .success(index))
            for byte in shard.indices {
                for bit in 0..<8 {
                    var bad = shard
                    bad[byte] ^= 1 << bit
                    if case .success = open(bad, ctx) {
                        Issue.record("flip of bit \(bit) in byte \(byte) of shard \(index) went unnoticed")
                    }
                }
            }
        }
    }

    @Test func corruptShardsAreTreatedAsErasures() throws {
        let ctx = context(length: chunk.count)
        var shards = try codec.encode(chunk, context: ctx, key: testKey).arrays
        for i in [0, 2, 5, 8] { shards[i][ShardFormat.headerLength + i] ^= 0x80 }
        let decoded = try codec.decode(shards, context: ctx, key: testKey)
        #expect(decoded.plaintext == chunk)
        #expect(Set(decoded.rejected.map(\.index)) == [0, 2, 5, 8])
        #expect(decoded.rejected.allSatisfy { $0.reason == .authenticationFailed })
        shards[9][ShardFormat.headerLength] ^= 1
        #expect(throws: CodecError.self) { try codec.decode(shards, context: ctx, key: testKey) }
    }

    @Test func truncatedExtendedAndForeignBytesAreRejected() throws {
        let ctx = context(length: chunk.count)
        let shard = try codec.encode(chunk, context: ctx, key: testKey).arrays[0]
        #expect(open(Array(shard.dropLast()), ctx) == .failure(.malformed))
        #expect(open(shard + [0], ctx) == .failure(.malformed))
        #expect(open([], ctx) == .failure(.malformed))
        #expect(open(Array(repeating: 0, count: shard.count), ctx) == .failure(.malformed))
        var unknown = shard
        unknown[4] = 4
        #expect(open(unknown, ctx) == .failure(.malformed))
        // Claiming the other known version: other length, or other associated data.
        var older = shard
        older[4] = 1
        #expect(open(older, ctx) != .success(0))
    }

    /// A shard moved to another chunk, file, version, vault or position never authenticates,
    /// whether or not its header is rewritten to match the new place.
    @Test func swappedShardsAreRejected() throws {
        let ctx = context(length: chunk.count, chunk: 3, version: 7)
        let shards = try codec.encode(chunk, context: ctx, key: testKey).arrays
        let elsewhere: [(String, ShardContext)] = [
            ("chunk", context(length: chunk.count, chunk: 4, version: 7)),
            ("version", context(length: chunk.count, chunk: 3, version: 8)),
            ("file", context(length: chunk.count, chunk: 3, version: 7, file: FileID(high: 1, low: 2))),
            ("vault", context(length: chunk.count, chunk: 3, version: 7, vault: VaultID(high: 3, low: 4))),
        ]
        for (what, other) in elsewhere {
            #expect(open(shards[1], other) == .failure(.wrongContext), "moved to another \(what)")
            #expect(open(rewriteHeader(shards[1], to: other, index: 1), other) == .failure(.authenticationFailed),
                    "moved to another \(what) with a forged header")
        }
        // Another position in the same chunk.
        #expect(open(rewriteHeader(shards[1], to: ctx, index: 2), ctx) == .failure(.authenticationFailed))
        // Another chunk length (same piece length so only the bound length differs).
        let shorter = context(length: chunk.count - 1, chunk: 3, version: 7)
        #expect(open(rewriteHeader(shards[1], to: shorter, index: 1), shorter) == .failure(.authenticationFailed))
        // Other coding parameters with the same piece size: 6+4 shards offered to a 6+5 decoder.
        let wider = ShardCodec(parameters: parameters(6, 5, chunk: 4096))
        #expect(open(shards[1], ctx, codec: wider) == .failure(.wrongContext))
        var forged = shards[1]
        forged[6] = 5
        #expect(open(forged, ctx, codec: wider) == .failure(.authenticationFailed))
        // Another key.
        let codecShards = try codec.encode(chunk, context: ctx, key: SecretBytes.random(count: 32)).arrays
        #expect(open(codecShards[0], ctx) == .failure(.authenticationFailed))
    }

    @Test func aDuplicateOfAGoodShardIsIgnoredAndAGoodCopyReplacesABadOne() throws {
        let ctx = context(length: chunk.count)
        let shards = try codec.encode(chunk, context: ctx, key: testKey).arrays
        var bad = shards[0]
        bad[ShardFormat.headerLength] ^= 1
        // Bad copy of 0, then 5 others, then a good copy of 0: decodes with 0 authentic.
        let decoded = try codec.decode([bad, shards[1], shards[2], shards[3], shards[4], shards[5], shards[0], shards[0]],
                                       context: ctx, key: testKey)
        #expect(decoded.plaintext == chunk)
        // Six copies of one shard are one shard.
        #expect(throws: CodecError.self) { try codec.decode(Array(repeating: shards[0], count: 6), context: ctx, key: testKey) }
    }

    /// Writes `ctx`'s fields and `index` into a shard's header, as a forger would.
    func rewriteHeader(_ shard: [UInt8], to ctx: ShardContext, index: Int) -> [UInt8] {
        var out = shard
        out.withUnsafeMutableBytes { p in
            ShardFormat.writeAssociatedData(to: p.baseAddress!, context: ctx, parameters: codec.parameters, index: index,
                                            version: ctx.formatVersion)
        }
        return out
    }
}
