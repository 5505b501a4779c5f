import VishwaCore
import VishwaCrypto
@testable import VishwaCodec

struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var i = 0
        while i < count {
            var word = next()
            for _ in 0..<8 where i < count {
                out[i] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                i += 1
            }
        }
        return out
    }
}

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
