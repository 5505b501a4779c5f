import TestSupport
import Testing
import VishwaCore
import VishwaCrypto
@testable import VishwaCodec

/// Two encodings of one chunk under the same version (a chunk sealed, then rewritten before the
/// file is closed) must never mix: each seal has its own seal id, bound into every tag, so a
/// shard of the first encoding offered for the second is an erasure (docs/format.md §2).
@Suite(.ownThreads) struct SealTests {
    let codec = ShardCodec(parameters: parameters(6, 4, chunk: 256 << 10))
    let first = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
    let second = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 17 &+ 5) }

    func sealed(_ seal: SealID?) -> ShardContext {
        var ctx = context(length: first.count, chunk: 3, version: 7)
        ctx.sealID = seal
        return ctx
    }

    /// The attack: a host keeps shard 0 of the first encoding and serves it for the second's.
    @Test func aShardOfAnEarlierEncodingIsAnErasure() throws {
        let (a, b) = (sealed(SealID(high: 1, low: 1)), sealed(SealID(high: 2, low: 2)))
        let old = try codec.encode(first, context: a, key: testKey).arrays
        let new = try codec.encode(second, context: b, key: testKey).arrays
        var served = new
        served[0] = old[0]

        let decoded = try codec.decode(served, context: b, key: testKey)
        #expect(decoded.plaintext == second)
        #expect(decoded.rejected == [ShardRejection(index: 0, position: 0, reason: .authenticationFailed)])
        // fsck --deep checks each shard alone: the old one fails, the others pass.
        #expect(codec.verify(served[0], context: b, key: testKey) == .failure(.authenticationFailed))
        #expect(codec.verify(served[1], context: b, key: testKey) == .success(1))

        // A range read of piece 0 refuses the old shard (the caller then rebuilds from others)...
        #expect(throws: CodecError.dataShardUnavailable(index: 0, reason: .authenticationFailed)) {
            try codec.decodeRange(offset: 10, length: 100, from: served.map(ShardPart.init(whole:)), context: b, key: testKey)
        }
        // ...and the degraded path sets it aside and rebuilds the range from k others.
        let plan = codec.degradedPlan(offset: 10, length: 100, chunkLength: second.count).bytes
        let parts = served.map { part($0, plan) }
        #expect(try codec.decodeRange(offset: 10, length: 100, rebuildingFrom: parts, context: b, key: testKey)
            == Array(second[10..<110]))
        // With too few shards of the right encoding, decoding fails loudly instead of mixing.
        var mostlyOld = old
        for i in 0..<5 { mostlyOld[i] = new[i] }
        #expect(throws: CodecError.self) { try codec.decode(mostlyOld, context: b, key: testKey) }
    }

    /// Without seal ids (formats 1 and 2) the same swap goes unnoticed: this is what format 3 fixes.
    @Test func withoutSealIDsTheEncodingsMix() throws {
        let ctx = sealed(nil)
        let old = try codec.encode(first, context: ctx, key: testKey).arrays
        var served = try codec.encode(second, context: ctx, key: testKey).arrays
        served[0] = old[0]
        let decoded = try codec.decode(served, context: ctx, key: testKey)
        #expect(decoded.rejected.isEmpty)
        #expect(decoded.plaintext != second)
    }

    /// A chunk with a seal id takes format 3 shards only, and one without takes formats 1 and 2
    /// only: an old-format shard cannot stand in for a sealed chunk's, nor the reverse.
    @Test func formatsAreNotInterchangeable() throws {
        let withSeal = sealed(SealID(high: 9, low: 9))
        let unsealed = try codec.encode(second, context: sealed(nil), key: testKey).arrays
        let sealedShards = try codec.encode(second, context: withSeal, key: testKey).arrays
        #expect(unsealed[0][4] == 2 && sealedShards[0][4] == 3)
        #expect(codec.verify(unsealed[0], context: withSeal, key: testKey) == .failure(.wrongContext))
        #expect(codec.verify(sealedShards[0], context: sealed(nil), key: testKey) == .failure(.wrongContext))
        // Rewriting the version byte does not help: the tag covers it.
        var relabelled = unsealed[0]
        relabelled[4] = 3
        #expect(codec.verify(relabelled, context: withSeal, key: testKey) == .failure(.authenticationFailed))
    }

    /// Format 3 reads back whole, by range from the covering shards, and by degraded range.
    @Test func version3RoundTrips() throws {
        let ctx = sealed(SealID(high: 5, low: 6))
        let shards = try codec.encode(second, context: ctx, key: testKey).arrays
        #expect(shards[0].count == ShardFormat.shardLength(chunkLength: second.count, parameters: codec.parameters))
        #expect(try codec.decode(Array(shards[3...]), context: ctx, key: testKey).plaintext == second)
        let offset = 70_000, length = 9_000
        let fetch = codec.fetchPlan(offset: offset, length: length, chunkLength: second.count)
        let parts = fetch.map { part(shards[$0.index], $0.bytes) }
        #expect(try codec.decodeRange(offset: offset, length: length, from: parts, context: ctx, key: testKey)
            == Array(second[offset..<offset + length]))
        let plan = codec.degradedPlan(offset: offset, length: length, chunkLength: second.count).bytes
        let rebuilt = try codec.decodeRange(offset: offset, length: length,
                                            rebuildingFrom: shards[4...].map { part($0, plan) }, context: ctx, key: testKey)
        #expect(rebuilt == Array(second[offset..<offset + length]))
    }
}
