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
