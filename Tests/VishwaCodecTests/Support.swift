@_exported import TestSupport
import VishwaCore
import VishwaCrypto
@testable import VishwaCodec

let testVault = VaultID(high: 0x0102_0304_0506_0708, low: 0x090a_0b0c_0d0e_0f10)
let testFile = FileID(high: 0xf0f1_f2f3_f4f5_f6f7, low: 0xf8f9_fafb_fcfd_feff)
let testKey = SecretBytes(copying: (0..<32).map { UInt8($0) })

func context(length: Int, chunk: UInt64 = 0, version: UInt64 = 1, file: FileID = testFile, vault: VaultID = testVault) -> ShardContext {
    ShardContext(vaultID: vault, fileID: file, version: version, chunkIndex: chunk, chunkLength: length)
}

func parameters(_ k: Int, _ m: Int, chunk: Int = 64 << 10) -> CodingParameters {
    try! CodingParameters(k: k, m: m, chunkSize: chunk)
}

extension EncodedChunk {
    /// Shards as independent arrays, in index order.
    var arrays: [[UInt8]] { shards.map { Array($0) } }
}

/// Every `size`-element subset of `0..<n`, in lexicographic order.
func combinations(_ n: Int, choose size: Int) -> [[Int]] {
    guard size > 0 else { return [[]] }
    guard size <= n else { return [] }
    var result: [[Int]] = []
    var current: [Int] = []
    func extend(from start: Int) {
        if current.count == size { result.append(current); return }
        for i in start..<n where n - i >= size - current.count {
            current.append(i)
            extend(from: i + 1)
            current.removeLast()
        }
    }
    extend(from: 0)
    return result
}

/// What a range read fetches of `shard`: its header and the shard bytes `bytes`.
func part(_ shard: [UInt8], _ bytes: Range<Int>) -> ShardPart<[UInt8]> {
    ShardPart(header: Array(shard.prefix(ShardFormat.headerLength)), body: Array(shard[bytes]), offset: bytes.lowerBound)
}

/// A random chunk of `size` bytes and its shards under the default 6+4.
func encodedRandomChunk(size: Int, seed: UInt64) throws -> (chunk: [UInt8], codec: ShardCodec, context: ShardContext, shards: [[UInt8]]) {
    var rng = SeededGenerator(state: seed)
    let chunk = rng.bytes(size)
    let codec = ShardCodec(parameters: .default)
    let ctx = context(length: size)
    return (chunk, codec, ctx, try codec.encode(chunk, context: ctx, key: testKey).arrays)
}
