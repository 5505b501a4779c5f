import TestSupport
import Testing
@testable import VishwaErasure

/// A deliberately naive GF(2^8) with the polynomial ISA-L uses (x^8 + x^4 + x^3 + x^2 + 1, 0x11D),
/// written independently of ISA-L so the library's tables and matrices are checked, not trusted.
enum ReferenceGF {
    static func mul(_ a: UInt8, _ b: UInt8) -> UInt8 {
        var a = UInt16(a), b = b, p: UInt16 = 0
        while b != 0 {
            if b & 1 != 0 { p ^= a }
            a <<= 1
            if a & 0x100 != 0 { a ^= 0x11D }
            b >>= 1
        }
        return UInt8(p)
    }

    static func inv(_ a: UInt8) -> UInt8 {
        precondition(a != 0)
        return (1...255).map(UInt8.init).first { mul(a, $0) == 1 }!
    }

    /// Cauchy generator as gf_gen_cauchy1_matrix documents it: identity, then 1/(i ^ j).
    static func generator(k: Int, m: Int) -> [[UInt8]] {
        (0..<(k + m)).map { i in
            (0..<k).map { j in i < k ? (i == j ? 1 : 0) : inv(UInt8(i ^ j)) }
        }
    }

    static func parity(data: [[UInt8]], k: Int, m: Int) -> [[UInt8]] {
        let g = generator(k: k, m: m)
        let length = data[0].count
        return (k..<(k + m)).map { row in
            (0..<length).map { byte in
                (0..<k).reduce(UInt8(0)) { acc, j in acc ^ mul(g[row][j], data[j][byte]) }
            }
        }
    }
}

func randomBytes(_ count: Int, using rng: inout SeededGenerator) -> [UInt8] {
    rng.bytes(count)
}

/// Encodes `data` (k pieces of equal length) with ISA-L and returns all n pieces.
func isalEncode(_ code: ReedSolomon, data: [[UInt8]]) -> [[UInt8]] {
    let length = data[0].count
    var pieces = data + Array(repeating: [UInt8](repeating: 0, count: length), count: code.m)
    // One buffer keeps every pointer valid for the whole call.
    let flat = UnsafeMutableRawPointer.allocate(byteCount: code.n * length, alignment: 64)
    defer { flat.deallocate() }
    for i in 0..<code.k { pieces[i].withUnsafeBytes { (flat + i * length).copyMemory(from: $0.baseAddress!, byteCount: length) } }
    code.encode(length: length,
                data: (0..<code.k).map { UnsafeRawPointer(flat + $0 * length) },
                parity: (code.k..<code.n).map { flat + $0 * length })
    for i in code.k..<code.n {
        pieces[i] = Array(UnsafeRawBufferPointer(start: flat + i * length, count: length))
    }
    return pieces
}

@Suite(.ownThreads) struct ReedSolomonTests {
    @Test(arguments: [(1, 0), (1, 1), (2, 1), (3, 2), (6, 4), (10, 4), (16, 16), (200, 55)])
    func generatorMatchesReferenceCauchyMatrix(k: Int, m: Int) {
        let code = ReedSolomon(k: k, m: m)
        let reference = ReferenceGF.generator(k: k, m: m)
        for row in 0..<(k + m) {
            for column in 0..<k where code.generatorEntry(row: row, column: column) != reference[row][column] {
                Issue.record("generator[\(row)][\(column)] differs from the reference")
                return
            }
        }
    }

    @Test(arguments: [(1, 1), (2, 1), (6, 4), (10, 4), (5, 9)])
    func parityMatchesReferenceArithmetic(k: Int, m: Int) {
        var rng = SeededGenerator(state: UInt64(k * 1000 + m))
        let data = (0..<k).map { _ in randomBytes(333, using: &rng) }
        let pieces = isalEncode(ReedSolomon(k: k, m: m), data: data)
        #expect(Array(pieces[k...]) == ReferenceGF.parity(data: data, k: k, m: m))
    }

    @Test(arguments: [(6, 4), (1, 3), (4, 1), (12, 6)])
    func reconstructsEveryShardFromAnyKOthers(k: Int, m: Int) throws {
        var rng = SeededGenerator(state: 7)
        let code = ReedSolomon(k: k, m: m)
        let length = 257
        let pieces = isalEncode(code, data: (0..<k).map { _ in randomBytes(length, using: &rng) })
        for _ in 0..<50 {
            let sources = Array((0..<code.n).shuffled(using: &rng).prefix(k))
            let targets = (0..<code.n).filter { !sources.contains($0) }
            let output = UnsafeMutableRawPointer.allocate(byteCount: max(targets.count, 1) * length, alignment: 64)
            defer { output.deallocate() }
            let copies = sources.map { pieces[$0] }
            try withSourcePointers(copies) { pointers in
                try code.reconstruct(length: length,
                                     sources: Array(zip(sources, pointers)).map { ($0.0, $0.1) },
                                     targets: targets.enumerated().map { ($0.element, output + $0.offset * length) })
            }
            for (t, index) in targets.enumerated() {
                #expect(Array(UnsafeRawBufferPointer(start: output + t * length, count: length)) == pieces[index])
            }
        }
    }

    @Test func refusesFewerThanKSources() {
        let code = ReedSolomon(k: 3, m: 2)
        let bytes = [UInt8](repeating: 1, count: 8)
        bytes.withUnsafeBytes { p in
            let out = UnsafeMutableRawPointer.allocate(byteCount: 8, alignment: 8)
            defer { out.deallocate() }
            #expect(throws: ErasureError.tooFewShards(have: 2, need: 3)) {
                try code.reconstruct(length: 8, sources: [(0, p.baseAddress!), (1, p.baseAddress!)], targets: [(2, out)])
            }
            #expect(throws: ErasureError.tooFewShards(have: 2, need: 3)) {
                try code.reconstruct(length: 8, sources: [(0, p.baseAddress!), (0, p.baseAddress!), (1, p.baseAddress!)],
                                     targets: [(2, out)])
            }
        }
    }

    @Test func crc32cMatchesTheStandardCheckValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([]) == 0)
        // Incremental equals one-shot.
        let text = Array("The quick brown fox jumps over the lazy dog".utf8)
        let whole = CRC32C.checksum(text)
        let first = text[0..<10].withUnsafeBytes { CRC32C.checksum($0) }
        let both = text[10...].withUnsafeBytes { CRC32C.checksum($0, initial: first) }
        #expect(whole == both)
        #expect(whole == 0x2262_0404)
    }
}

private func withSourcePointers(_ arrays: [[UInt8]], _ body: ([UnsafeRawPointer]) throws -> Void) rethrows {
    let length = arrays.first?.count ?? 0
    let flat = UnsafeMutableRawPointer.allocate(byteCount: max(arrays.count * length, 1), alignment: 64)
    defer { flat.deallocate() }
    for (i, a) in arrays.enumerated() { a.withUnsafeBytes { (flat + i * length).copyMemory(from: $0.baseAddress!, byteCount: length) } }
    try body((0..<arrays.count).map { UnsafeRawPointer(flat + $0 * length) })
}
