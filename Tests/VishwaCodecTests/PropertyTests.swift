import PropertyBased
import TestSupport
import Testing
import VishwaCore
import VishwaCrypto
@testable import VishwaCodec

@Suite(.ownThreads) struct CodecPropertyTests {
    @Test func anyKOfNShardsDecode() async {
        await propertyCheck(count: 150, input: Gen.int(in: 1...16), Gen.int(in: 0...10), Gen.int(in: 0...20_000),
                            Gen.uint64()) { k, m, size, seed in
            var rng = SeededGenerator(state: seed)
            let codec = ShardCodec(parameters: parameters(k, m, chunk: 20_000))
            let chunk = rng.bytes(size)
            let ctx = context(length: size, chunk: seed)
            let shards = try codec.encode(chunk, context: ctx, key: testKey).arrays
            let kept = Array(shards.shuffled(using: &rng).prefix(k))
            #expect(try codec.decode(kept, context: ctx, key: testKey).plaintext == chunk)
        }
    }

    @Test func oneFlippedBitFailsAuthentication() async {
        await propertyCheck(count: 200, input: Gen.int(in: 0...5000), Gen.uint64()) { size, seed in
            var rng = SeededGenerator(state: seed)
            let codec = ShardCodec(parameters: parameters(3, 2, chunk: 5000))
            let ctx = context(length: size)
            var shards = try codec.encode(rng.bytes(size), context: ctx, key: testKey).arrays
            let victim = Int.random(in: 0..<shards.count, using: &rng)
            let byte = Int.random(in: 0..<shards[victim].count, using: &rng)
            shards[victim][byte] ^= 1 << UInt8.random(in: 0...7, using: &rng)
            let decoded = try codec.decode(shards, context: ctx, key: testKey)
            // Either the bad shard was needed and rejected, or it was never opened (k good ones came first).
            let others = shards.indices.filter { $0 != victim }.map { shards[$0] }
            let alone = [shards[victim]] + Array(others.prefix(2))
            #expect(throws: CodecError.self) { try codec.decode(alone, context: ctx, key: testKey) }
            // A flip in the header's index field makes the shard claim another index: it is
            // rejected under that one (or as a duplicate of the shard that has it).
            let claimed = ShardCodec.claimedIndex(of: shards[victim])
            #expect(decoded.rejected.allSatisfy { $0.index == victim || $0.index == nil || $0.index == claimed })
        }
    }

    @Test func randomBytesNeverTrapTheDecoder() async {
        await propertyCheck(count: 300, input: Gen.int(in: 0...400), Gen.uint64()) { length, seed in
            var rng = SeededGenerator(state: seed)
            let codec = ShardCodec(parameters: parameters(2, 2, chunk: 512))
            let ctx = context(length: 300)
            var junk = (0..<4).map { _ in rng.bytes(length) }
            // Sometimes give the junk a valid-looking header so the deeper paths run too.
            if seed % 2 == 0 {
                for i in junk.indices where junk[i].count >= ShardFormat.headerLength {
                    junk[i].withUnsafeMutableBytes {
                        ShardFormat.writeAssociatedData(to: $0.baseAddress!, context: ctx, parameters: codec.parameters, index: i,
                                                        version: ctx.formatVersion)
                    }
                }
            }
            #expect(throws: CodecError.self) { try codec.decode(junk, context: ctx, key: testKey) }
            #expect(throws: CodecError.self) {
                try codec.decodeRange(offset: 0, length: 10, from: junk.map(ShardPart.init(whole:)), context: ctx, key: testKey)
            }
            // Parts that claim any offset, over any bytes.
            let parts = junk.map { ShardPart(header: $0, body: $0, offset: Int(seed % 200)) }
            #expect(throws: CodecError.self) { try codec.decodeRange(offset: 0, length: 10, from: parts, context: ctx, key: testKey) }
        }
    }
}
