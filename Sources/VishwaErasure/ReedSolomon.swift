import CISAL

/// Systematic Reed-Solomon over GF(2^8) with a Cauchy generator matrix, computed by ISA-L.
///
/// Shards 0..<k carry the data unchanged; shards k..<n carry parity. The generator is
/// `gf_gen_cauchy1_matrix`: identity on top of a Cauchy matrix, so every k×k submatrix is
/// invertible and any k shards rebuild every other one (unlike the Vandermonde variant, which
/// ISA-L documents as not always invertible for larger m).
///
/// Immutable after init; safe to share across threads. Buffers are raw pointers because the
/// caller (the shard codec) lays all shards of a chunk out in one contiguous allocation.
public final class ReedSolomon: Sendable {
    public let k: Int
    public let m: Int
    public var n: Int { k + m }

    /// n×k generator matrix, row-major.
    private let generator: [UInt8]
    /// ISA-L's expanded multiplication tables for the m parity rows (32·k·m bytes).
    private let parityTables: [UInt8]

    /// Traps unless 1 ≤ k, 0 ≤ m, k + m ≤ 255 (validated earlier by `CodingParameters`).
    public init(k: Int, m: Int) {
        precondition(k >= 1 && m >= 0 && k + m <= 255, "invalid Reed-Solomon parameters \(k)+\(m)")
        self.k = k
        self.m = m
        var generator = [UInt8](repeating: 0, count: (k + m) * k)
        gf_gen_cauchy1_matrix(&generator, Int32(k + m), Int32(k))
        var tables = [UInt8](repeating: 0, count: max(32 * k * m, 1))
        if m > 0 {
            generator.withUnsafeMutableBufferPointer { g in
                ec_init_tables(Int32(k), Int32(m), g.baseAddress! + k * k, &tables)
            }
        }
        self.generator = generator
        self.parityTables = tables
    }

    /// The generator's entry at `row`, `column` (for tests that check against a reference).
    public func generatorEntry(row: Int, column: Int) -> UInt8 { generator[row * k + column] }

    /// Computes the m parity pieces of `length` bytes from the k data pieces.
    /// `data` must hold k pointers and `parity` m pointers, each to `length` valid bytes.
    public func encode(length: Int, data: [UnsafeRawPointer], parity: [UnsafeMutableRawPointer]) {
        precondition(data.count == k && parity.count == m)
        guard m > 0, length > 0 else { return }
        withPointerArrays(data, parity) { sources, targets in
            parityTables.withUnsafeBufferPointer { t in
                ec_encode_data(Int32(length), Int32(k), Int32(m), UnsafeMutablePointer(mutating: t.baseAddress!),
                               sources, targets)
            }
        }
    }

    /// Rebuilds the pieces at `targets` (any shard indices, data or parity) from exactly k
    /// distinct `sources`. Throws if fewer than k distinct sources are given.
    public func reconstruct(
        length: Int,
        sources: [(index: Int, bytes: UnsafeRawPointer)],
        targets: [(index: Int, bytes: UnsafeMutableRawPointer)]
    ) throws(ErasureError) {
        guard !targets.isEmpty else { return }
        let sourceRows = sources.map(\.index)
        guard Set(sourceRows).count == k, sourceRows.count == k, sourceRows.allSatisfy({ (0..<n).contains($0) }) else {
            throw .tooFewShards(have: Set(sourceRows).count, need: k)
        }
        precondition(targets.allSatisfy { (0..<n).contains($0.index) })
        let matrix = try decodeMatrix(sourceRows: sourceRows, targetRows: targets.map(\.index))
        guard length > 0 else { return }
        var tables = [UInt8](repeating: 0, count: 32 * k * targets.count)
        matrix.withUnsafeBufferPointer { mp in
            ec_init_tables(Int32(k), Int32(targets.count), UnsafeMutablePointer(mutating: mp.baseAddress!), &tables)
        }
        withPointerArrays(sources.map(\.bytes), targets.map(\.bytes)) { src, dst in
            ec_encode_data(Int32(length), Int32(k), Int32(targets.count), &tables, src, dst)
        }
    }

    /// Rows that turn the given source shards into the target shards: target generator rows × B⁻¹,
    /// where B is the k×k submatrix of the generator at the source rows.
    private func decodeMatrix(sourceRows: [Int], targetRows: [Int]) throws(ErasureError) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: k * k)
        for (r, row) in sourceRows.enumerated() {
            for c in 0..<k { b[r * k + c] = generator[row * k + c] }
        }
        var inverse = [UInt8](repeating: 0, count: k * k)
        guard gf_invert_matrix(&b, &inverse, Int32(k)) == 0 else { throw .singularMatrix(sourceRows) }
        var out = [UInt8](repeating: 0, count: targetRows.count * k)
        for (t, row) in targetRows.enumerated() {
            for c in 0..<k {
                var acc: UInt8 = 0
                for j in 0..<k { acc ^= gf_mul(generator[row * k + j], inverse[j * k + c]) }
                out[t * k + c] = acc
            }
        }
        return out
    }

    private func withPointerArrays(
        _ sources: [UnsafeRawPointer], _ targets: [UnsafeMutableRawPointer],
        _ body: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>, UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>) -> Void
    ) {
        // ISA-L takes `unsigned char **` for both; it only reads through the source pointers.
        var src: [UnsafeMutablePointer<UInt8>?] = sources.map { UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: UInt8.self)) }
        var dst: [UnsafeMutablePointer<UInt8>?] = targets.map { $0.assumingMemoryBound(to: UInt8.self) }
        src.withUnsafeMutableBufferPointer { s in
            dst.withUnsafeMutableBufferPointer { d in body(s.baseAddress!, d.baseAddress!) }
        }
    }
}

/// Failures of erasure decoding.
public enum ErasureError: Error, Equatable, CustomStringConvertible {
    case tooFewShards(have: Int, need: Int)
    case singularMatrix([Int])

    public var description: String {
        switch self {
        case .tooFewShards(let have, let need):
            return "too few shards to rebuild: have \(have) distinct, need \(need)"
        case .singularMatrix(let rows):
            return "erasure decode matrix for shards \(rows) is not invertible"
        }
    }
}

/// CRC32C (Castagnoli, iSCSI polynomial) through ISA-L: the shard hosts' keyless bit-rot check.
public enum CRC32C {
    /// CRC32C of `bytes`, continuing from `initial` (0 for a fresh checksum).
    public static func checksum(_ bytes: UnsafeRawBufferPointer, initial: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return initial }
        // ISA-L's crc32_iscsi takes and returns the CRC without the final inversion; invert on both
        // sides so results match the standard CRC-32C (check value of "123456789" is 0xE3069283).
        return ~crc32_iscsi(UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: UInt8.self)),
                            Int32(bytes.count), ~initial)
    }

    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }
}
