import TestSupport
import Testing
import VishwaCore
import VishwaCrypto
@testable import VishwaCodec

@Suite(.ownThreads) struct RoundTripTests {
    static let chunkSize = 4 << 20

    /// Sizes around every boundary of the default 6+4 over 4 MiB: sizes above one chunk are cut into chunks.
    @Test(arguments: [0, 1, 5, 6, 7, chunkSize - 1, chunkSize, chunkSize + 1])
    func fileOfSizeRoundTrips(size: Int) throws {
        var rng = SeededGenerator(state: UInt64(size))
        let file = rng.bytes(size)
        let codec = ShardCodec(parameters: .default)
        var rebuilt: [UInt8] = []
        for (index, range) in ChunkLayout(fileSize: size, chunkSize: Self.chunkSize).chunks.enumerated() {
            let ctx = context(length: range.count, chunk: UInt64(index))
            let encoded = try codec.encode(Array(file[range]), context: ctx, key: testKey)
            #expect(encoded.count == 10)
            let piece = (range.count + 5) / 6
            #expect(encoded.shardLength == 84 + piece + 16 * max(1, (piece + 65_535) / 65_536))
            rebuilt += try codec.decode(encoded.shards, context: ctx, key: testKey).plaintext
        }
        #expect(rebuilt == file)
    }

    @Test func refusesAChunkLargerThanTheChunkSize() {
        let codec = ShardCodec(parameters: parameters(6, 4, chunk: 100))
        #expect(throws: CodecError.chunkTooLarge(length: 101, chunkSize: 100)) {
            try codec.encode([UInt8](repeating: 0, count: 101), context: context(length: 101), key: testKey)
        }
    }

    @Test func randomSizesRoundTrip() throws {
        var rng = SeededGenerator(state: 99)
        let codec = ShardCodec(parameters: parameters(6, 4, chunk: 1 << 20))
        for _ in 0..<40 {
            let size = Int.random(in: 0...(1 << 20), using: &rng)
            let chunk = rng.bytes(size)
            let ctx = context(length: size)
            let encoded = try codec.encode(chunk, context: ctx, key: testKey)
            var shards = encoded.arrays
            shards.shuffle(using: &rng)
            #expect(try codec.decode(shards, context: ctx, key: testKey).plaintext == chunk)
        }
    }

    /// All C(10, 6) = 210 ways to keep 6 of 10 shards (every way to lose 4) decode, in shuffled order.
    @Test func decodesFromEverySixOfTen() throws {
        var rng = SeededGenerator(state: 210)
        let size = 256 << 10 | 13
        let chunk = rng.bytes(size)
        let codec = ShardCodec(parameters: parameters(6, 4, chunk: 1 << 20))
        let ctx = context(length: size)
        let shards = try codec.encode(chunk, context: ctx, key: testKey).arrays
        let subsets = combinations(10, choose: 6)
        #expect(subsets.count == 210)
        for subset in subsets {
            let kept = subset.map { shards[$0] }.shuffled(using: &rng)
            let decoded = try codec.decode(kept, context: ctx, key: testKey)
            #expect(decoded.plaintext == chunk, "lost \(Set(0..<10).subtracting(subset).sorted())")
            #expect(decoded.rejected.isEmpty)
        }
        // And five of ten is never enough.
        #expect(throws: CodecError.notEnoughShards(authentic: 5, needed: 6, rejected: [])) {
            try codec.decode(Array(shards[0..<5]), context: ctx, key: testKey)
        }
    }

    @Test(arguments: [(1, 0), (1, 1), (1, 4), (2, 1), (3, 2), (4, 4), (10, 4), (16, 16), (20, 10), (100, 155), (254, 1)])
    func decodesRandomLossPatterns(k: Int, m: Int) throws {
        var rng = SeededGenerator(state: UInt64(k << 8 | m))
        let codec = ShardCodec(parameters: parameters(k, m, chunk: 64 << 10))
        for trial in 0..<12 {
            let size = trial == 0 ? 0 : Int.random(in: 1...(64 << 10), using: &rng)
            let chunk = rng.bytes(size)
            let ctx = context(length: size, chunk: UInt64(trial))
            let shards = try codec.encode(chunk, context: ctx, key: testKey).arrays
            let lose = Int.random(in: 0...m, using: &rng)
            let kept = Array(shards.shuffled(using: &rng).dropFirst(lose))
            #expect(try codec.decode(kept, context: ctx, key: testKey).plaintext == chunk, "\(k)+\(m) lost \(lose)")
        }
    }

    @Test func rangeDecodesFromCoveringDataShardsOnly() throws {
        let size = (4 << 20) - 3
        let (chunk, codec, ctx, shards) = try encodedRandomChunk(size: size, seed: 5)
        var rng = SeededGenerator(state: 6)
        for _ in 0..<60 {
            let offset = Int.random(in: 0..<size, using: &rng)
            let length = Int.random(in: 0...min(size - offset, 2 << 20), using: &rng)
            let covering = codec.dataShards(coveringOffset: offset, length: length, chunkLength: size)
            let only = covering.map { ShardPart(whole: shards[$0]) }
            let bytes = try codec.decodeRange(offset: offset, length: length, from: only, context: ctx, key: testKey)
            #expect(bytes == Array(chunk[offset..<offset + length]))
            // And from just the segments the plan names, as a range read fetches them.
            let plan = codec.fetchPlan(offset: offset, length: length, chunkLength: size)
            #expect(plan.map(\.index) == Array(covering))
            let parts = plan.map { index, range in part(shards[index], range) }
            #expect(try codec.decodeRange(offset: offset, length: length, from: parts, context: ctx, key: testKey)
                == Array(chunk[offset..<offset + length]))
            // Into a caller's buffer: exactly the range's bytes there (whole segments in place,
            // partial ones through scratch), nothing around them.
            var buffer = [UInt8](repeating: 0xA5, count: length + 64)
            try buffer.withUnsafeMutableBytes { raw in
                try codec.decodeRange(offset: offset, length: length, from: parts, context: ctx, key: testKey,
                                      into: UnsafeMutableRawBufferPointer(rebasing: raw[32..<32 + length]))
            }
            #expect(buffer[32..<32 + length].elementsEqual(chunk[offset..<offset + length]))
            #expect(buffer[..<32].allSatisfy { $0 == 0xA5 } && buffer[(32 + length)...].allSatisfy { $0 == 0xA5 })
            // A small read fetches at most two segments of a shard.
            if length <= 4096 { #expect(plan.allSatisfy { $0.bytes.count <= 2 * (65_536 + 16) }) }
        }
        #expect(codec.dataShards(coveringOffset: 0, length: 1, chunkLength: size) == 0..<1)
        #expect(codec.dataShards(coveringOffset: size - 1, length: 1, chunkLength: size) == 5..<6)
    }

    /// A part whose last segment fails authentication gives way to another copy of the same shard.
    @Test func aRangeSkipsAPartThatFailsAuthentication() throws {
        let size = (4 << 20) - 3
        let (chunk, codec, ctx, shards) = try encodedRandomChunk(size: size, seed: 7)
        // The last byte of the first covering shard's part flipped: a tag fails, and the good copy is used.
        let plan = codec.fetchPlan(offset: 1000, length: 300_000, chunkLength: size)
        var bad = Array(shards[plan[0].index])
        bad[plan[0].bytes.upperBound - 1] ^= 1
        let parts = [part(bad, plan[0].bytes)] + plan.map { index, range in part(shards[index], range) }
        #expect(try codec.decodeRange(offset: 1000, length: 300_000, from: parts, context: ctx, key: testKey)
            == Array(chunk[1000..<301_000]))
        #expect(throws: CodecError.self) {
            try codec.decodeRange(offset: 1000, length: 300_000, from: [parts[0]], context: ctx, key: testKey)
        }
    }

    /// With covering data shards lost, the same segments of any k shards rebuild a range: only
    /// those segments are fetched, never the whole chunk.
    @Test func rangesRebuildFromTheSameSegmentsOfAnyKShards() throws {
        let size = (4 << 20) - 77
        let (chunk, codec, ctx, shards) = try encodedRandomChunk(size: size, seed: 11)
        var rng = SeededGenerator(state: 12)
        for trial in 0..<60 {
            let offset = Int.random(in: 0..<size, using: &rng)
            let length = trial % 3 == 0 ? min(size - offset, 4096) : Int.random(in: 1...min(size - offset, 300_000), using: &rng)
            let plan = codec.degradedPlan(offset: offset, length: length, chunkLength: size)
            let covering = Array(codec.dataShards(coveringOffset: offset, length: length, chunkLength: size))
            // A small read within one piece fetches at most two segments of each of k shards.
            if length <= 4096 && covering.count == 1 { #expect(plan.bytes.count <= 2 * (65_536 + 16)) }
            // Lose the covering data shards first, then random others, down to exactly k.
            var kept = Array(0..<10).filter { !covering.contains($0) }.shuffled(using: &rng)
            kept = Array(kept.prefix(6))
            if kept.count < 6 { kept += covering.prefix(6 - kept.count) }
            let parts = kept.map { part(shards[$0], plan.bytes) }
            // A corrupt part and a duplicate first: both set aside.
            var bad = parts[0]
            bad = ShardPart(header: bad.header, body: bad.body.map { $0 ^ 1 }, offset: bad.offset)
            let bytes = try codec.decodeRange(offset: offset, length: length, rebuildingFrom: [bad] + parts + [parts[1]],
                                              context: ctx, key: testKey)
            #expect(bytes == Array(chunk[offset..<offset + length]), "trial \(trial)")
        }
        // Fewer than k authentic parts: an error naming what was rejected, never garbage.
        let plan = codec.degradedPlan(offset: 100, length: 10, chunkLength: size)
        let five = (4..<9).map { part(shards[$0], plan.bytes) }
        #expect(throws: CodecError.notEnoughShards(authentic: 5, needed: 6, rejected: [])) {
            try codec.decodeRange(offset: 100, length: 10, rebuildingFrom: five, context: ctx, key: testKey)
        }
        // Parts of the wrong segments, or of format 1, are set aside (malformed), never overrun.
        let wrong = (0..<6).map { part(shards[$0], 84..<200) }
        #expect(throws: CodecError.self) {
            try codec.decodeRange(offset: 3_000_000, length: 10, rebuildingFrom: wrong, context: ctx, key: testKey)
        }
        #expect(try codec.decodeRange(offset: 5, length: 0, rebuildingFrom: five, context: ctx, key: testKey) == [])
    }

    @Test func rangeDecodeReportsAMissingOrCorruptCoveringShard() throws {
        let codec = ShardCodec(parameters: parameters(6, 4, chunk: 6000))
        let ctx = context(length: 6000)
        var shards = try codec.encode([UInt8](repeating: 7, count: 6000), context: ctx, key: testKey).arrays
        #expect(throws: CodecError.dataShardUnavailable(index: 1, reason: nil)) {
            try codec.decodeRange(offset: 900, length: 200, from: [ShardPart(whole: shards[0])], context: ctx, key: testKey)
        }
        shards[1][ShardFormat.headerLength + 3] ^= 1
        #expect(throws: CodecError.dataShardUnavailable(index: 1, reason: .authenticationFailed)) {
            try codec.decodeRange(offset: 900, length: 200, from: shards.map(ShardPart.init(whole:)), context: ctx, key: testKey)
        }
        #expect(throws: CodecError.rangeOutOfBounds(offset: 5990, length: 11, chunkLength: 6000)) {
            try codec.decodeRange(offset: 5990, length: 11, from: shards.map(ShardPart.init(whole:)), context: ctx, key: testKey)
        }
        // Too few bytes for the segments asked: malformed, never a trap.
        let short = part(shards[2], 84..<120)
        #expect(throws: CodecError.dataShardUnavailable(index: 2, reason: .malformed)) {
            try codec.decodeRange(offset: 2100, length: 10, from: [short], context: ctx, key: testKey)
        }
    }

    /// Segments are bound to their place: one moved to another position, or taken from another
    /// shard of the same chunk, fails authentication.
    @Test func segmentsCannotBeMovedOrSwapped() throws {
        var rng = SeededGenerator(state: 77)
        let codec = ShardCodec(parameters: parameters(2, 1, chunk: 1 << 20))
        let size = 300_000  // pieces of 150,000 bytes: three segments each
        let ctx = context(length: size)
        let chunk = rng.bytes(size)
        let shards = try codec.encode(chunk, context: ctx, key: testKey).arrays
        let layout = SegmentLayout(piece: 150_000, version: 2)
        #expect(layout.count == 3)
        var swapped = shards[0]
        swapped.replaceSubrange(layout.sealed(0), with: shards[0][layout.sealed(1)].prefix(layout.sealed(0).count))
        #expect(codec.verify(swapped, context: ctx, key: testKey) == .failure(.authenticationFailed))
        var foreign = shards[0]
        foreign.replaceSubrange(layout.sealed(1), with: shards[1][layout.sealed(1)])
        #expect(codec.verify(foreign, context: ctx, key: testKey) == .failure(.authenticationFailed))
        var truncated = shards[0]
        truncated.removeLast(10)
        #expect(codec.verify(truncated, context: ctx, key: testKey) == .failure(.malformed))
        #expect(try codec.decode([shards[0], shards[2]], context: ctx, key: testKey).plaintext == chunk)
    }

    @Test func eachShardIsCiphertextOfItsPiece() throws {
        // A chunk of one repeated byte must not show through in any shard's payload.
        let codec = ShardCodec(parameters: parameters(6, 4, chunk: 60_000))
        let encoded = try codec.encode([UInt8](repeating: 0x41, count: 60_000), context: context(length: 60_000), key: testKey)
        for shard in encoded.arrays {
            let payload = shard[ShardFormat.headerLength..<(shard.count - ShardFormat.tagLength)]
            let same = payload.filter { $0 == 0x41 }.count
            #expect(same < payload.count / 100, "payload looks like plaintext")
        }
    }
}
