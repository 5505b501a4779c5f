import TestSupport
import Testing
import VishwaCore
import VishwaCrypto
@testable import VishwaCodec

/// Pins shard formats byte for byte (docs/format.md §2): version 3 as written for file chunks,
/// version 2 as written without a seal id, version 1 as still read. If one of these fails, the
/// format changed: that breaks every stored shard. Add a new format version instead of editing these.
@Suite(.ownThreads) struct KnownAnswerTests {
    /// The seal id of the format 3 vectors (Fixtures/independent_encoder.py uses the same).
    static let seal = SealID(hex: "5e5e5e5e00112233445566778899aabb")!

    /// Deterministic nonces: shard i gets bytes i, i+1, …, i+23. With `seal`, format 3.
    static func encodeFixed(_ chunk: [UInt8], k: Int, m: Int, chunkIndex: UInt64 = 0, seal: SealID? = nil) throws -> EncodedChunk {
        let codec = ShardCodec(parameters: try CodingParameters(k: k, m: m, chunkSize: 4 << 20))
        var shard = 0
        var ctx = context(length: chunk.count, chunk: chunkIndex, version: 42)
        ctx.sealID = seal
        return try chunk.withUnsafeBytes { bytes in
            try codec.encode(bytes, context: ctx, key: testKey) { nonce in
                for j in 0..<nonce.count { nonce[j] = UInt8(truncatingIfNeeded: shard + j) }
                shard += 1
            }
        }
    }

    static let chunk = (0..<1000).map { UInt8(truncatingIfNeeded: $0 % 251) }

    @Test func headerLayoutIsPinned() throws {
        let encoded = try Self.encodeFixed(Self.chunk, k: 6, m: 4, chunkIndex: 0x0102)
        let header = Array(encoded.shard(7).prefix(ShardFormat.headerLength))
        #expect(Hex.encode(header) ==
            "56575348" + "02" + "06" + "04" + "07" + "000003e8"
            + "0102030405060708090a0b0c0d0e0f10" + "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"
            + "000000000000002a" + "0000000000000102"
            + "0708090a0b0c0d0e0f101112131415161718191a1b1c1d1e")
        #expect(encoded.shardLength == 84 + 167 + 16)
    }

    @Test func shardBytesArePinned() throws {
        let encoded = try Self.encodeFixed(Self.chunk, k: 6, m: 4)
        #expect(Hex.encode(BLAKE2b.hash(encoded.storage, length: 32)) == Self.pinnedDigest6x4)
        let tiny = try Self.encodeFixed([0x61, 0x62, 0x63], k: 2, m: 1)
        #expect(Hex.encode(tiny.storage) == Self.pinnedTiny2x1Version2)
        // Three 64 KiB segments per shard (the last one short).
        let big = try Self.encodeFixed((0..<300_000).map { UInt8(($0 * 7 + 3) % 251) }, k: 2, m: 1)
        #expect(Hex.encode(BLAKE2b.hash(big.storage, length: 32)) == Self.pinnedDigestSegmented2x1)
    }

    /// Format 3: the same header with version 3; the seal id is bound into every tag but not stored.
    @Test func version3IsPinned() throws {
        let encoded = try Self.encodeFixed(Self.chunk, k: 6, m: 4, chunkIndex: 0x0102, seal: Self.seal)
        let header = Array(encoded.shard(7).prefix(ShardFormat.headerLength))
        #expect(Hex.encode(header) ==
            "56575348" + "03" + "06" + "04" + "07" + "000003e8"
            + "0102030405060708090a0b0c0d0e0f10" + "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"
            + "000000000000002a" + "0000000000000102"
            + "0708090a0b0c0d0e0f101112131415161718191a1b1c1d1e")
        #expect(encoded.shardLength == 84 + 167 + 16)
        let small = try Self.encodeFixed(Self.chunk, k: 6, m: 4, seal: Self.seal)
        #expect(Hex.encode(BLAKE2b.hash(small.storage, length: 32)) == Self.pinnedDigest6x4Version3)
        let tiny = try Self.encodeFixed([0x61, 0x62, 0x63], k: 2, m: 1, seal: Self.seal)
        #expect(Hex.encode(tiny.storage) == Self.pinnedTiny2x1Version3)
        let big = try Self.encodeFixed((0..<300_000).map { UInt8(($0 * 7 + 3) % 251) }, k: 2, m: 1, seal: Self.seal)
        #expect(Hex.encode(BLAKE2b.hash(big.storage, length: 32)) == Self.pinnedDigestSegmented2x1Version3)

        // The pinned bytes decode under their seal id only.
        let codec = ShardCodec(parameters: try CodingParameters(k: 2, m: 1, chunkSize: 4 << 20))
        let shards = tiny.arrays
        var ctx = context(length: 3, version: 42)
        ctx.sealID = Self.seal
        #expect(try codec.decode(shards, context: ctx, key: testKey).plaintext == [0x61, 0x62, 0x63])
        ctx.sealID = SealID(high: Self.seal.high, low: Self.seal.low ^ 1)
        #expect(throws: CodecError.self) { try codec.decode(shards, context: ctx, key: testKey) }
        ctx.sealID = nil
        #expect(throws: CodecError.self) { try codec.decode(shards, context: ctx, key: testKey) }
    }

    /// Shards written by format version 1 stay decodable forever, whole and by range.
    @Test func fixtureShardsDecode() throws {
        let codec = ShardCodec(parameters: try CodingParameters(k: 2, m: 1, chunkSize: 4 << 20))
        let shards = Self.pinnedTiny2x1Shards.map { Hex.decode($0)! }
        let ctx = context(length: 3, version: 42)
        #expect(try codec.decode(shards, context: ctx, key: testKey).plaintext == [0x61, 0x62, 0x63])
        #expect(try codec.decode([shards[2], shards[1]], context: ctx, key: testKey).plaintext == [0x61, 0x62, 0x63])
        #expect(try codec.decodeRange(offset: 1, length: 2, from: shards.map(ShardPart.init(whole:)), context: ctx, key: testKey)
            == [0x62, 0x63])
        // Format 1 has no segments to rebuild a range from: set aside, the caller rebuilds the chunk.
        #expect(throws: CodecError.self) {
            try codec.decodeRange(offset: 1, length: 2, rebuildingFrom: shards.map(ShardPart.init(whole:)), context: ctx, key: testKey)
        }
    }

    /// Cross-checked against Fixtures/independent_encoder.py (format 2, 1000 bytes, 6+4).
    static let pinnedDigest6x4 = "03c5493548ab478474ba11f652bda7b8504f1e6fbb875b7f3d75ed1096e0bd19"
    /// Cross-checked against Fixtures/independent_encoder.py (format 2, 300,000 bytes, 2+1).
    static let pinnedDigestSegmented2x1 = "815320bab679c23aab3f26a5bf57c82006a0d9261274e6073c249f52cef08980"
    /// Cross-checked against Fixtures/independent_encoder.py (format 2, 'abc', 2+1).
    static let pinnedTiny2x1Version2 =
        "5657534802020100000000030102030405060708090a0b0c0d0e0f10f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000000000000002a"
        + "0000000000000000000102030405060708090a0b0c0d0e0f1011121314151617ffa0b29b880befe60c4943a5b89d11438b065657"
        + "534802020101000000030102030405060708090a0b0c0d0e0f10f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000000000000002a0000"
        + "0000000000000102030405060708090a0b0c0d0e0f101112131415161718dffb645787a879fc38e097574e56b18b275856575348"
        + "02020102000000030102030405060708090a0b0c0d0e0f10f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000000000000002a00000000"
        + "0000000002030405060708090a0b0c0d0e0f10111213141516171819e317643237f36dabe73d04ad9359b4abe70e"
    /// Cross-checked against Fixtures/independent_encoder.py (format 3, 1000 bytes, 6+4).
    static let pinnedDigest6x4Version3 = "c7a4120386e63a50e3952b583002a5a04550e75db9f60664a69cd4670405ad75"
    /// Cross-checked against Fixtures/independent_encoder.py (format 3, 300,000 bytes, 2+1).
    static let pinnedDigestSegmented2x1Version3 = "7b5a494b2def17d8f50b80b9c9e3826831340fb3d3a1b14b55d271535ef15a37"
    /// Cross-checked against Fixtures/independent_encoder.py (format 3, 'abc', 2+1).
    static let pinnedTiny2x1Version3 =
        "5657534803020100000000030102030405060708090a0b0c0d0e0f10f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000000000000002a"
        + "0000000000000000000102030405060708090a0b0c0d0e0f1011121314151617ffa06c3d37e61fbd5d1895aa01969d3aebc756"
        + "57534803020101000000030102030405060708090a0b0c0d0e0f10f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000000000000002a00"
        + "000000000000000102030405060708090a0b0c0d0e0f101112131415161718dffb3ab769cd86d6a9fadcb05a787dabfadc5657"
        + "534803020102000000030102030405060708090a0b0c0d0e0f10f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000000000000002a0000"
        + "00000000000002030405060708090a0b0c0d0e0f10111213141516171819e317b23ffbba74f7baf85d5682cc51049a9d"
    /// Format version 1, as session 1 wrote it. Cross-checked against an independent encoder
    /// (PyNaCl + a reference GF(2^8)): Tests/VishwaCodecTests/Fixtures/independent_encoder.py.
    static let pinnedTiny2x1 =
        "5657534801020100000000030102030405060708090a0b0c0d0e0f10f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000000000000002a"
        + "0000000000000000000102030405060708090a0b0c0d0e0f1011121314151617ffa091c967a0e900fd14335c24cd08c7cb8f"
        + "5657534801020101000000030102030405060708090a0b0c0d0e0f10f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000000000000002a"
        + "00000000000000000102030405060708090a0b0c0d0e0f101112131415161718dffbf19050a4bff559bfab74548219dfce95"
        + "5657534801020102000000030102030405060708090a0b0c0d0e0f10f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000000000000002a"
        + "000000000000000002030405060708090a0b0c0d0e0f10111213141516171819e317de426c647685ed64d1904d91f5f31c71"
    static var pinnedTiny2x1Shards: [String] {
        let length = pinnedTiny2x1.count / 3
        return (0..<3).map { i in
            String(pinnedTiny2x1.dropFirst(i * length).prefix(length))
        }
    }
}
